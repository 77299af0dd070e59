"""Decode every image once, up front, and apply the bad-image policy (``error`` | ``skip``),
so that no DataLoader worker ever meets an unreadable file mid-run."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, Sequence

from siamkit.data.bad_images import BadImage
from siamkit.data.images import load_image
from siamkit.data.scan_record import ScanRecord
from siamkit.errors import ImageLoadError, SiamkitError
from siamkit.progress import progress_bar
from siamkit.wording import counted

log = logging.getLogger(__name__)

BadImagePolicy = Literal["error", "skip"]
#: the scan decodes images at about this size (JPEGs skip the detail beyond it)
SCAN_SIZE = 64


def scan_images(paths: Sequence[str], on_bad_image: BadImagePolicy, skip_hint: str,
                root: Path = Path(), root_option: str = "") -> dict[str, BadImage]:
    """The unreadable images among ``paths`` (below ``root``), each with why. Under ``error`` any
    unreadable image raises one message listing them, ending with ``skip_hint`` (how to set
    the policy to skip), and with ``root_option`` (the option that sets ``root``) where the paths
    were written relative to the working folder instead; under ``skip`` they are logged and
    returned. Images that decoded in an earlier scan and have not changed since are not decoded
    again (``ScanRecord``)."""

    def check(path: str) -> ImageLoadError | None:
        try:
            load_image(root / path, draft_size=SCAN_SIZE)
        except ImageLoadError as error:
            return error
        return None

    record = ScanRecord(root)
    stamps = {path: record.stamp(path) for path in paths}
    unchecked = [path for path, stamp in stamps.items() if not record.unchanged(path, stamp)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(progress_bar(pool.map(check, unchecked), total=len(unchecked), desc="checking images",
                            unit="img", disable=len(unchecked) < 2000))
    record.add((path, stamps[path]) for path, error in zip(unchecked, results)
               if error is None and stamps[path] is not None)
    bad = {path: BadImage.of(error) for path, error in zip(unchecked, results) if error is not None}
    if not bad:
        return {}
    listing = "\n".join(f"  {b.file}: {b.reason}" for b in list(bad.values())[:10])
    more = f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else ""
    if on_bad_image == "error":
        raise SiamkitError(f"{len(bad)} of {len(paths)} images cannot be read:\n{listing}{more}\n"
                           f"Fix or remove them, or {skip_hint} to go on without them."
                           + _paths_from_here(list(bad), root, root_option))
    log.warning("skipping %s of %d:\n%s%s", counted(len(bad), "unreadable image"), len(paths), listing, more)
    return bad


def _paths_from_here(bad: list[str], root: Path, root_option: str) -> str:
    """Where the unreadable images are all missing below ``root`` (a table's folder) and most are
    found from the working folder: the table's paths were written relative to the working folder."""
    if not root_option or Path(root).resolve() == Path.cwd().resolve():
        return ""
    missing = [path for path in bad if not (root / path).exists()]
    found = sum(Path(path).is_file() for path in missing)
    if len(missing) < len(bad) or found * 2 <= len(missing):
        return ""
    return (f" A table's paths are read relative to its folder, {root}; {found} of these are found "
            f"relative to the working folder instead: `{root_option} .` reads them from here.")
