"""Bad input to `train copies`: one line, exit 2, and no pairs
table written."""

from __future__ import annotations

import pytest

from tests.helpers import assert_one_error_line

OUT = "{zoo}/out"
PHOTOS = ["copies", "--data", "{zoo}/photos", "--out", OUT]
CASES = {
    "copies: --out a folder of the user's files": (
        ["copies", "--data", "{zoo}/photos", "--out", "{zoo}/own_files"],
        "--out {zoo}/own_files is not empty: choose a new or empty"),
    "copies: --out inside the source": (["copies", "--data", "{zoo}/photos", "--out", "{zoo}/photos/copies"],
                                        "is inside {zoo}/photos, where the copies would join the images"),
    "copies: --out a file": (["copies", "--data", "{zoo}/photos", "--out", "{zoo}/file.txt"],
                             "is a file, not a folder"),
    "copies: no copies": ([*PHOTOS, "--copies", "0"], "--copies: '0' is not a whole number >= 1"),
    "copies: a million copies": ([*PHOTOS, "--copies", "1000000"],
                                 "--copies: '1000000' is more than 1000 copies of each image"),
    "copies: --kind folders": ([*PHOTOS, "--kind", "folders"], "--kind: invalid choice: 'folders'"),
    "copies: --seed -1": ([*PHOTOS, "--seed", "-1"], "--seed: '-1' is not a whole number >= 0"),
    "copies: copies of 8 px": ([*PHOTOS, "--size", "8"], "--size: '8' is not a side from 32 to 2048 px"),
    "copies: more regions than an image holds": (
        [*PHOTOS, "--split-fractions", "0", "0", "1", "--regions", "2"],
        "(20x20 px) has no room for 2 regions of 32 px or more"),
    "copies: unknown edits": ([*PHOTOS, "--edits", "wild"], "invalid choice: 'wild'"),
    "copies: too few val and test images": (PHOTOS,
                                            "{zoo}/photos has 0 val and 0 test images: a split needs two"),
    "copies: too few val and test images in the splits a run recorded, which cannot change": (
        ["copies", "--splits-of", "{zoo}/photos_splits.json", "--out", OUT],
        "--regions 6 pairs regions of each image instead; the splits themselves are those "
        "{zoo}/photos_splits.json trained with"),
    "copies: no source": (["copies", "--out", OUT], "give the training source"),
    "copies: --splits-of with --data": (["copies", "--splits-of", "{zoo}/tiny.ckpt", "--data", "{zoo}/photos",
                                         "--out", OUT], "--splits-of reads the source and split settings"),
    "copies: a split seed for a table with a split column": (
        ["copies", "--data", "{zoo}/leaky/labels.csv", "--split-seed", "3", "--out", OUT],
        "has a split column"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_and_exit_2(case, zoo, tmp_path, monkeypatch, capsys):
    assert_one_error_line(CASES[case], zoo, tmp_path, monkeypatch, capsys)
