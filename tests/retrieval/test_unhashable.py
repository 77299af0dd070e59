"""Images with too little detail to hash (flat pages, a few pixels, a one-pixel strip) hash
alike: they are listed as not compared, never grouped and never reported as leaks."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siamkit.cli.program import main
from siamkit.scoring.pdq import PDQScorer

FLAT = {"tiny_1x1.png": np.full((1, 1, 3), 90), "tiny_3x2.png": np.arange(18).reshape(2, 3, 3) * 14,
        "strip_1x5000.png": np.tile(np.arange(250), 20).reshape(1, 5000, 1).repeat(3, 2),
        "white.png": np.full((120, 90, 3), 255), "black.png": np.zeros((120, 90, 3)),
        "red.png": np.zeros((120, 90, 3)) + [255, 0, 0]}


@pytest.fixture
def folder(photo_folder) -> Path:
    """photo_folder (five photographs and a copy of p0 in more/) and six images with no detail."""
    for name, pixels in FLAT.items():
        Image.fromarray(np.asarray(pixels, np.uint8)).save(photo_folder / name)
    return photo_folder


def test_pdq_quality_says_which_images_have_too_little_detail(folder):
    scorer = PDQScorer()
    for name in FLAT:
        _, problem = scorer.checked_features(np.asarray(Image.open(folder / name).convert("RGB")))
        assert problem and "too little detail to hash" in problem, name
    assert scorer.checked_features(np.asarray(Image.open(folder / "p1.png").convert("RGB")))[1] is None


@pytest.mark.parametrize("method", ["pdq", "phash", "pdq:dihedral"])
def test_flat_images_are_listed_never_grouped(method, folder, tmp_path, capsys):
    (folder / "more" / "p0_copy.png").unlink()
    Image.open(folder / "p0.png").save(folder / "more" / "p0_copy.jpg", quality=90)  # not the same bytes
    out = tmp_path / "out"
    assert main(["duplicates", str(folder), "--method", method, "--out", str(out)]) == 0
    with open(out / "duplicates.csv", newline="") as handle:
        grouped = sorted(Path(row["file"]).name for row in csv.DictReader(handle))
    assert grouped == ["p0.png", "p0_copy.jpg"]
    printed = capsys.readouterr().out
    assert "passed over 6 (listed in duplicates.html)" in printed and "too little detail to hash" in printed
    page = (out / "duplicates.html").read_text()
    assert all(name in page for name in FLAT)


def test_flat_images_in_two_splits_are_no_leak(folder, tmp_path, capsys):
    rows = ["path,label,split"]
    for i, name in enumerate(sorted(FLAT)):
        rows.append(f"{name},{i % 2},{('train', 'test')[i % 2]}")
    for i, name in enumerate(("p1.png", "p2.png", "p3.png")):
        rows.append(f"{name},{i % 2},train")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    assert main(["leaks", "--data", str(folder / "labels.csv"), "--out", str(tmp_path / "leaks")]) == 0
    assert "compared with none: 6 images with too little detail to hash" in capsys.readouterr().err
