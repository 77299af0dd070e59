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


class HeldPath:
    """A path held through its lock file; ``release`` removes the file, then lets the lock go, so
    the locks folder keeps no file for each place a command ever wrote."""

    def __init__(self, file: Path, descriptor: int):
        self.file = file
        self.descriptor = descriptor

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self.file.unlink()  # while held: a command that opened it before sees another file after
        os.close(self.descriptor)


def hold_path(path: Path, kind: str, refusal: str) -> HeldPath | None:
    """Holds ``path`` for this process through a lock file in siamkit's cache named for its
    absolute path (``path`` itself may not exist yet, and a command refused before it starts
    leaves nothing there), or raises a SiamkitError saying ``refusal`` where another process holds
    it. A second command writing to the same place would resume, cut off or delete the first one's
    unfinished files. The lock is the kernel's (``flock``), so it goes with the process however that
    ends (a file left by a killed one is taken over). Where the cache cannot be written (a
    read-only home) the lock file goes in this user's folder of the system's temporary one, and
    where neither can, the command goes on unguarded (None)."""
    name = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    for folder in (cache_dir() / "locks", Path(tempfile.gettempdir()) / f"siamkit-locks-{os.getuid()}"):
        file = folder / f"{kind}-{name}.lock"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return _lock_file(file, refusal)
        except OSError:
            continue
    return None


@contextlib.contextmanager
def holding(path: Path, kind: str, refusal: str) -> Iterator[None]:
    """``hold_path`` for the block."""
    held = hold_path(path, kind, refusal)
    try:
        yield
    finally:
        if held is not None:
            held.release()


def _lock_file(file: Path, refusal: str) -> HeldPath:
    """Locks ``file``, made if absent. A lock taken on a file that its holder removed on release
    holds nothing, so the file is opened again until the one locked is the one at ``file``."""
    while True:
        descriptor = lock(os.open(file, os.O_RDWR | os.O_CREAT, 0o644), refusal)
        try:
            current = os.stat(file).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            current = False
        if current:
            return HeldPath(file, descriptor)
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
