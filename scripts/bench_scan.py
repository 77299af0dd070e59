"""The up-front image scan with and without its record of images that decoded before.

    python scripts/bench_scan.py [--images 2000] [--size 640x480]

Writes that many JPEGs (rotations of scikit-image's astronaut) to a scratch folder, then times
three scans of them: the first (every image decoded, the reference), a second one (nothing has
changed: no image decoded), and one after a tenth of the images were rewritten (only those
decoded). Prints, last, one line with the times and the ratios to the first scan.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from PIL import Image
from skimage import data as samples

from siamkit.cli.arguments import positive_int
from siamkit.data.scan import scan_images


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise argparse.ArgumentTypeError(f"WIDTHxHEIGHT in pixels, e.g. 640x480, not {text!r}")
    return int(width), int(height)


def _write(folder: Path, count: int, size: tuple[int, int], names: list[str]) -> None:
    base = Image.fromarray(samples.astronaut()).resize(size)
    for i, name in enumerate(names[:count]):
        base.rotate(i % 360).save(folder / name, quality=90)


def _timed(folder: Path, names: list[str]) -> float:
    start = time.perf_counter()
    scan_images(names, "error", "", folder)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=positive_int, default=2000)
    parser.add_argument("--size", type=_size, default="640x480", help="WIDTHxHEIGHT of each JPEG")
    args = parser.parse_args()
    size = args.size
    names = [f"{i:06d}.jpg" for i in range(args.images)]
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["SIAMKIT_CACHE"] = str(Path(scratch) / "cache")  # a record of these images only
        folder = Path(scratch) / "images"
        folder.mkdir()
        _write(folder, args.images, size, names)
        first = _timed(folder, names)
        unchanged = _timed(folder, names)
        time.sleep(0.01)  # rewritten files get a later modification time
        _write(folder, args.images // 10, size, names[::-1])
        tenth = _timed(folder, names)
    print(f"scan of {args.images} JPEGs of {size[0]}x{size[1]}: first {first:.2f} s; again, unchanged "
          f"{unchanged:.3f} s ({first / unchanged:.0f}x faster); after a tenth changed {tenth:.2f} s "
          f"({first / tenth:.1f}x faster)")


if __name__ == "__main__":
    main()
