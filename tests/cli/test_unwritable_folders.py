"""Every command that writes, asked to write where nothing can be written: one line, exit 2,
before any work starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from siamkit.cli.program import main
from tests.helpers import TINY, assert_one_error_line

NOWHERE = "/proc/siamkit-out"  # a virtual file system: no folder can be made in it, not even by root
CANNOT = "/proc/siamkit-out: nothing can be written in /proc"
CASES = {
    "embed": (["embed", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--out", NOWHERE], CANNOT),
    "evaluate": (["evaluate", "--data", "demo:photos", "--methods", "histogram", "--out", NOWHERE], CANNOT),
    "export": (["export", "--ckpt", "{zoo}/tiny.ckpt", "--out", NOWHERE], CANNOT),
    "duplicates": (["duplicates", "{zoo}/photos", "--method", "pdq", "--out", NOWHERE], CANNOT),
    "duplicates, moving": (["duplicates", "{zoo}/photos", "--method", "pdq", "--out", "{zoo}/out", "--action",
                            "move", "--to", NOWHERE], f"--to {CANNOT}"),
    "leaks": (["leaks", "--data", "demo:digits", "--out", NOWHERE], CANNOT),
    "fit": (["fit", *TINY, "--trainer.default_root_dir", NOWHERE], f"--trainer.default_root_dir {CANNOT}"),
    "a folder below a file": (["embed", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--out",
                               "{zoo}/file.txt/index"],
                              "file.txt is a file; choose a folder you can write to"),
}


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("case", CASES)
def test_an_output_folder_that_cannot_be_written_is_one_line_before_any_work(case, zoo, tmp_path, monkeypatch,
                                                                             capsys):
    assert_one_error_line(CASES[case], zoo, tmp_path, monkeypatch, capsys)
    assert not Path(NOWHERE).exists()


def test_a_link_to_nothing_on_the_path_is_one_line(zoo, tmp_path, monkeypatch, capsys):
    (tmp_path / "gone").symlink_to(tmp_path / "nothing")
    out = str(tmp_path / "gone" / "index")
    case = (["embed", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--out", out],
            f"{tmp_path / 'gone'} is a link to nothing ({tmp_path / 'nothing'})")
    assert_one_error_line(case, zoo, tmp_path, monkeypatch, capsys)


def test_calibrating_an_encoder_folder_that_cannot_be_written_is_refused_before_the_evaluation(
        zoo, tmp_path, monkeypatch, capsys):
    from siamkit.cli import evaluate

    encoder = zoo / "encoder"
    read_only = f"nothing can be written in {encoder} (Read-only file system)"
    monkeypatch.setattr(evaluate, "why_unwritable", lambda folder: read_only if folder == encoder else None)
    code = main(["evaluate", "--data", "demo:photos", "--methods", f"histogram,{encoder}", "--out",
                 str(tmp_path / "report"), "--calibrate"])
    err = capsys.readouterr().err
    assert code == 2 and f"--calibrate: {read_only}" in err, err
    assert "evaluating" not in err and not (tmp_path / "report").exists()


REPORTS = {name: CASES[name][0] for name in ("evaluate", "duplicates", "leaks")}


@pytest.mark.parametrize("command", REPORTS)
def test_a_report_folder_another_command_still_writes_is_one_line(command, zoo, tmp_path, monkeypatch,
                                                                   capsys):
    from siamkit.cli.arguments import holding_report

    out = tmp_path / "report"
    args = [str(out) if arg == NOWHERE else arg for arg in REPORTS[command]]
    with holding_report(out):  # as another command still running holds it
        expected = f"--out {out} is being written by another command still running: wait for it to end"
        assert_one_error_line((args, expected), zoo, tmp_path, monkeypatch, capsys)
    assert not out.exists()


def test_moving_out_of_a_folder_that_cannot_be_written_is_refused_before_any_work(zoo, tmp_path, monkeypatch,
                                                                                  capsys):
    from siamkit.cli import duplicates

    photos = zoo / "photos"
    read_only = f"nothing can be written in {photos} (Read-only file system)"
    monkeypatch.setattr(duplicates, "why_unwritable", lambda folder: read_only if folder == photos else None)
    code = main(["duplicates", str(photos), "--method", "pdq", "--out", str(tmp_path / "report"),
                 "--action", "move", "--to", str(tmp_path / "moved")])
    err = capsys.readouterr().err
    assert code == 2 and f"--action move: {read_only}, so no file can be moved out of" in err, err
    assert not (tmp_path / "report").exists() and not (tmp_path / "moved").exists()
