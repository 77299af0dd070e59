"""Where siamkit keeps what it makes once and reuses: ``$SIAMKIT_CACHE``, by default ``~/.cache/siamkit``."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("SIAMKIT_CACHE", Path.home() / ".cache" / "siamkit"))
