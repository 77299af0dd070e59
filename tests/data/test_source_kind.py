"""A source's kind from its folder's top level or its table's header alone, as reading it in full
finds it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from siamkit.data.source_kind import source_kind
from siamkit.data.sources import ClassSet, ImageSet, PairSet, read_source
from siamkit.errors import SiamkitError
from tests.conftest import write_image

READ_AS = {PairSet: "pairs", ClassSet: "classes", ImageSet: "images"}
ROWS = {"pairs": {"a": ["x.png", "y.png"], "b": ["y.png", "z.png"], "label": [1, 0]},
        "classes": {"path": ["x.png", "y.png"], "label": ["cat", "dog"]},
        "images": {"path": ["x.png", "y.png"]}}


def _table(folder, kind, suffix):
    table, path = pd.DataFrame(ROWS[kind]), folder / f"{kind}{suffix}"
    if suffix == ".csv":
        table.to_csv(path, index=False, sep=";" if kind == "classes" else ",")  # a spreadsheet's too
    elif suffix == ".jsonl":
        table.to_json(path, orient="records", lines=True)
    else:
        table.to_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("kind", ROWS)
def test_a_tables_kind_is_read_from_its_header(kind, suffix, tmp_path):
    path = _table(tmp_path, kind, suffix)
    assert source_kind(path) == kind == READ_AS[type(read_source(path))]


def test_a_folders_kind_is_read_from_its_top_level(tmp_path):
    for name in ("images/a.png", "images/.thumbnails/b.png", "classes/cat/c.png", "classes/dog/d.png"):
        write_image(tmp_path / name, np.random.default_rng(0))
    for kind in ("images", "classes"):
        assert source_kind(tmp_path / kind) == kind == READ_AS[type(read_source(tmp_path / kind))]


def test_what_reading_refuses_is_left_to_reading(tmp_path):
    write_image(tmp_path / "one.png", np.random.default_rng(0))
    assert source_kind(tmp_path / "one.png") == "auto"
    other_names = tmp_path / "pairs.csv"  # not unlabelled images: reading names the columns it needs
    pd.DataFrame({"img1": ["x.png"], "img2": ["y.png"], "same": [1]}).to_csv(other_names, index=False)
    assert source_kind(other_names) == "auto"
    with pytest.raises(SiamkitError, match=r"missing column \['path'\].*found \['img1', 'img2', 'same'\]\. "
                                           "Pairs need a, b, label"):
        read_source(other_names)
