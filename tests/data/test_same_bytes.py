"""Files with the same bytes (as a model's training images, or as each other), found without
reading every file."""

import os

from siamkit.data.same_bytes import PREFIX_BYTES, first_with_same_bytes, same_files


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


def test_each_file_points_at_the_first_with_its_bytes(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    contents = {"a.png": b"abc", "copy.png": b"abc", "other.png": b"abd", "again.png": b"abc"}
    long = b"x" * (PREFIX_BYTES + 10)
    contents |= {"long.png": long + b"a", "long_other.png": long + b"b", "long_copy.png": long + b"a"}
    for name, content in contents.items():
        (tmp_path / name).write_bytes(content)
    names = ("a.png", "pipe.png", "copy.png", "other.png", "missing.png", "again.png", "long.png",
             "long_other.png", "long_copy.png")  # the last three agree in their first bytes
    assert first_with_same_bytes([str(tmp_path / n) for n in names]).tolist() == [0, 1, 0, 3, 4, 0, 6, 7, 6]
