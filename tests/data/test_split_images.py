"""Files with the same bytes as a model's training images, found without reading every file."""

import os

from siamkit.data.split_images import same_files


def test_only_regular_files_of_one_size_are_read(tmp_path):
    """A named pipe beside an empty image would block a read; files of other sizes need none."""
    (tmp_path / "empty.png").write_bytes(b"")
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "a.png").write_bytes(b"abc")
    (tmp_path / "copy.png").write_bytes(b"abc")
    (tmp_path / "other.png").write_bytes(b"abd")
    found = same_files([str(tmp_path / n) for n in ("pipe.png", "copy.png", "other.png", "missing.png")],
                       [str(tmp_path / n) for n in ("empty.png", "a.png")])
    assert found == [(str(tmp_path / "copy.png"), str(tmp_path / "a.png"))]
