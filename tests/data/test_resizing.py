"""Shrinking is by area, as a JPEG decoded at a reduction is: one photograph as PNG, as JPEG, or
as an array decoded in full reaches the model as nearly the same pixels."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage import data

from siamkit.data.image_config import ImageConfig
from siamkit.data.images import load_image
from siamkit.data.preprocess import Preprocess


def test_one_photograph_in_two_formats_reaches_the_model_alike(tmp_path):
    photograph = data.astronaut()  # 512 px
    Image.fromarray(photograph).save(tmp_path / "a.png")
    Image.fromarray(photograph).save(tmp_path / "a.jpg", quality=95)
    preprocess = Preprocess(ImageConfig(size=64))
    png, jpeg, array = preprocess.batch([tmp_path / "a.png", tmp_path / "a.jpg",
                                         load_image(tmp_path / "a.jpg")]).float()
    # interpolating without a low-pass filter: 9.3 grey levels apart on average (PNG against JPEG)
    assert (png - jpeg).abs().mean() < 1.0 and (array - jpeg).abs().mean() < 1.0


def test_fine_detail_shrinks_to_its_mean_not_to_a_sample_of_it():
    noise = np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)  # std 74
    shrunk = Preprocess(ImageConfig(size=64)).batch([noise]).float()
    assert shrunk.std() < 15  # each pixel the mean of 8 x 8: std 74 / 8
    enlarged = Preprocess(ImageConfig(size=64)).batch([noise[:32, :32]]).float()
    assert enlarged.std() > 50  # enlarging interpolates
