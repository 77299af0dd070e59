"""User-facing errors: each names the file, field or value at fault and the fix.

The command line prints a ``SiamkitError`` without a traceback and exits with code 2, as it does
an error of writing to a full or read-only disk, or a name the file system cannot hold
(``unwritable_disk``).
"""

from __future__ import annotations

import errno
from pathlib import Path

#: errno -> (what is wrong with the disk, what to do)
_UNWRITABLE = {
    errno.ENOSPC: ("no space is left on the disk", "free some space, or write to another disk"),
    errno.EDQUOT: ("the disk quota is used up", "free some space, or write to another disk"),
    errno.EROFS: ("the file system is read-only", "write to another disk"),
    errno.ENAMETOOLONG: ("the name is too long for the file system", "choose a shorter one"),
}


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
    the file system, else None.

    The ``OSError`` is searched for down the chain of causes: torch's serialisation, for one,
    re-raises its writer's ``OSError`` as a ``RuntimeError`` that says only "unexpected pos"."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _UNWRITABLE:
            wrong, fix = _UNWRITABLE[error.errno]
            written = error.filename2 or error.filename  # a copy's source is filename, its target filename2
            if not written:
                where = ""
            elif error.errno == errno.ENAMETOOLONG:
                where = f" {written}"
            else:
                where = f" in {Path(written).parent}"
            return f"cannot write{where}: {wrong} ({error.strerror}); {fix}, then run the same command again"
        error = error.__cause__ or error.__context__
    return None
