"""Which images of a folder have passed the scan, so that the next command decodes only the new
and the changed ones.

One record per folder, ``$SIAMKIT_CACHE/scans/<hash of the folder's path>.json``: for each image
that decoded, its size and modification time (nanoseconds) then. An image whose size or time has
changed since is decoded again; one that failed is never recorded, so it is reported every time.
The record holds numbers only, and one that cannot be read or written is ignored: the scan then
decodes everything, as it would without it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

from siamkit.data.cache import cache_dir
from siamkit.data.file_stamps import Stamp, file_stamp
from siamkit.file_writes import write_whole


class ScanRecord:
    def __init__(self, root: Path):
        self.root = os.path.abspath(root)
        name = hashlib.sha256(self.root.encode()).hexdigest()[:24]
        self.file = cache_dir() / "scans" / f"{name}.json"
        self.passed = self._read()

    def stamp(self, path: str) -> Stamp | None:
        """``path``'s stamp now (None when it cannot be reached)."""
        return file_stamp(os.path.join(self.root, path))

    def unchanged(self, path: str, stamp: Stamp | None) -> bool:
        """Whether ``path`` decoded before, and has not changed since."""
        return stamp is not None and self.passed.get(path) == stamp

    def add(self, passed: Iterable[tuple[str, Stamp]]) -> None:
        """Records the images that decoded, each with its stamp from before it was decoded."""
        new = dict(passed)
        if not new:
            return
        self.passed.update(new)
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            # whole or not at all, whatever other process writes it too
            write_whole(self.file, json.dumps({"root": self.root, "passed": self.passed}))
        except OSError:  # a full or read-only cache: the next scan decodes these again
            pass

    def _read(self) -> dict[str, Stamp]:
        try:
            record = json.loads(self.file.read_text())
            if record["root"] != self.root:
                return {}
            return {path: (int(size), int(time)) for path, (size, time) in record["passed"].items()}
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return {}
