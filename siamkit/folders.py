"""Whether a command can write where it was asked to, checked before any work starts; and that
no other command writes there at the same time."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from siamkit.data.cache import cache_dir
from siamkit.errors import SiamkitError


def why_unwritable(folder: Path) -> str | None:
    """None where ``folder`` (existing or to be made) can be written, else why not: a link to
    nothing on its path, its nearest existing ancestor a file, or a probe folder that cannot be
    made there (permissions, a read-only file system, a virtual one like /proc). The probe is
    removed at once."""
    ancestor = folder.absolute()
    while not ancestor.exists():
        if ancestor.is_symlink():
            return f"{ancestor} is a link to nothing ({ancestor.readlink()})"
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is a file"
    try:
        tempfile.TemporaryDirectory(dir=ancestor, prefix=".siamkit-probe-").cleanup()
    except OSError as error:
        return f"nothing can be written in {ancestor} ({error.strerror})"
    return None


def hold_path(path: Path, kind: str, refusal: str) -> int | None:
    """Holds ``path`` for this process through a lock file in siamkit's cache named for its
    absolute path (``path`` itself may not exist yet, and a command refused before it starts
    leaves nothing there); returns the descriptor whose closing releases it, or raises a
    SiamkitError saying ``refusal`` where another process holds it. A second command writing to
    the same place would resume, cut off or delete the first one's unfinished files. The lock is
    the kernel's (``flock``), so it goes with the process however that ends. Where the cache
    cannot be written (a read-only home) the lock file goes in this user's folder of the system's
    temporary one, and where neither can, the command goes on unguarded (None)."""
    name = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    for folder in (cache_dir() / "locks", Path(tempfile.gettempdir()) / f"siamkit-locks-{os.getuid()}"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(folder / f"{kind}-{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            continue
        return lock(descriptor, refusal)
    return None


@contextlib.contextmanager
def holding(path: Path, kind: str, refusal: str) -> Iterator[None]:
    """``hold_path`` for the block."""
    descriptor = hold_path(path, kind, refusal)
    try:
        yield
    finally:
        if descriptor is not None:
            os.close(descriptor)


def lock(descriptor: int, refusal: str) -> int:
    """``descriptor`` under an exclusive ``flock`` (closing it releases the lock), or, where another
    process holds one, a SiamkitError saying ``refusal`` (and the descriptor closed)."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise SiamkitError(refusal) from None
    return descriptor
