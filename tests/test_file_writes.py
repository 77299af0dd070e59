"""Folders made whole: in place only once complete, through a link too, and where one cannot be made
beside them."""

from __future__ import annotations

from pathlib import Path

import pytest

from siamkit import file_writes
from siamkit.file_writes import made_whole


def test_a_folder_made_whole_replaces_the_one_a_link_leads_to_and_the_link_stays(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "old.txt").write_text("old")
    (tmp_path / "link").symlink_to("real")
    with made_whole(tmp_path / "link") as staging:
        (staging / "new.txt").write_text("new")
    assert (tmp_path / "link").is_symlink() and [p.name for p in (tmp_path / "real").iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


def test_a_folder_that_fails_part_way_leaves_the_earlier_one_and_no_staging(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt), made_whole(tmp_path / "out") as staging:
        (staging / "new.txt").write_text("new")
        raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (tmp_path / "out" / "old.txt").exists()


def _parent_unwritable(monkeypatch, parent: Path) -> None:
    """As a folder this user may write in a folder it may not (or a mount point: a container's volume)."""
    monkeypatch.setattr(file_writes.os, "access", lambda path, mode: Path(path) != parent)


def test_a_folder_that_cannot_be_made_beside_is_made_inside_in_place_of_the_earlier_files(
        tmp_path, monkeypatch):
    out = tmp_path / "out"
    (out / "old_folder").mkdir(parents=True)
    (out / "model.onnx").write_text("an earlier export's")
    _parent_unwritable(monkeypatch, tmp_path)
    with made_whole(out) as staging:
        assert staging.parent == out
        (staging / "new.txt").write_text("new")
    assert [p.name for p in out.iterdir()] == ["new.txt"] and list(tmp_path.iterdir()) == [out]


def test_made_inside_and_interrupted_it_leaves_the_earlier_files(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.onnx").write_text("an earlier export's")
    _parent_unwritable(monkeypatch, tmp_path)
    with pytest.raises(KeyboardInterrupt), made_whole(out) as staging:
        (staging / "new.txt").write_text("new")
        raise KeyboardInterrupt
    assert [p.name for p in out.iterdir()] == ["model.onnx"]
