"""The exact stage: same bytes, same pixels, unreadable files; in one process or several."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from siamkit.retrieval import workers
from siamkit.retrieval.exact import find_exact_duplicates


@pytest.mark.parametrize("processes", [0, 2])
def test_same_bytes_same_pixels_and_unreadable(processes, photos, tmp_path, monkeypatch):
    monkeypatch.setattr(workers, "MIN_FILES", 1)  # the worker processes, on a handful of files
    Image.fromarray(photos["coffee"]).save(tmp_path / "a.png")
    shutil.copy(tmp_path / "a.png", tmp_path / "b.png")
    Image.fromarray(photos["coffee"]).save(tmp_path / "c.png", compress_level=0)
    Image.fromarray(photos["rocket"]).save(tmp_path / "d.png")
    (tmp_path / "e.jpg").write_bytes(b"not a jpeg")
    paths = [str(tmp_path / name) for name in ("a.png", "b.png", "c.png", "d.png", "e.jpg")]
    exact = find_exact_duplicates(paths, processes)
    np.testing.assert_array_equal(exact.first, [0, 0, 0, 3, 4])
    assert exact.how(0, 1) == "same bytes" and exact.how(0, 2) == "same pixels"
    assert list(exact.unreadable) == [4] and "cannot read image" in exact.unreadable[4]
    assert exact.pictures(range(5)) == {0: [0, 1, 2], 3: [3]}
