"""Arguments of the tool commands, checked while parsing, before any expensive work: each bad
value ends in one line naming the option and the fix, with exit code 2."""

from __future__ import annotations

import argparse
import difflib
import os
from pathlib import Path
from typing import Callable, ContextManager, get_args

from siamkit.data.scan import BadImagePolicy
from siamkit.errors import SiamkitError
from siamkit.folders import why_unwritable
from siamkit.runtimes import RUNTIMES, START_SUFFIX


class _DefaultsShown(argparse.HelpFormatter):
    """Each option's help ends with its default, where it has one its text does not already give."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text, default = action.help or "", action.default
        if default in (None, False, argparse.SUPPRESS) or "default" in text or not action.option_strings:
            return text
        value = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default {value.replace('%', '%%')})"


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (``error: train embed: argument --batch-size: ...``) and each
    option's default in its help."""

    def __init__(self, **kwargs):
        super().__init__(allow_abbrev=False, formatter_class=kwargs.pop("formatter_class", _DefaultsShown),
                         **kwargs)

    def error(self, message: str) -> None:
        hint = self._closest_option(message)
        self.exit(2, f"error: {self.prog}: {message}{hint} (see `{self.prog} --help`)\n")

    def _closest_option(self, message: str) -> str:
        """"; did you mean --methods?" for an unrecognised option close to one it takes."""
        unknown = message.partition("unrecognized arguments: ")[2].split()
        options = [word.partition("=")[0] for word in unknown if word.startswith("--")]
        close = difflib.get_close_matches(options[0], self._option_string_actions, n=1) if options else []
        return f"; did you mean {close[0]}?" if close else ""


def positive_int(text: str) -> int:
    return _bounded_int(text, 1)


def non_negative_int(text: str) -> int:
    return _bounded_int(text, 0)


#: fewer bootstrap resamples give a 95 % interval that is noise (one gives an interval of width 0)
MIN_RESAMPLES = 20


def resample_count(text: str) -> int:
    """--bootstrap: 0 (no intervals) or enough resamples for a 95 % interval."""
    value = _bounded_int(text, 0)
    if 0 < value < MIN_RESAMPLES:
        raise argparse.ArgumentTypeError(f"{text!r} resamples cannot bound a 95 % interval: give 0 (no "
                                         f"intervals) or at least {MIN_RESAMPLES} (default 200)")
    return value


def pair_count(text: str) -> int:
    """A number of pairs to sample: one match and one non-match at least."""
    return _bounded_int(text, 2)


def _bounded_int(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= {low}")
    return value


def split_fraction(text: str) -> float:
    """One of --split-fractions' three numbers (their sum is checked where the splits are made)."""
    return number_between(0.0, 1.0, "a fraction")(text)


def number_between(low: float, high: float, what: str) -> Callable[[str], float]:
    """A parser of numbers from ``low`` to ``high``, named ``what`` in its error."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} between {low:g} and {high:g}")
        return value

    return parse


def scale_list(text: str) -> tuple[float, ...]:
    """``--scales``: comma-separated multiples of an encoder's input size (``0.7071,1,1.4142``)."""
    from siamkit.errors import ConfigError
    from siamkit.models.spec import SCALE_RANGE, check_scales

    try:
        return check_scales([float(part) for part in text.split(",")], "--scales")
    except (ValueError, ConfigError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of distinct input-size "
                                         f"multiples from {SCALE_RANGE[0]:g} to {SCALE_RANGE[1]:g} "
                                         "(e.g. 0.7071,1,1.4142)") from None


def device(text: str) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``mps``, and only one that this machine has."""
    from siamkit.devices import check_device
    from siamkit.errors import ConfigError

    try:
        return check_device(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def output_folder(text: str) -> Path:
    """A folder to write into: absent (it is made) or a folder, never an existing file, and
    somewhere this process can write."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder: choose another path")
    if reason := why_unwritable(path):
        raise argparse.ArgumentTypeError(f"{text}: {reason}; choose a folder you can write to")
    return path


def check_own_files(out: Path, names: tuple[str, ...]) -> None:
    """A report folder (--out) may be new, empty, an earlier report of the same command, or a
    folder of other things that holds none of the report's names; a folder of other things that
    does (a user's metrics.json in `--out .`) would lose those files."""
    from siamkit.errors import SiamkitError
    from siamkit.file_writes import STAGING

    present = {path.name for path in out.iterdir()} - {STAGING} if out.is_dir() else set()
    overwritten = sorted(present & set(names))
    if overwritten and present - set(names):
        raise SiamkitError(f"--out {out} holds {', '.join(overwritten)} among other files, which this "
                           "command would overwrite: choose a new or empty folder")


def holding_report(out: Path) -> ContextManager[None]:
    """The report folder --out held while the command runs (``holding``): two commands writing one
    report would leave a mix of both."""
    from siamkit.folders import holding

    return holding(out, "report", f"--out {out} is being written by another command still running: wait "
                                  "for it to end, or give another --out")


