"""Regions for `train copies --regions`: a grid's cells, never under the smallest side it allows."""

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
