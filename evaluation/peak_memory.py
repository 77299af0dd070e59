"""Peak resident memory of a block of code, sampled with psutil."""

from __future__ import annotations

import threading
from typing import Any

import psutil


class PeakMemory:
    """Peak growth of the process's resident memory while the block runs (sampled every 5 ms;
    covers NumPy, OpenCV and PyTorch alike, on any system psutil knows)."""

    def __enter__(self) -> "PeakMemory":
        self._process = psutil.Process()
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _rss(self) -> int:
        return self._process.memory_info().rss

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def peak_mb(self) -> float:
        return (self.peak - self.base) / 2**20