def method_names(values: list[str], option: str, example: list[str]) -> list[str]:
    """The methods of comma-separated ``values`` (one or many of them), each once, in order; a
    folder or file as written from here in its plainest form (``enc/`` and ``./enc`` are ``enc``)."""
    from siamkit.errors import SiamkitError

    methods = list(dict.fromkeys(_plain_path(m.strip()) for value in values for m in value.split(",")
                                 if m.strip()))
    if not methods:
        raise SiamkitError(f"{option} {' '.join(map(repr, values))} names no method; give a comma-separated "
                           f"list (e.g. {','.join(example)})")
    return methods


def _plain_path(method: str) -> str:
    start = method.endswith(START_SUFFIX)
    location = method.removesuffix(START_SUFFIX) if start else method
    if not os.path.exists(location):
        return method
    return os.path.normpath(location) + (START_SUFFIX if start else "")


def threshold_rule(text: str) -> str:
    """``best_f1``, or ``fmr=X`` with 0 < X < 1 (the false-match rate to allow)."""
    if text == "best_f1":
        return text
    name, _, value = text.partition("=")
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if name != "fmr" or not 0 < rate < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: use best_f1, or fmr=X with 0 < X < 1 (e.g. fmr=0.01)")
    return text


#: the k of --background unless --background-k says otherwise
BACKGROUND_K = 1


def add_background_arguments(parser: argparse.ArgumentParser) -> None:
    """``--background`` and ``--background-k``: SSCD's score normalisation for embedding models
    (``check_background_k`` refuses the second without the first)."""
    parser.add_argument("--background",
                        help="folder of images of unrelated subjects: embedding models score cos(a, b) less "
                             "each image's similarity to its k-th nearest background image (SSCD's score "
                             "normalisation; helps where some images resemble everything, such as textures)")
    parser.add_argument("--background-k", type=positive_int,
                        help=f"the k of --background (default {BACKGROUND_K})")


def check_model_options_apply(args: argparse.Namespace, compares_a_model: bool, fix: str) -> None:
    """How a model embeds (--device, --runtime, --threads, --background) would pass unused where no
    model is compared: refused, as a model left out by mistake. ``fix``: how to add one."""
    settings = (("--device", args.device, "cpu"), ("--runtime", args.runtime, "auto"),
                ("--threads", args.threads, None), ("--background", getattr(args, "background", None), None))
    unused = [option for option, value, default in settings if value != default]
    if unused and not compares_a_model:
        options = " and ".join(unused)
        raise SiamkitError(f"{options} {'applies' if len(unused) == 1 else 'apply'} to models only, and no "
                           f"model is compared here: {fix}, or leave {options} out")


def check_background_k(args: argparse.Namespace) -> None:
    """--background-k alone would be ignored: a --background left out by mistake."""
    if args.background_k is not None and not args.background:
        raise SiamkitError("--background-k is the k of --background: add --background FOLDER, or leave "
                           "--background-k out")


def add_on_bad_image_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--on-bad-image", choices=get_args(BadImagePolicy), default="error",
                        help="an image that cannot be read: error (default) stops before any work and lists "
                             "them; skip leaves them out and reports which")


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--runtime`` and ``--threads`` for the commands that embed images."""
    parser.add_argument("--device", type=device, default="cpu", help="where models run (cpu, cuda, cuda:N)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto",
                        help="what computes embeddings: auto (onnxruntime when the encoder folder has a "
                             "model.onnx matching its weights and the device is cpu, else PyTorch), torch, "
                             "onnx, or int8 (model.int8.onnx from `train export --quantize int8`)")
    parser.add_argument("--threads", type=positive_int,
                        help="threads the model computes with (default: all cores)")


def load_encoder_for(args: argparse.Namespace, source: str):
    """The encoder per ``--runtime / --device / --threads``; says on stderr which runtime runs."""
    import sys

    from siamkit.models.runtime import describe, load_encoder

    encoder = load_encoder(source, args.runtime, args.device, args.threads)
    print(f"encoder {source}: {describe(encoder)}", file=sys.stderr)
    return encoder


def check_split_options_apply(args: argparse.Namespace, source: str) -> None:
    """--split-fractions and --split-seed split a source without a split column; a table's own
    column decides its splits, and the options would pass unused."""
    given = [f"--{name.replace('_', '-')}" for name in ("split_fractions", "split_seed")
             if getattr(args, name) is not None]
    if not given:
        return
    from siamkit.data.splits import has_split_column
    from siamkit.errors import ConfigError

    if has_split_column(source):
        raise ConfigError(f"{' and '.join(given)}: {source} has a split column, which decides its splits; "
                          f"leave {' and '.join(given)} out, or change the column")
