"""Real photographs (scikit-image's, offline) cut small, for fast scoring tests."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    return {
        "astronaut": data.astronaut()[:160, 100:300],
        "coffee": data.coffee()[100:260, 200:420],
        "chelsea": data.chelsea()[50:200, 100:260],
        "rocket": data.rocket()[250:427, :200],
    }
