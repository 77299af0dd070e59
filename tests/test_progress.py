"""Progress in a log file is whole lines, in a terminal a redrawn bar (siamkit/progress.py)."""

import sys

from siamkit import progress
from siamkit.progress import progress_bar


def test_long_work_in_a_log_is_whole_lines_and_what_follows_starts_a_line_of_its_own(monkeypatch, capsys):
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)  # as if each step took the half-minute
    list(progress_bar(range(3), desc="embedding", unit="img", leave=False))
    print("done", file=sys.stderr)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert lines[-1] == "done" and lines[-2].startswith("embedding: 100%") and "3/3" in lines[-2]


def test_short_work_in_a_log_writes_nothing(capsys):
    with progress_bar(total=3, desc="scoring", unit="pair") as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""


def test_a_terminal_gets_the_redrawn_bar(monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    list(progress_bar(range(3), desc="embedding"))
    assert "\rembedding: 100%" in capsys.readouterr().err
