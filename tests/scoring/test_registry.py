from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siamkit.errors import ConfigError, SiamkitError
from siamkit.scoring.registry import available, get_scorer


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"valid: histogram, histogram:seed, ssim.*did you mean histogram"):
        get_scorer("histogrm")


def test_a_missing_encoder_is_reported_as_missing(tmp_path: Path):
    for location in (tmp_path / "encoders" / "digits", tmp_path / "last.ckpt"):
        with pytest.raises(SiamkitError, match=f"encoder {location} does not exist"):
            get_scorer(str(location))


def test_unknown_preset_and_option():
    with pytest.raises(ConfigError, match="no preset 'fast'; its presets: seed"):
        get_scorer("ssim:fast")
    with pytest.raises(ConfigError, match="no option.*window"):
        get_scorer("ssim", window=7)
    with pytest.raises(ConfigError, match="phash has no preset 'x'; it has none"):
        get_scorer("phash:x")


@pytest.mark.parametrize("method", ["", "  "])
def test_an_empty_method_name_is_refused_not_read_as_the_current_folder(method):
    with pytest.raises(ConfigError, match="an empty scoring method name; valid: histogram"):
        get_scorer(method)


def test_inputs_as_paths_arrays_and_pil_give_the_same_score(tmp_path: Path, photos):
    a, b = photos["astronaut"], photos["rocket"]
    Image.fromarray(a).save(tmp_path / "a.png")
    for method in available():
        scorer = get_scorer(method)
        expected = scorer.score(a, b)
        assert scorer.score(tmp_path / "a.png", Image.fromarray(b)) == pytest.approx(expected), method


def test_score_pairs_featurises_each_image_once(photos, monkeypatch):
    scorer = get_scorer("phash")
    calls = []
    original = type(scorer).features
    monkeypatch.setattr(type(scorer), "features", lambda self,
                        image: calls.append(1) or original(self, image))
    a, b, c = photos["astronaut"], photos["coffee"], photos["rocket"]
    scores = scorer.score_pairs([(a, b), (a, c), (b, c), (a, a)])
    assert len(calls) == 3 and scores.shape == (4,) and scores[3] == 1.0


def test_classical_methods_never_import_torch(tmp_path: Path, photos):
    Image.fromarray(photos["astronaut"]).save(tmp_path / "a.png")
    code = (
        "import sys; from siamkit import get_scorer; from siamkit.scoring import available\n"
        f"[get_scorer(m).score(r'{tmp_path / 'a.png'}', r'{tmp_path / 'a.png'}') for m in available()]\n"
        "from siamkit.cli.program import main; main(['score', "
        f"r'{tmp_path / 'a.png'}', r'{tmp_path / 'a.png'}'])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr  # the child's traceback, not only its exit code


def test_every_method_handles_an_image_pair_of_different_sizes_and_modes():
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (80, 120, 3), dtype=np.uint8)
    gray = Image.fromarray(rng.integers(0, 256, (33, 21), dtype=np.uint8), "L")
    for method in available():
        scorer = get_scorer(method)
        across = scorer.score(big, gray)
        assert np.isfinite(across) and scorer.score(big, big) >= across - 1e-6, method  # itself is closest


@pytest.mark.parametrize("shape", [(1, 1), (1, 700), (700, 1), (1, 3000), (2, 5000)])
def test_every_method_scores_one_pixel_thin_and_very_long_images(shape):
    rng = np.random.default_rng(0)
    thin, photo = rng.integers(0, 256, (*shape, 3), dtype=np.uint8), rng.integers(0, 256, (50, 60, 3),
                                                                                  dtype=np.uint8)
    for method in available():
        scorer = get_scorer(method)
        across = scorer.score(thin, photo)
        # 1e-6: float32 rounding; ssim:seed scores a one-pixel image about 1 against any photograph
        # of its mean brightness (the article's way: the second image shrunk to the first's size)
        assert np.isfinite(across) and scorer.score(photo, photo) >= across - 1e-6, method


def test_a_clip_score_without_pretrained_weights_is_refused():
    """An untrained image tower would score pairs as noise, under CLIP's name."""
    with pytest.raises(ConfigError, match="open_clip:ViT-B-32 names no pretrained weights.*openai"):
        get_scorer("open_clip:ViT-B-32")
    for method in ("open_clip:", "open_clip:ViT-B-3"):  # no model to list tags of
        with pytest.raises(ConfigError, match="unknown open_clip model .*Close matches"):
            get_scorer(method)


def test_the_help_names_every_classical_method_and_only_presets_that_exist():
    import re

    from siamkit.scoring.registry import DEFAULT_METHODS, METHOD_FORMS

    assert all(name in METHOD_FORMS for name in DEFAULT_METHODS)
    presets = re.findall(r"\b(?:%s):\w+" % "|".join(DEFAULT_METHODS), METHOD_FORMS)
    assert len(presets) == 3
    for preset in presets:
        get_scorer(preset)


def test_what_is_no_method_name_or_no_image_is_said_to_be_so(photos):
    """None had raised AttributeError ('NoneType' object has no attribute 'strip' / 'mode')."""
    with pytest.raises(TypeError, match="a scoring method is named by a string"):
        get_scorer(None)
    with pytest.raises(TypeError, match="a PIL image, an array or a torch tensor, not NoneType"):
        get_scorer("histogram").score(next(iter(photos.values())), None)


def test_score_matrix_takes_a_batch_of_images_and_refuses_one_image(photos):
    import torch

    scorer = get_scorer("histogram")
    images = np.stack([photos["astronaut"][:40, :40], photos["coffee"][:40, :40]])  # (N, H, W, C)
    expected = scorer.score_matrix(list(images))
    np.testing.assert_array_equal(scorer.score_matrix(images), expected)
    np.testing.assert_array_equal(scorer.score_matrix(torch.from_numpy(images).permute(0, 3, 1, 2)), expected)
    with pytest.raises(ValueError, match=r"score_matrix takes a sequence of images; got one array of shape "
                                         r"\(40, 40, 3\)"):
        scorer.score_matrix(images[0])  # was a 40 x 40 matrix of its rows, each read as an image
    with pytest.raises(ValueError, match=r"score_matrix takes a sequence of images; got one, a.jpg: pass "):
        scorer.score_matrix("a.jpg")  # was a 5 x 5 matrix of its characters, each read as a file


@pytest.mark.parametrize("pairs, item", [(("a.jpg", "b.jpg"), "'a.jpg'"), ([("a.jpg",)], "\"('a.jpg',)\"")])
def test_score_pairs_refuses_one_pair_or_a_pair_of_one_in_a_line_that_says_how(pairs, item):
    """Was Python's "too many values to unpack (expected 2)" (the characters of a.jpg)."""
    message = f"score_pairs takes a sequence of (a, b) pairs; item 0 is {item}: pass [(a, b), ...], or"
    with pytest.raises(ValueError, match=re.escape(message)):
        get_scorer("histogram").score_pairs(pairs)
