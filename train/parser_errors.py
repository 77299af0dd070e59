"""jsonargparse's errors, made one line where they walk through types: its message text is read
here and nowhere else (tests/train/test_cli.py checks the texts it expects)."""

from __future__ import annotations

import difflib
import inspect
import re
import sys
from typing import Iterable

_UNION_ERROR = re.compile(r'Parser key "(?P<key>[^"]+)":\s+Does not validate against any of the Union '
                          r"subtypes\s+Subtypes: \[(?P<types>.*?)\]\n.*Given value: (?P<value>.*)$", re.S)
_PLAIN_TYPES = {"int": "a whole number", "float": "a number", "bool": "true or false", "NoneType": "null",
                "tuple": "a list", "str": "text"}
_SUBTYPE = re.compile(r"typing\.Literal\[(?P<choices>[^\]]*)\]"
                      r"|<class '(?P<type>" + "|".join(_PLAIN_TYPES) + ")'>"
                      r"|(?P<list>list)\[[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*\]")  # list[X], X one level deep


_TYPE_ERROR = re.compile(r'Parser key "(?P<key>[^"]+)":\s+Expected a <class \'(?P<type>'
                         + "|".join(_PLAIN_TYPES) + r")'>\. Got value: (?P<value>.*)$", re.S)


_TUPLE_ERROR = re.compile(r'Parser key "(?P<key>[^"]+)":\s+Expected a tuple with (?P<count>\d+) elements\. '
                          r"Got value: (?P<value>.*)$", re.S)


_LITERAL_ERROR = re.compile(r'Parser key "(?P<key>[^"]+)":\s+Expected a typing\.Literal'
                            r"\[(?P<choices>[^\]]*)\]\. Got value: (?P<value>.*)$", re.S)


_UNKNOWN_OPTION = re.compile(r"Option '(?P<option>[^']+)' is not accepted")
_CLASS_PATH = re.compile(r"class_path\s*=?\s*'(?P<path>[\w.]+)'")
_KEY = re.compile(r'Parser key "(?P<key>[^"]+)"')
_UNKNOWN_KEY = re.compile(r"^unrecognized arguments: --(?P<key>[\w.]+)"
                          r"|does not accept option '(?P<option>[\w.]+)'")
_NOT_A_SUBCLASS = re.compile(r"Import path (?:(?P<path>\S+) )?does not correspond to a subclass of "
                             r"(?P<base>\w+)")
_GIVEN = re.compile(r"Expected a path but (?P<value>\S+)|Given value: (?P<given>.+)$", re.M)
_NOT_A_CLASS = re.compile(r"Expected a dot import path string: (?P<value>.+)$", re.M)
_NOT_ANY_CLASS = re.compile(r"Not a valid subclass of (?P<base>\w+)\. Got value: (?P<path>None)$"
                            r"|Callable\[\[[^\]]*\], (?:\w+\.)*(?P<returned>\w+)\] expects a function or a "
                            r"callable class: Expected an import path or a subclass spec, but got None", re.M)
#: a class each part of a model may name, for the messages about a value that names none
_EXAMPLE_CLASSES = {"model.optimizer": "torch.optim.AdamW", "model.backbone": "siamkit.models.TimmBackbone",
                    "model.head": "siamkit.models.ProjectionHead", "model.loss": "siamkit.models.InfoNCELoss"}
_NO_SUCH_CLASS = re.compile(r"Problem with given class_path '(?P<path>[\w.]+)':\s+"
                            r"(?:module '(?P<module>[\w.]+)' has no attribute '(?P<name>\w+)'"
                            r"|No module named '(?P<missing>[\w.]+)')")
_REQUIRED = re.compile(r"(?:Problem with given class_path '(?P<path>[\w.]+)':\s+)?"
                       r"the following arguments are required: (?P<names>.+)$", re.M)
#: where the settings people look for under a short name are (--lr, --model.lr, --epochs ...)
_SHORT_NAMES = {"lr": "--model.optimizer.lr", "learning_rate": "--model.optimizer.lr",
                "weight_decay": "--model.optimizer.weight_decay", "epochs": "--trainer.max_epochs",
                "steps": "--trainer.max_steps", "batch_size": "--data.batch_size"}
#: a callable type's arguments, which the caller passes (an optimizer's params, a head's input size)
_CALLABLE_ARGUMENTS = re.compile(r"Callable\[\[(?P<arguments>[^\]]*)\]")


