"""The ``train`` (alias ``siamkit``) command line.

``fit / validate / test / predict`` go to LightningCLI; the other commands are plain
argparse programs in their own modules, imported only when asked for (so that scoring
with the classical methods never imports torch). User errors print one message and
exit with code 2; anything else is a bug, reported in one line with exit code 1; Ctrl-C exits
with 130, SIGTERM with 143. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import io
import os
import select
import signal
import sys
import threading
from typing import Callable, Sequence

TRAINER_COMMANDS = {
    "fit": "train a model",
    "validate": "run the validation split through a model",
    "test": "run the test split through a model",
    "predict": "embed every image of the data source",
}
#: exit code of a bug in siamkit: 1, except where 1 has a meaning of its own ("leaks found")
BUG_EXIT_CODES = {"leaks": 3}
#: command -> (module, one-line help). Each module has ``main(argv) -> int``.
TOOL_COMMANDS: dict[str, tuple[str, str]] = {
    "embed": ("siamkit.cli.embed", "embed every image of a folder into an index (resumable)"),
    "search": ("siamkit.cli.search", "nearest neighbours of query images in an index"),
    "duplicates": ("siamkit.cli.duplicates",
                   "group a folder's near-duplicates, or find its copies in another (--against); "
                   "move them out, undoably"),
    "leaks": ("siamkit.cli.leaks", "near-duplicate images on two sides of train / val / test"),
    "copies": ("siamkit.cli.copies",
               "pairs of a source's val and test images with edited copies, to validate and evaluate on"),
    "evaluate": ("siamkit.cli.evaluate",
                 "score learned models and classical baselines on the same pairs, with a report"),
    "export": ("siamkit.cli.export",
               "write a checkpoint's encoder to a folder (safetensors, ONNX, sentence-transformers)"),
    "score": ("siamkit.cli.score", "how similar two images are, by each method"),
}

USAGE = """usage: train COMMAND [options]   (also installed as `siamkit`)

Train, evaluate and export Siamese / contrastive image-similarity models.

commands:
{commands}

`train COMMAND --help` describes a command. `--debug` shows tracebacks; `--version` the version.
Example: train fit --config demo_digits.yaml
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if args[0] in ("-V", "--version"):
        from siamkit import __version__

        print(f"siamkit {__version__}")
        return 0
    command, rest = args[0], args[1:]
    try:
        from siamkit.data.images import pixel_limit

        pixel_limit()  # a bad $SIAMKIT_MAX_PIXELS is refused before any work, not in an image's worker
        if command in TRAINER_COMMANDS:
            from siamkit.train.lightning_cli import run_trainer_command

            run_trainer_command(command, rest)
            return 0
        if command in TOOL_COMMANDS:
            with _sigterm_as_interruption():
                return _tool(command)(rest)
        print(f"error: unknown command {command!r}{_did_you_mean(command)}; `train --help` lists them",
              file=sys.stderr)
        return 2
    except SystemExit as exit:  # argparse and jsonargparse end --help and bad options this way
        return exit.code if isinstance(exit.code, int) else 0 if exit.code is None else 2
    except KeyboardInterrupt as interruption:
        if debug:
            raise
        terminated = isinstance(interruption, Terminated)
        print("terminated (SIGTERM)" if terminated else "interrupted", file=sys.stderr)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    except Exception as error:
        if isinstance(error, BrokenPipeError) and _reader_gone():
            return 128 + signal.SIGPIPE  # `train search ... | head`: as a shell's tools end, quietly
        if debug:
            raise
        if _is_user_error(error):
            print(f"error: {_message(error)}", file=sys.stderr)
            return 2
        from siamkit.errors import exhausted, unwritable_disk

        if limit := unwritable_disk(error) or exhausted(error):
            print(f"error: {limit}", file=sys.stderr)
            return 2
        first_line = (str(error).strip().splitlines() or [""])[0]
        print(f"error: unexpected {type(error).__name__}: {first_line} -- this is a bug in "
              "siamkit; run the same command with --debug for the traceback, and report it", file=sys.stderr)
        return BUG_EXIT_CODES.get(command, 1)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler taking the machine back, `timeout`, `kill`) stops a command as Ctrl-C
    does, so that what it wrote part-way is kept or cleared as after Ctrl-C. Python's default for
    SIGTERM ends the process at once: an export's staging folder, a demo set half built, stayed."""


@contextlib.contextmanager
def _sigterm_as_interruption():
    """For a tool command; the trainer commands have Lightning's own SIGTERM handling."""
    if threading.current_thread() is not threading.main_thread():  # only there can Python set one
        yield
        return
    command = os.getpid()

    def terminate(signum: int, frame: object) -> None:
        if os.getpid() != command:  # a worker forked from it, which SIGTERM ends as by default
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        # the signal also ends torch's DataLoader workers (the group's, or as their parent goes), and
        # torch's SIGCHLD handler would raise "worker killed" over this interruption
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        raise Terminated

    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGCHLD)
    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGCHLD, previous[1])


def _reader_gone() -> bool:
    """Whether what reads standard output has closed it (``train search ... | head``); if so,
    standard output is pointed at /dev/null, so that Python's own flush as it exits stays quiet."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        gone = any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, io.UnsupportedOperation):  # no file behind it (a test's capture)
        return False
    if gone:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return gone


def _did_you_mean(command: str) -> str:
    names = [*TRAINER_COMMANDS, *TOOL_COMMANDS]
    # a cutoff above difflib's 0.6, which offered `copies` for `nope`; so does a name's start, with
    # at most the last letter wrong (`copy`, `embedd`)
    close = [name for name in names
             if len(command) > 2 and len(os.path.commonprefix([command, name])) >= max(3, len(command) - 1)]
    close = close or difflib.get_close_matches(command, names, n=1, cutoff=0.65)
    return f" (did you mean {close[0]}?)" if close else ""


def _usage() -> str:
    rows = {**TRAINER_COMMANDS, **{name: text for name, (_, text) in TOOL_COMMANDS.items()}}
    width = max(map(len, rows))
    return USAGE.format(commands="\n".join(f"  {name:<{width}}  {text}" for name, text in rows.items()))


def _tool(command: str) -> Callable[[list[str]], int]:
    module, _ = TOOL_COMMANDS[command]
    return importlib.import_module(module).main


def _is_user_error(error: BaseException) -> bool:
    from siamkit.errors import SiamkitError

    if isinstance(error, SiamkitError):
        return True
    if "pytorch_lightning" in sys.modules:
        from lightning_fabric.utilities.exceptions import MisconfigurationException

        return isinstance(error, MisconfigurationException)
    return False


def _message(error: BaseException) -> str:
    """The error's own text; for one re-raised from a DataLoader worker, only its last line
    (the worker's traceback is noise to a user)."""
    text = str(error).strip()
    if "Original Traceback" in text:
        text = text.splitlines()[-1].split(": ", 1)[-1]
    return text


if __name__ == "__main__":
    sys.exit(main())
