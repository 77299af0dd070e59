"""Milliseconds to bring one large photograph to a model's input size: siamkit's resize
(``resize_steps``, which shrinks by area) against bicubic sampling, the reference (what it did
before: a few source pixels per output pixel, which aliases), in the same run.

    python scripts/bench_resize.py [--megapixels 12] [--size 64] [--rounds 7]

The photograph is random noise of that many pixels at 4:3 (the resize's cost does not depend on
what it shows). The two ways take turns, round after round; the ratio is taken within a round and
its median over rounds is reported with the range. Prints, last, one line with both figures and
the ratio. A JPEG reaches the resize after its decoding reduction, a few hundred pixels wide: the
figure is for a PNG, or an array decoded in full.
"""

from __future__ import annotations

import argparse
import time

import albumentations as A
import cv2
import numpy as np

from siamkit.data.image_config import ImageConfig, resize_steps


def bicubic_steps(config: ImageConfig) -> A.Compose:
    return A.Compose([A.SmallestMaxSize(max_size=config.size, interpolation=cv2.INTER_CUBIC),
                      A.CenterCrop(config.size, config.size), A.ToTensorV2()])


def timed(pipeline: A.Compose, image: np.ndarray) -> float:
    start = time.perf_counter()
    pipeline(image=image)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--size", type=int, default=64, help="the model's input size in pixels")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    height = int((args.megapixels * 1e6 * 3 / 4) ** 0.5)
    image = np.random.default_rng(0).integers(0, 256, (height, height * 4 // 3, 3), dtype=np.uint8)
    config = ImageConfig(size=args.size)
    ways = {"siamkit (area)": A.Compose(resize_steps(config)), "bicubic": bicubic_steps(config)}
    for pipeline in ways.values():
        timed(pipeline, image)  # warm-up
    times = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, pipeline in ways.items():
            times[name].append(timed(pipeline, image))
    ratios = np.array(times["siamkit (area)"]) / np.array(times["bicubic"])
    area, bicubic = (float(np.median(times[name])) for name in ways)
    print(f"{image.shape[1]}x{image.shape[0]} to {args.size} px: siamkit (area) {area:.1f} ms, bicubic "
          f"{bicubic:.1f} ms = {np.median(ratios):.1f} x (median of {args.rounds} rounds, range "
          f"{ratios.min():.1f}-{ratios.max():.1f})")


if __name__ == "__main__":
    main()
