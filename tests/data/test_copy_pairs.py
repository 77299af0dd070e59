"""Regions for `train copies --regions`: a grid's cells, never under the smallest side it allows;
and copies made from a split of another rule."""

import pytest
from PIL import Image

from siamkit.data.copy_pairs import MIN_REGION, check_regions_fit
from siamkit.data.demo import grid_side
from siamkit.errors import ConfigError


def test_an_image_whose_grid_would_have_cells_under_the_minimum_is_refused(tmp_path):
    path = tmp_path / "small.png"
    Image.new("RGB", (102, 102)).save(path)
    # 6 cells of 32 px fit by area (3 x 3), but the grid halves the side and makes it finer by
    # a quarter at a time: 51, 38, then 28 px, the first with six cells
    assert [grid_side(102, 102, count) for count in (4, 6)] == [51, 28] and 28 < MIN_REGION
    check_regions_fit([str(path)], 4)
    with pytest.raises(ConfigError, match=r"small.png \(102x102 px\) has no room for 6 regions of 32 px"):
        check_regions_fit([str(path)], 6)


def test_no_grid_fits_more_cells_than_pixels():
    assert grid_side(3, 3, 100) == 0


def test_copies_made_when_copies_of_one_file_were_split_apart_are_made_again(tmp_path):
    """The settings match, so naming the copies' own settings would not help: the rule changed."""
    import json

    from siamkit.data.copy_pairs import MADE_FROM_FILE, PAIRS_FILE, check_made_from
    from siamkit.data.splits import SplitMismatch, SplitRecord

    (tmp_path / "photos").mkdir()
    (tmp_path / "copies").mkdir()
    (tmp_path / "copies" / PAIRS_FILE).write_text("a,b,label,split\n")
    then = {"source": str(tmp_path / "photos"), "fractions": [0.8, 0.1, 0.1], "seed": 0, "digest": "a" * 64}
    (tmp_path / "copies" / MADE_FROM_FILE).write_text(json.dumps(then))  # written before the rule
    now = SplitRecord(str(tmp_path / "photos"), digest="b" * 64)
    with pytest.raises(SplitMismatch, match="put copies of one file .* apart, as siamkit no longer does: "
                                            "make them again"):
        check_made_from(str(tmp_path / "copies" / PAIRS_FILE), now, "this run", training=True)


def test_copies_of_images_that_changed_since_say_so_not_to_take_the_same_settings(tmp_path):
    """The same fractions and seed with another assignment: the folder's images changed, which
    naming those settings would not mend."""
    import json

    from siamkit.data.copy_pairs import MADE_FROM_FILE, PAIRS_FILE, check_made_from
    from siamkit.data.splits import SplitMismatch, SplitRecord

    (tmp_path / "photos").mkdir()
    (tmp_path / "copies").mkdir()
    (tmp_path / "copies" / PAIRS_FILE).write_text("a,b,label,split\n")
    then = SplitRecord(str(tmp_path / "photos"), digest="a" * 64, counts={"train": 10, "val": 1, "test": 1})
    (tmp_path / "copies" / MADE_FROM_FILE).write_text(json.dumps(then.to_dict()))
    now = SplitRecord(str(tmp_path / "photos"), digest="b" * 64, counts={"train": 9, "val": 1, "test": 1})
    table = str(tmp_path / "copies" / PAIRS_FILE)
    with pytest.raises(SplitMismatch) as refused:
        check_made_from(table, now, "this run", training=True)
    assert (f"{tmp_path / 'photos'} changed since the copies were made (10/1/1 train/val/test then, "
            "9/1/1 train/val/test now). Make them again from it as it is") in str(refused.value)
    assert "--data.split_fractions" not in str(refused.value)
    with pytest.raises(SplitMismatch, match=r"held 10/1/1 train/val/test when the copies were made, "
                                            r"9/1/1 train/val/test when enc was trained on it. Make them "
                                            r"again with its split \(`train copies --splits-of enc`"):
        check_made_from(table, now, "enc")


@pytest.mark.parametrize("regions", [0, 2])
def test_copies_of_an_image_with_a_name_near_the_longest_a_file_system_holds_are_written(tmp_path, regions):
    import numpy as np

    from siamkit.data.copy_pairs import write_copy_pairs

    rng = np.random.default_rng(0)
    names = ["ä" * 120 + ".png", "b.png"]  # 240 bytes of name; its copies' would add 20 more
    for name in names:
        Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(tmp_path / name)
    write_copy_pairs({"test": [str(tmp_path / name) for name in names]}, tmp_path / "copies", regions=regions,
                     size=64)
    written = [path.name for path in (tmp_path / "copies" / "images" / "test").iterdir()]
    assert len(written) == 2 * (1 + 2) * max(regions, 1)  # each original (or region) with its 2 copies
    assert max(len(name.encode()) for name in written) <= 255
