"""SIGTERM (`timeout`, a scheduler taking the machine back) stops a tool command as Ctrl-C does:
exit 143, one line, and what was written part-way cleared or kept as after Ctrl-C."""

import multiprocessing
import os
import signal

from siamkit.cli import program
from siamkit.cli.program import main


class DefaultEnding(Exception):
    """What SIGTERM raises in these tests where the command left Python's default in place."""


def default_ending(*args):  # stands in for Python's default, which would end pytest too
    raise DefaultEnding


def test_sigterm_mid_export_exits_143_and_leaves_no_half_written_folder(tiny_checkpoint, tmp_path,
                                                                         monkeypatch, capsys):
    """As `timeout` or a scheduler stops it: Python's default for SIGTERM would end the process with
    the staging folder left beside --out."""
    from siamkit.models import onnx_export

    def terminated_meanwhile(*args):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(onnx_export, "export_onnx", terminated_meanwhile)
    previous = signal.signal(signal.SIGTERM, default_ending)
    try:
        code = main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "e"), "--onnx"])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert (code, capsys.readouterr().err.strip()) == (143, "terminated (SIGTERM)")
    assert not list(tmp_path.iterdir())


def _ends_itself():
    os.kill(os.getpid(), signal.SIGTERM)


def test_a_worker_forked_by_the_command_ends_by_sigterm_as_by_default(monkeypatch):
    """Not with an interruption's traceback of its own: the command itself says it was stopped."""
    exit_codes = []

    def command(argv):
        worker = multiprocessing.get_context("fork").Process(target=_ends_itself)
        worker.start()
        worker.join()
        exit_codes.append(worker.exitcode)
        return 0

    monkeypatch.setattr(program, "_tool", lambda name: command)
    assert main(["score"]) == 0
    assert exit_codes == [-signal.SIGTERM]
