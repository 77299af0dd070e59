"""What every method is scored on: the evaluation pairs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from siamkit.data.splits import SplitRecord
from siamkit.errors import SiamkitError
from siamkit.evaluation.pairs import load_evaluation_data
from tests.conftest import write_image


def _table(tmp_path, rows: list[str], header: str = "a,b,label,split"):
    rng = np.random.default_rng(0)
    for name in "abcd":
        write_image(tmp_path / f"{name}.png", rng, size=8)
    (tmp_path / "pairs.csv").write_text(f"{header}\n" + "\n".join(rows) + "\n")
    return SplitRecord(str(tmp_path / "pairs.csv"), None, "auto", (0.8, 0.1, 0.1), 0)


def test_a_pair_of_an_image_with_itself_is_left_out_and_said(tmp_path, capsys):
    """Every method scores it as a match: kept, it only flatters them all."""
    rows = ["a.png,a.png,1,test", "a.png,b.png,1,test", "c.png,d.png,0,test", "b.png,./b.png,1,test",
            "c.png,c_copy.png,1,test"]
    record = _table(tmp_path, rows)
    shutil.copy(tmp_path / "c.png", tmp_path / "c_copy.png")  # the same bytes under another name
    data = load_evaluation_data(record)
    assert len(data.pairs["test"]) == 2
    assert "3 pairs of an image with itself" in capsys.readouterr().err


def test_a_copy_of_a_class_image_is_evaluated_once(tmp_path, capsys):
    """Its copy would be every method's nearest match: retrieval and class pairs would flatter all."""
    rows = ["a.png,x,test", "b.png,x,test", "c.png,y,test", "d.png,y,test", "a_copy.png,x,test"]
    record = _table(tmp_path, rows, header="path,label,split")
    shutil.copy(tmp_path / "a.png", tmp_path / "a_copy.png")
    data = load_evaluation_data(record)
    assert sorted(Path(p).name for p in data.images) == ["a.png", "b.png", "c.png", "d.png"]
    assert "1 image with the same bytes as another of it" in capsys.readouterr().err


def test_an_image_labelled_different_from_itself_is_refused(tmp_path):
    with pytest.raises(SiamkitError, match=r"the pair c.png \| c.png is an image with itself, labelled 0"):
        load_evaluation_data(_table(tmp_path, ["a.png,b.png,1,test", "c.png,c.png,0,test"]))
    with pytest.raises(SiamkitError, match=r"the pair c.png \| ./c.png is an image with itself, labelled 0"):
        load_evaluation_data(_table(tmp_path, ["a.png,b.png,1,test", "c.png,./c.png,0,test"]))
