import cv2
import numpy as np
import pytest
from albumentations.augmentations.pixel import functional as F
from skimage import data

from siamkit.data.augmentations import ColorTwist, color_twist_matrix
from siamkit.data.transforms import build_augmentations
from siamkit.errors import ConfigError

PHOTO = cv2.resize(data.astronaut(), (64, 64), interpolation=cv2.INTER_AREA)


def _twist(brightness=1.0, contrast=1.0, saturation=1.0, hue=0.0) -> np.ndarray:
    return cv2.transform(PHOTO, color_twist_matrix(PHOTO, brightness, contrast, saturation, hue)).astype(int)


def test_neutral_factors_leave_the_image_as_it_is():
    assert np.array_equal(_twist(), PHOTO)


@pytest.mark.parametrize("step, factors", [
    (F.adjust_brightness_torchvision, dict(brightness=1.3)),
    (F.adjust_contrast_torchvision, dict(contrast=0.7)),
    (F.adjust_saturation_torchvision, dict(saturation=1.3)),
])
def test_each_linear_step_matches_albumentations_to_rounding(step, factors):
    expected = step(PHOTO, *factors.values()).astype(int)
    assert np.abs(_twist(**factors) - expected).max() <= 1


def test_hue_turns_colours_but_keeps_each_pixels_gray_level():
    turned = _twist(hue=0.1).astype(np.uint8)
    gray = cv2.cvtColor(PHOTO, cv2.COLOR_RGB2GRAY).astype(int)
    assert np.abs(turned.astype(int) - PHOTO).mean() > 5
    assert np.abs(cv2.cvtColor(turned,
                               cv2.COLOR_RGB2GRAY).astype(int) - gray).max() <= 3  # rounding and clipping


def test_random_factors_stay_in_their_ranges():
    twist = ColorTwist(brightness=0.3, contrast=0.2, saturation=0.1, hue=0.05, p=1.0)
    twist.set_random_seed(0)
    for _ in range(50):
        params = twist.get_params()
        assert 0.7 <= params["brightness"] <= 1.3 and 0.8 <= params["contrast"] <= 1.2
        assert 0.9 <= params["saturation"] <= 1.1 and -0.05 <= params["hue"] <= 0.05


def test_bad_arguments_are_a_config_error():
    with pytest.raises(ConfigError, match="ColorTwist: bad arguments"):
        build_augmentations([{"ColorTwist": {"hue": 0.7}}], 16)


def test_importing_the_augmentations_asks_the_network_nothing():
    """albumentations checks for a newer version of itself on import unless told not to."""
    import os
    import subprocess
    import sys

    code = ("import sys\n"
            "events = []\n"
            "sys.addaudithook(lambda event, args: events.append(event) if event.startswith("
            "('socket.', 'urllib.')) else None)\n"
            "import siamkit.data.augmentations\n"
            "print(sorted(set(events)))\n")
    env = {k: v for k, v in os.environ.items() if k != "NO_ALBUMENTATIONS_UPDATE"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout
