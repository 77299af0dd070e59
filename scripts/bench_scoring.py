"""Scoring speed on the bundled real photographs, against references timed in the same run.

    python scripts/bench_scoring.py [--matrix-images 50] [--scratch-pairs 120] [--repeats 3]

1. ``histogram:seed`` vs the seed article's OpenCV code (dense 256^3 histograms), per pair
   from scratch (both histograms computed every time): the largest difference and the
   speed ratio, on pairs of ``demo:photos`` images (128 px) and on pairs of the full-size
   photographs they are cut from (0.07-2 megapixels), with the time of the one step that grows
   faster than the pixel count (sorting the colours), which bounds the ratio.
2. ``ssim:seed`` vs the article's scikit-image code on the same pairs.
3. ``score_matrix`` over N ``demo:photos`` images vs scoring pairs one by one from scratch
   (decode + features for both images every time), for every method: pairs per second
   for each, and the ratio.

Decoding is outside the timings of 1 and 2 (both sides get the same decoded arrays), and
inside those of 3 (both sides start from files). Prints, last, one line with the figures.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import time
from typing import Callable

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from siamkit.data.demo import PHOTOS, resolve_source, sample_photograph
from siamkit.data.images import load_image
from siamkit.scoring.histogram import packed_colours
from siamkit.scoring.registry import get_scorer


def article_histogram(image1: np.ndarray, image2: np.ndarray) -> float:
    """The article's code on BGR arrays (as cv2.imread gives), each histogram viewed as 2-D
    (OpenCV 5.1 reads a 3-D array as at most 128 channels; the arithmetic is the same)."""
    hist_img1 = cv2.calcHist([image1], [0, 1, 2], None, [256, 256, 256], [0, 256, 0, 256, 0, 256])
    hist_img1[255, 255, 255] = 0
    hist_img1 = hist_img1.reshape(-1, 256)
    cv2.normalize(hist_img1, hist_img1, alpha=0, beta=1, norm_type=cv2.NORM_MINMAX)
    hist_img2 = cv2.calcHist([image2], [0, 1, 2], None, [256, 256, 256], [0, 256, 0, 256, 0, 256])
    hist_img2[255, 255, 255] = 0
    hist_img2 = hist_img2.reshape(-1, 256)
    cv2.normalize(hist_img2, hist_img2, alpha=0, beta=1, norm_type=cv2.NORM_MINMAX)
    return cv2.compareHist(hist_img1, hist_img2, cv2.HISTCMP_CORREL)


def article_ssim(image1: np.ndarray, image2: np.ndarray) -> float:
    """The article's code on BGR arrays."""
    image2 = cv2.resize(image2, (image1.shape[1], image1.shape[0]), interpolation=cv2.INTER_AREA)
    gray1, gray2 = cv2.cvtColor(image1, cv2.COLOR_BGR2GRAY), cv2.cvtColor(image2, cv2.COLOR_BGR2GRAY)
    return structural_similarity(gray1, gray2, full=True)[0]


def per_pair(score: Callable[[np.ndarray, np.ndarray], float], pairs: list, repeats: int) -> tuple[float,
                                                                                                   list[float]]:
    """Best-of-``repeats`` seconds per pair, and the values."""
    values, best = [], float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        values = [score(a, b) for a, b in pairs]
        best = min(best, (time.perf_counter() - start) / len(pairs))
    return best, values


def compare_to_reference(ours: str, reference: Callable, images: str, pairs: list, repeats: int) -> dict[str,
                                                                                                         float]:
    bgr_pairs = [(np.ascontiguousarray(a[..., ::-1]), np.ascontiguousarray(b[..., ::-1])) for a, b in pairs]
    reference_time, expected = per_pair(reference, bgr_pairs, repeats)
    our_time, values = per_pair(get_scorer(ours).score, pairs, repeats)
    difference = float(np.max(np.abs(np.subtract(values, expected))))
    print(f"{ours:<15} {images:<28} {len(pairs):>5}  {difference:8.1e}  {reference_time * 1e3:11.2f}  "
          f"{our_time * 1e3:8.2f}  {reference_time / our_time:6.1f}x")
    return {"difference": difference, "ratio": reference_time / our_time, "reference_time": reference_time}


def sort_colours_only(image1: np.ndarray, image2: np.ndarray) -> None:
    """The one step of ``histogram:seed`` that grows faster than the pixel count: sorting
    each image's packed colour codes. Its time bounds what any exact sort-based method can reach."""
    for image in (image1, image2):
        packed_colours(image).sort()


