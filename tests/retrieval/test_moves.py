"""Moving duplicates out and back: links move as links, and an undo checks every manifest
entry (count, folder, repeats, content) before it moves anything."""

from __future__ import annotations

import json
import os

import pytest

from siamkit.errors import SiamkitError
from siamkit.retrieval import moves


@pytest.fixture
def moved(tmp_path):
    """Three files moved from images/ to to/; returns (their old paths, the manifest)."""
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    files = [images / "a.png", images / "b.png", images / "sub" / "c.png"]
    for f in files:
        f.write_bytes(f.name.encode())
    return files, moves.move_files([str(f) for f in files], images, tmp_path / "to")


def test_a_link_moves_as_the_link_and_comes_back(tmp_path):
    images, outside = tmp_path / "images", tmp_path / "elsewhere.png"
    images.mkdir()
    (images / "p2.png").write_bytes(b"real")
    outside.write_bytes(b"outside")
    os.symlink("p2.png", images / "z_link.png")
    os.symlink(outside, images / "out_link.png")
    manifest = moves.move_files([str(images / "z_link.png"), str(images / "out_link.png")], images,
                                tmp_path / "to")
    assert (images / "p2.png").read_bytes() == b"real" and outside.read_bytes() == b"outside"
    assert (tmp_path / "to" / "z_link.png").is_symlink() and (tmp_path / "to" / "out_link.png").is_symlink()
    assert moves.undo_moves(manifest) == 2
    assert (images / "z_link.png").read_bytes() == b"real" and (images / "out_link.png").is_symlink()


def _edit(manifest, edit):
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    manifest.write_text("".join(json.dumps(line) + "\n" for line in edit(lines)))


@pytest.mark.parametrize("edit, message", [
    (lambda lines: lines[:2], "lists 1 move where its header says 3"),
    (lambda lines: [{**lines[0], "moves": 4}, *lines[1:], lines[1]], "twice"),
    (lambda lines: [*lines[:3], {**lines[3], "destination": "/etc/precious.txt"}], "outside its own folder"),
    (lambda lines: [*lines[:3], {**lines[3], "destination": "c.png"}], "outside its own folder"),
    (lambda lines: [lines[0], "not an entry", *lines[2:]], "is not a siamkit move manifest"),
])
def test_an_edited_manifest_moves_nothing_back(moved, edit, message):
    files, manifest = moved
    _edit(manifest, edit)
    with pytest.raises(SiamkitError, match=message):
        moves.undo_moves(manifest)
    assert not any(f.exists() for f in files) and manifest.exists()


def test_a_changed_file_is_not_moved_back(moved):
    files, manifest = moved
    (manifest.parent / "b.png").write_bytes(b"something else")
    with pytest.raises(SiamkitError, match="b.png is not the file that was moved"):
        moves.undo_moves(manifest)
    assert not any(f.exists() for f in files)


def test_a_move_interrupted_while_listing_leaves_no_manifest_and_moves_nothing(tmp_path, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"a")

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(moves, "_digest", interrupted)
    with pytest.raises(KeyboardInterrupt):
        moves.move_files([str(images / "a.png")], images, tmp_path / "to")
    assert (images / "a.png").exists() and not (tmp_path / "to" / moves.MANIFEST).exists()


def test_a_manifest_written_before_digests_still_undoes(moved):
    files, manifest = moved
    _edit(manifest, lambda lines: [lines[0], *({k: v for k, v in e.items() if k != "sha256"}
                                               for e in lines[1:])])
    assert moves.undo_moves(manifest) == 3 and all(f.exists() for f in files)
