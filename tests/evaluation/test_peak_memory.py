"""Peak memory of a block, as the evaluation tables report it."""

from __future__ import annotations

import subprocess
import sys


def test_a_block_that_holds_64_mb_peaks_at_about_64_mb():
    """In a fresh process: in a long-lived one, the allocator may hand back pages that are
    resident already, and the block then grows nothing."""
    code = ("import numpy as np\n"
            "from siamkit.evaluation.peak_memory import PeakMemory\n"
            "with PeakMemory() as memory:\n"
            "    block = np.ones(64 * 2**20, np.uint8)  # written, so its pages are resident\n"
            "print(memory.peak_mb)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert 60 <= float(result.stdout) <= 80, result.stdout
