"""Per-file work (hashing, decoding) spread over worker processes, with a progress bar."""

from __future__ import annotations

import multiprocessing
import signal
from typing import Callable, Sequence, TypeVar

from siamkit.progress import progress_bar

T = TypeVar("T")
#: below this many files, starting processes costs more than it saves
MIN_FILES = 256


def map_files(function: Callable[[str], T], files: Sequence[str], workers: int, what: str) -> list[T]:
    """``[function(f) for f in files]``, in ``workers`` forked processes from ``MIN_FILES`` on.
    ``function`` must be picklable (a module-level function, or a ``functools.partial`` of one)."""
    bar = {"total": len(files), "desc": what, "unit": "img", "leave": False, "disable": None}
    if workers < 2 or len(files) < MIN_FILES:
        return list(progress_bar(map(function, files), **bar))
    with multiprocessing.get_context("fork").Pool(workers, initializer=_ends_on_sigterm) as pool:
        return list(progress_bar(pool.imap(function, files, chunksize=32), **bar))


def _ends_on_sigterm() -> None:
    """A pool's worker ends on SIGTERM, which is how the pool stops it as it closes: a SIGTERM
    handler of the parent's, forked with it, that only takes note (Lightning's, set while a fit
    runs; any a program embedding siamkit sets) would leave the worker waiting for work, and the
    pool's close waiting for the worker, for ever."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
