"""Peak resident memory of a block of code, sampled from /proc."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any


class PeakMemory:
    """Peak growth of the process's resident memory while the block runs (sampled every 5 ms
    from /proc; covers NumPy, OpenCV and PyTorch alike). 0 where /proc is missing."""

    def __enter__(self) -> "PeakMemory":
        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def peak_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def _rss() -> int:
    try:  # statm counts pages, whose size is the system's (4 KiB on x86, often 16 or 64 KiB on Arm)
        return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE_SIZE
    except OSError:
        return 0


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096  # no /proc without it
