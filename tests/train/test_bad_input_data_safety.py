"""Bad input that could cost a user data or give a silently wrong answer: each is refused with
one line and exit 2 before anything is deleted, moved or written."""

from __future__ import annotations

import shutil

import pytest

from tests.train.helpers import assert_one_error_line

OUT = "{zoo}/out"
RUN_CKPT = "{zoo}/run/checkpoints/last.ckpt"
CASES = {
    "export --force over the run folder being exported": (
        ["export", "--ckpt", RUN_CKPT, "--out", "{zoo}/run", "--force"],
        "holds the checkpoint being exported"),
    "export --force over a folder of images": (
        ["export", "--ckpt", "{zoo}/tiny.ckpt", "--out", "{zoo}/photos", "--force"],
        "is not an encoder folder written by `train export`"),
    "export --force over the current folder": (
        ["export", "--ckpt", "{zoo}/tiny.ckpt", "--out", ".", "--force"], "so --force will not replace it"),
    "duplicates --against the same folder": (
        ["duplicates", "{zoo}/photos", "--against", "{zoo}/photos", "--method", "pdq", "--out", OUT],
        "overlap, so every image would match itself"),
    "duplicates --against a parent folder": (
        ["duplicates", "{zoo}/photos", "--against", "{zoo}", "--method", "pdq", "--out", OUT,
         "--action", "move", "--to", "{zoo}/../moved"], "overlap"),
}


@pytest.fixture(scope="module")
def kept(zoo):
    """What a refused command must leave as it was: the zoo's run folder and photographs."""
    run = zoo / "run" / "checkpoints"
    run.mkdir(parents=True, exist_ok=True)
    shutil.copy(zoo / "tiny.ckpt", run / "last.ckpt")
    return lambda: sorted(p.relative_to(zoo) for p in (zoo / "run").rglob("*")) + sorted(
        p.relative_to(zoo) for p in (zoo / "photos").rglob("*"))


@pytest.mark.parametrize("case", CASES)
def test_refused_before_anything_is_deleted_or_moved(case, zoo, kept, tmp_path, monkeypatch, capsys):
    before = kept()
    (tmp_path / "notes.txt").write_text("the user's own file")
    assert_one_error_line(CASES[case], zoo, tmp_path, monkeypatch, capsys)
    assert kept() == before and (tmp_path / "notes.txt").exists()
