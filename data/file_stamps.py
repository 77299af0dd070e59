"""A file's stamp: its size and time of last change, as rsync compares files. What an index
remembers of each image it holds or passed over, so that an image edited or replaced in place
(or a broken one fixed) is embedded again by the next `train embed` or `train duplicates` into
that index; and what the scan record (``scan_record``) remembers of each image that decoded. A
stamp is taken before the file is read: a file that changes while it is read keeps the older
stamp and is read again next time."""

from __future__ import annotations

import os

#: (size in bytes, time of last change in nanoseconds)
Stamp = tuple[int, int]


def file_stamp(path: str) -> Stamp | None:
    """None for a file that cannot be reached (reading it will say why)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def stamp_from(value: object) -> Stamp | None:
    """A stamp as JSON holds it (``[size, nanoseconds]``); None for anything else: a record written
    before siamkit kept stamps, or a damaged one."""
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(part, int) and not isinstance(part, bool) for part in value)):
        return value[0], value[1]
    return None