def brief_error(message: str, known_keys: Iterable[str] = ()) -> str:
    """One line for jsonargparse's errors that take two to twenty: a value of the wrong plain
    type (``data.split_fractions [nan, 0, 0]``), of the wrong length (``data.crop_scale [0.5]``),
    outside a Literal's choices (``data.kind foo``), or that none of a union's plain types and
    lists accepts (``trainer.precision``, ``data.augment``); an option a class does not take
    (``model.loss.init_args.temprature``, with the options it does take); a value that names no
    class, or a class of another kind (``model.backbone resnet18``); a class or a command without
    what it needs. A key that none of ``known_keys`` is gets the closest of them. A union with any
    other type (a class, a path ...), or any other message, is left whole."""
    if required := _REQUIRED.search(message):
        return _missing(required, _KEY.search(message))
    if unknown := _UNKNOWN_OPTION.search(message):
        return _unknown_class_option(message, unknown["option"])
    if (absent := _NO_SUCH_CLASS.search(message)) and (key := _KEY.search(message)):
        return _no_such_class(key["key"], absent)
    wrong = _NOT_A_SUBCLASS.search(message) or _NOT_ANY_CLASS.search(message) or _NOT_A_CLASS.search(message)
    if wrong and (key := _KEY.search(message)):
        return _not_a_class(key["key"], wrong, _GIVEN.search(message))
    if key := _UNKNOWN_KEY.search(message):
        key = key["key"] or key["option"]
        if where := _SHORT_NAMES.get(key.rpartition(".")[2]):
            return f"{message} ({where} sets that)"
        return message + _did_you_mean(key, known_keys)
    plain = _TYPE_ERROR.search(message)
    if plain:
        value = plain["value"].strip()
        quote = (" (YAML reads on, off, yes and no unquoted as true or false: put the word in quotes)"
                 if plain["type"] == "str" and value in ("True", "False") else "")
        return f"{plain['key']}: {value!r} is not {_PLAIN_TYPES[plain['type']]}{quote}"
    pair = _TUPLE_ERROR.search(message)
    if pair:
        return f"{pair['key']}: {pair['value'].strip()!r} is not a list of {pair['count']} values"
    literal = _LITERAL_ERROR.search(message)
    if literal:
        return f"{literal['key']}: {literal['value'].strip()!r} is not one of {literal['choices']}"
    match = _UNION_ERROR.search(message)
    if not match or _SUBTYPE.sub("", match["types"]).strip(", "):
        return message
    subtypes = list(_SUBTYPE.finditer(match["types"]))
    choices = ", ".join(subtype["choices"] for subtype in subtypes if subtype["choices"])
    wanted = [*([f"one of {choices}"] if choices else []),
              *(["a list"] if any(subtype["list"] for subtype in subtypes) else []),
              *(_PLAIN_TYPES[subtype["type"]] for subtype in subtypes if subtype["type"])]
    return f"{match['key']}: {match['value'].strip()!r} is not {' or '.join(wanted)}"


_NOT_MADE = re.compile(r"Does not validate against any of the Union subtypes\s+"
                       r"Subtypes: \[(?P<types>.*?)\]\s*\nErrors:\n"
                       r"\s*- (?P<first>.+?)(?=\n\s*- |\nGiven value|\Z)", re.S)
_KIND = re.compile(r"([A-Z]\w*)(?:'>|\])")


def not_made(message: str) -> str | None:
    """One line for a class of the config that could not be made, as its instance was asked for: a
    logger whose package is not installed (``--trainer.logger MLFlowLogger``), a callback that
    refuses a value. The kind of class the option takes, and the first of the reasons; None for
    another message."""
    match = _NOT_MADE.search(message)
    if not match:
        return None
    kind = _KIND.search(match["types"])
    reason = re.sub(r"^Problem with given class_path '([\w.]+)':", r"\1:", " ".join(match["first"].split()))
    return f"the {kind[1] if kind else 'class'} given cannot be made: {reason}"


def _unknown_class_option(message: str, option: str) -> str:
    key, path = _KEY.search(message), _CLASS_PATH.search(message)
    if not (key and path):
        return message
    module, _, name = path["path"].rpartition(".")
    cls = getattr(sys.modules.get(module), name, None)  # imported already: jsonargparse resolved it
    try:
        parameters = inspect.signature(cls).parameters.values() if cls is not None else []
    except (TypeError, ValueError):  # a class without a signature Python can read
        parameters = []
    options = [parameter.name for parameter in parameters
               if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)]
    if callable_type := _CALLABLE_ARGUMENTS.search(message):
        options = options[len(callable_type["arguments"].split(",")):]
    listed = f"; its options: {', '.join(options)}" if options else ""
    return f"{key['key']}: {name} has no option {option!r}{_did_you_mean(option, options)}{listed}"


def _missing(required: re.Match, key: re.Match | None) -> str:
    if required["path"] and key:
        name = required["path"].rpartition(".")[2]
        return f"{key['key']}: {name} needs {required['names']} (in its init_args)"
    if not required["names"].startswith(("fit.", "validate.", "test.", "predict.")):
        return required.string
    from siamkit.train.config_files import bundled_configs

    names = ", ".join(name.partition(".")[2] for name in required["names"].split(", "))
    return (f"no {names}: give a config with --config FILE, or a bundled one by name "
            f"({', '.join(bundled_configs())})")


def _example(key: str) -> str:
    return f", such as {_EXAMPLE_CLASSES[key]}" if key in _EXAMPLE_CLASSES else ""


def _no_such_class(key: str, absent: re.Match) -> str:
    """A class_path whose module or class does not exist, with the closest class its module has."""
    if absent["missing"]:
        return (f"{key}: {absent['path']}: there is no module {absent['missing']}; give the class_path of "
                f"an installed class{_example(key)}")
    module = sys.modules.get(absent["module"])  # imported already: jsonargparse looked in it
    classes = [name for name in getattr(module, "__all__", dir(module)) if name[:1].isupper()]
    return f"{key}: {absent['module']} has no class {absent['name']}{_did_you_mean(absent['name'], classes)}"


def _not_a_class(key: str, wrong: re.Match, given: re.Match | None) -> str:
    if "base" in wrong.groupdict():
        path = wrong["path"] or (given and (given["value"] or given["given"])) or "the value"
        path = "null" if path == "None" else path  # a part the model cannot do without
        kind = wrong["base"] or wrong["returned"]  # an optimizer is a callable that returns one
        article = "an" if kind[0] in "AEIOU" else "a"
        return f"{key}: {path} is not {article} {kind}: give the class_path of one{_example(key)}"
    return (f"{key}: {wrong['value'].strip()!r} names no class: give a class_path{_example(key)}, and its "
            "init_args")


def _did_you_mean(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, [k for k in known if not k.endswith(".help")], n=1)
    return f" (did you mean {close[0]}?)" if close else ""