def tiny_encoder_folder() -> str:
    """An untrained ResNet-18 encoder at 128 px: the embedding method's cost, not its quality."""
    import tempfile

    from siamkit.models import Encoder, ProjectionHead, TorchvisionBackbone

    encoder = Encoder(TorchvisionBackbone("resnet18", image_size=128), ProjectionHead(512, out_dim=128))
    return str(encoder.save(tempfile.mkdtemp(prefix="siamkit-bench-")))


def matrix_vs_scratch(images: list[str], scratch_pairs: int) -> dict[str, float]:
    methods = ["histogram", "histogram:seed", "ssim", "ssim:seed", "sift", "sift:ransac", "orb", "phash",
               tiny_encoder_folder()]
    all_pairs = list(itertools.combinations(images, 2))
    sample = random.Random(0).sample(all_pairs, min(scratch_pairs, len(all_pairs)))
    print(f"\nscore_matrix over {len(images)} demo:photos images ({len(all_pairs)} pairs) vs one pair at a "
          f"time from scratch ({len(sample)} sampled pairs); decoding included")
    print(f"{'method':<16} {'matrix pairs/s':>15} {'scratch pairs/s':>16} {'ratio':>7}")
    ratios = {}
    for method in methods:
        scorer = get_scorer(method)
        label = "embedding (r18)" if os.path.isdir(method) else method
        scorer.score_matrix(images[:2])  # warm-up: lazy imports, first-call set-up
        start = time.perf_counter()
        scorer.score_matrix(images)
        matrix_rate = len(all_pairs) / (time.perf_counter() - start)
        start = time.perf_counter()
        for a, b in sample:
            scorer.score(a, b)
        scratch_rate = len(sample) / (time.perf_counter() - start)
        ratios[label] = matrix_rate / scratch_rate
        print(f"{label:<16} {matrix_rate:15.0f} {scratch_rate:16.1f} {ratios[label]:6.1f}x")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--matrix-images", type=int, default=50)
    parser.add_argument("--scratch-pairs", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    table = resolve_source("demo:photos")
    files = sorted(str(p) for p in table.parent.rglob("*.jpg"))
    patches = [load_image(f) for f in files[:: max(1, len(files) // 40)]]
    photos = [sample_photograph(name) for names in PHOTOS.values() for name in names]
    print(f"per pair from scratch vs the article's code, best of {args.repeats}; decoding excluded")
    print(f"{'ours':<15} {'images':<28} {'pairs':>5}  {'max diff':>8} "
          f" {'article ms':>11}  {'ours ms':>8}  {'ratio':>7}")
    figures = {}
    for method, reference in (("histogram:seed", article_histogram), ("ssim:seed", article_ssim)):
        for label, images in (("demo:photos (128 px)", patches), ("full-size photos (0.07-2 MP)", photos)):
            figures[method, label] = compare_to_reference(method, reference, label,
                                                          list(zip(images, images[1:])),
                                                          args.repeats)

    for label, images in (("demo:photos (128 px)", patches), ("full-size photos (0.07-2 MP)", photos)):
        sort_time, _ = per_pair(sort_colours_only, list(zip(images, images[1:])), args.repeats)
        reference_time = figures["histogram:seed", label]["reference_time"]
        print(f"histogram:seed on {label}: sorting both images' colours alone takes {sort_time * 1e3:.2f} ms "
              "per pair, so no exact method that sorts them can be more than "
              f"{reference_time / sort_time:.1f}x faster")

    ratios = matrix_vs_scratch(files[:: max(1, len(files) // args.matrix_images)][: args.matrix_images],
                               args.scratch_pairs)
    reusable = {k: v for k, v in ratios.items() if k != "ssim:seed"}
    summary = "; ".join(f"{method} {figures[method, label]['ratio']:.1f}x on {label}"
                        for method, label in figures)
    print(f"\n{summary}; max diff histogram "
          f"{max(f['difference'] for (m, _), f in figures.items() if m.startswith('h')):.0e}, "
          f"ssim {max(f['difference'] for (m, _), f in figures.items() if m.startswith('s')):.0e}; "
          f"score_matrix vs from scratch: sift {ratios['sift']:.1f}x, lowest of the reusable methods "
          f"{min(reusable.values()):.1f}x ({min(reusable, key=reusable.get)})")


if __name__ == "__main__":
    main()
