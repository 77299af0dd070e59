"""Whether a command can write where it was asked to, checked before any work starts."""

from __future__ import annotations

import tempfile
from pathlib import Path


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
