"""jsonargparse's errors, made one line where they walk through types: its message text is read
here and nowhere else (tests/train/test_cli.py checks the texts it expects)."""

from __future__ import annotations

import re

_UNION_ERROR = re.compile(r'Parser key "(?P<key>[^"]+)":\s+Does not validate against any of the Union '
                          r"subtypes\s+Subtypes: \[(?P<types>.*?)\]\n.*Given value: (?P<value>.*)$", re.S)
_PLAIN_TYPES = {"int": "a whole number", "float": "a number", "bool": "true or false", "NoneType": "null"}
_SUBTYPE = re.compile(r"typing\.Literal\[(?P<choices>[^\]]*)\]"
                      r"|<class '(?P<type>" + "|".join(_PLAIN_TYPES) + ")'>")


_TYPE_ERROR = re.compile(r'Parser key "(?P<key>[^"]+)":\s+Expected a <class \'(?P<type>'
                         + "|".join(_PLAIN_TYPES) + r")'>\. Got value: (?P<value>.*)$", re.S)


_TUPLE_ERROR = re.compile(r'Parser key "(?P<key>[^"]+)":\s+Expected a tuple with (?P<count>\d+) elements\. '
                          r"Got value: (?P<value>.*)$", re.S)


_LITERAL_ERROR = re.compile(r'Parser key "(?P<key>[^"]+)":\s+Expected a typing\.Literal'
                            r"\[(?P<choices>[^\]]*)\]\. Got value: (?P<value>.*)$", re.S)


def brief_error(message: str) -> str:
    """jsonargparse's error for a value of the wrong plain type (``data.split_fractions [nan, 0,
    0]``), of the wrong length (``data.crop_scale [0.5]``), outside a Literal's choices
    (``data.kind foo``), or that none of a union's types accepts (``trainer.precision``,
    ``trainer.max_epochs``), takes two to a dozen lines; one line says it. A union with any
    other type (a class, a path ...), or any other message, is left whole."""
    plain = _TYPE_ERROR.search(message)
    if plain:
        return f"{plain['key']}: {plain['value'].strip()!r} is not {_PLAIN_TYPES[plain['type']]}"
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
              *(_PLAIN_TYPES[subtype["type"]] for subtype in subtypes if subtype["type"])]
    return f"{match['key']}: {match['value'].strip()!r} is not {' or '.join(wanted)}"
