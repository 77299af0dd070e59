"""Random regions of unlabelled images know where they were cut from."""

import numpy as np
import pytest
import torch
from PIL import Image

from siamkit.data.datasets import ImageReader, Instances, TwoViewDataset
from siamkit.data.sources import ImageSet


def test_a_region_says_where_in_its_image_it_was_cut(tmp_path):
    """On ramps (red rises with x, green with y), a region's mean colour is its box's centre."""
    height, width = 300, 400
    ramp = np.zeros((height, width, 3), np.uint8)
    ramp[..., 0] = np.linspace(0, 255, width)[None, :]
    ramp[..., 1] = np.linspace(0, 255, height)[:, None]
    for name in ("first.png", "second.png"):
        Image.fromarray(ramp).save(tmp_path / name)
    images = ImageSet(tmp_path, np.array(["first.png", "second.png"]), np.array(["train", "train"]))
    instances = Instances(images, ImageReader(tmp_path), per_image=6, size=32)
    dataset = TwoViewDataset(instances, lambda image: torch.from_numpy(image))

    for k in range(len(dataset)):
        item = dataset[k]
        x0, y0, x1, y1 = item["box"].tolist()
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        assert item["a"][..., 0].float().mean().item() == pytest.approx(255 * (x0 + x1) / 2, abs=3)
        assert item["a"][..., 1].float().mean().item() == pytest.approx(255 * (y0 + y1) / 2, abs=3)
        assert item["image_index"].item() == k // 6


def test_whole_images_are_their_own_box(tmp_path):
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "a.png")
    instances = Instances(ImageSet(tmp_path, np.array(["a.png"]), np.array(["train"])), ImageReader(tmp_path))
    assert instances.region(0)[1].tolist() == [0, 0, 1, 1]
