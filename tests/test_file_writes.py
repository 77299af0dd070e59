"""Folders made whole: in place only once complete, through a link too."""

from __future__ import annotations

import pytest

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
