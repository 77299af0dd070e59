"""Decode every image once, up front, and apply the bad-image policy (``error`` | ``skip``),
so that no DataLoader worker ever meets an unreadable file mid-run."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Literal, Sequence

import numpy as np
from tqdm import tqdm

from siamkit.data.bad_images import BadImage
from siamkit.errors import ImageLoadError, SiamkitError

log = logging.getLogger(__name__)

BadImagePolicy = Literal["error", "skip"]


def scan_images(read: Callable[[str], np.ndarray], paths: Sequence[str], on_bad_image: BadImagePolicy,
                skip_hint: str) -> dict[str, BadImage]:
    """The unreadable images among ``paths``, each with why. Under ``error`` any
    unreadable image raises one message listing them, ending with ``skip_hint`` (how to set
    the policy to skip); under ``skip`` they are logged and returned."""

    def check(path: str) -> ImageLoadError | None:
        try:
            read(path)
        except ImageLoadError as error:
            return error
        return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(tqdm(pool.map(check, paths), total=len(paths), desc="checking images", unit="img",
                            disable=len(paths) < 2000))
    bad = {path: BadImage.of(error) for path, error in zip(paths, results) if error is not None}
    if not bad:
        return {}
    listing = "\n".join(f"  {b.file}: {b.reason}" for b in list(bad.values())[:10])
    more = f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else ""
    if on_bad_image == "error":
        raise SiamkitError(f"{len(bad)} of {len(paths)} images cannot be read:\n{listing}{more}\n"
                           f"Fix or remove them, or {skip_hint} to go on without them.")
    log.warning("skipping %d unreadable image(s) of %d:\n%s%s", len(bad), len(paths), listing, more)
    return bad
