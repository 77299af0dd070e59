"""Images per second the training DataLoader delivers (decode, copy-detection augmentation,
backbone preprocessing) for 512 px JPEGs at 224 px with 2 workers, against decode-only
through the same loader in the same run.

    python scripts/bench_data.py [--images 768] [--workers 2] [--rounds 5]

The JPEGs are made from the bundled demo photographs. Both loaders batch with the default
collate, in the workers, as training does. Decode-only uses the decoder training uses
(``ImageReader`` at the pipeline's ``decode_size``: libjpeg may skip detail only where even
the smallest random crop keeps 224 px, so for these 512 px JPEGs it decodes in full) and hands
over a 224 px corner of the image, so both loaders move the same bytes between processes and
only the work differs: that ratio is the one to judge augmentation by. For context it also
prints decode-only handing over the whole decoded image (what a loader that only decodes
delivers; the larger transfer makes it slower) and the coarser decode validation uses
(shorter side >= 224 px). The loaders take turns, round after round, and each ratio is
taken within a round, so a slow spell on a shared machine hits both sides of it; the median
over rounds is reported, with the range. Prints, last, one line with the figure and both
ratios.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from siamkit.data.datasets import ClassImageDataset, ImageReader, init_worker
from siamkit.data.demo import resolve_source
from siamkit.data.image_config import ImageConfig
from siamkit.data.sources import read_source
from siamkit.data.transforms import COPY_DETECTION_AUGMENT, build_transform


def make_jpegs(folder: Path, count: int) -> list[str]:
    photos = read_source(resolve_source("demo:photos"))
    sources = sorted(set(photos.a))
    names = []
    for i in range(count):
        image = Image.open(photos.root / sources[i % len(sources)]).convert("RGB").resize((512, 512),
                                                                                          Image.BICUBIC)
        names.append(f"{i:04d}.jpg")
        image.rotate(i % 360).save(folder / names[-1], quality=90)
    return names


class DecodeOnly(Dataset):
    """Decodes, then hands over the image, or its top-left ``size`` px when size is given."""

    def __init__(self, paths: list[str], read: ImageReader, size: int | None = None):
        self.paths, self.read, self.size = paths, read, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        image = self.read(self.paths[i])[: self.size, : self.size]
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


def images_per_second(dataset: Dataset, workers: int, batch_size: int = 32) -> float:
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, worker_init_fn=init_worker)
    start = time.perf_counter()
    count = sum(len(batch["label"]) if isinstance(batch, dict) else len(batch) for batch in loader)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=768)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.rounds < 1 or args.images < 1:
        parser.error("--rounds and --images must be at least 1")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        names = make_jpegs(folder, args.images)
        config = ImageConfig(size=224)
        transform = build_transform(config, COPY_DETECTION_AUGMENT)
        read = ImageReader(folder, size=transform.decode_size(config.size))
        data = read_source(folder, kind="images", fractions=(1.0, 0.0, 0.0))
        data.label = np.zeros(len(data), np.int64)
        loaders = {
            "full pipeline": ClassImageDataset(data, read, transform),
            "decode only": DecodeOnly(names, read, config.size),
            "decode only, whole": DecodeOnly(names, read),
            "validation decode": DecodeOnly(names, ImageReader(folder, size=config.size), config.size),
        }
        images_per_second(loaders["full pipeline"],
                          args.workers)  # warm the page cache and the worker start-up path
        rates = {name: [] for name in loaders}
        for _ in range(args.rounds):
            for name, dataset in loaders.items():
                rates[name].append(images_per_second(dataset, args.workers))
    for name, values in rates.items():
        rate = np.median(values)
        print(f"{name:>19}: {rate:7.1f} images/s ({rate / max(1, args.workers):6.1f} "
              f"per worker), median of {args.rounds}")
    full = np.array(rates["full pipeline"])
    ratio, whole = (full / np.array(rates[name]) for name in ("decode only", "decode only, whole"))
    print(f"full pipeline / decode only, round by round: {' '.join(f'{r:.2f}' for r in ratio)}")
    print(f"DataLoader 512px JPEG -> 224px, {args.workers} workers: "
          f"{np.median(full) / max(1, args.workers):.1f} images/s per core = "
          f"{np.median(ratio):.2f} x decode-only moving the same bytes (median of "
          f"{args.rounds} rounds, range {ratio.min():.2f}-{ratio.max():.2f}; "
          f"{np.median(whole):.2f} x decode-only handing over whole images)")


if __name__ == "__main__":
    main()
