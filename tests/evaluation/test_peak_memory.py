"""Peak memory of a block, as the evaluation tables report it."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from siamkit.evaluation.peak_memory import PeakMemory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_block_that_holds_64_mb_peaks_at_about_64_mb():
    with PeakMemory() as memory:
        block = np.ones(64 * 2**20, np.uint8)  # written, so its pages are resident
    del block
    assert 60 <= memory.peak_mb <= 80, memory.peak_mb
