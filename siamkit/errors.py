"""User-facing errors: each names the file, field or value at fault and the fix.

The command line prints a ``SiamkitError`` without a traceback and exits with code 2, as it does
an error of writing to a full or read-only disk, or a name the file system cannot hold
(``unwritable_disk``), and running out of memory or of files the process may open (``exhausted``).
"""

from __future__ import annotations

import errno
import resource
from pathlib import Path
from typing import Iterator

#: errno -> (what is wrong with the disk, what to do)
_UNWRITABLE = {
    errno.ENOSPC: ("no space is left on the disk", "free some space, or write to another disk"),
    errno.EDQUOT: ("the disk quota is used up", "free some space, or write to another disk"),
    errno.EROFS: ("the file system is read-only", "write to another disk"),
    errno.ENAMETOOLONG: ("the name is too long for the file system", "choose a shorter one"),
}
#: how torch says a DataLoader worker ended by SIGKILL
_KILLED_WORKER = "is killed by signal: Killed"


class SiamkitError(Exception):
    """An error the user can fix; the message says what and how."""


class ImageLoadError(SiamkitError):
    """An image file that cannot be decoded.

    Also constructible from one finished message: that is how torch re-raises an error from
    a DataLoader worker in the main process.
    """

    def __init__(self, source: str, reason: str | None = None):
        self.source = source
        self.reason = reason
        super().__init__(source if reason is None else f"cannot read image {source}: {reason}")


class ConfigError(SiamkitError):
    """A configuration value that is missing, unknown or inconsistent."""


class WeightsNotFoundError(SiamkitError):
    """Pretrained weights that cannot be had (offline, wrong tag or path)."""


def unwritable_disk(error: BaseException) -> str | None:
    """The message for ``error`` where a full or read-only disk caused it, or a name too long for
    the file system, else None."""
    for cause in _chain(error):
        if isinstance(cause, OSError) and cause.errno in _UNWRITABLE:
            wrong, fix = _UNWRITABLE[cause.errno]
            written = cause.filename2 or cause.filename  # a copy's source is filename, its target filename2
            if not written:
                where = ""
            elif cause.errno == errno.ENAMETOOLONG:
                where = f" {written}"
            else:
                where = f" in {Path(written).parent}"
            return f"cannot write{where}: {wrong} ({cause.strerror}); {fix}, then run the same command again"
    return None


def exhausted(error: BaseException) -> str | None:
    """The message for ``error`` where the process ran out of memory (a DataLoader worker killed
    with SIGKILL, as the kernel's out-of-memory killer does, included) or of files it may open, else
    None."""
    for cause in _chain(error):
        if isinstance(cause, MemoryError):
            return ("out of memory; free some, or use smaller batches or fewer workers, then run the same "
                    "command again")
        if isinstance(cause, RuntimeError) and _KILLED_WORKER in str(cause):  # torch's words
            return (f"{str(cause).strip().rstrip('.')}, most often by the kernel for want of memory: use "
                    "fewer workers or smaller batches, then run the same command again")
        if isinstance(cause, OSError) and cause.errno in (errno.EMFILE, errno.ENFILE):
            limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            return (f"too many open files ({cause.strerror}; this process may open {limit}): raise the limit "
                    "(`ulimit -n 4096`) or use fewer workers, then run the same command again")
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and its causes: torch's serialisation, for one, re-raises its writer's ``OSError``
    as a ``RuntimeError`` that says only "unexpected pos"."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__
