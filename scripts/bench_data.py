"""Images per second the training DataLoader delivers (decode, copy-detection augmentation,
backbone preprocessing) for 512 px JPEGs at 224 px with 2 workers, against decode-only
through the same loader in the same run.

    python scripts/bench_data.py [--images 384] [--workers 2]

The JPEGs are made from the bundled demo photographs. Decode-only uses the same decoder
(``ImageReader``, which lets libjpeg skip detail finer than 224 px); the full-size decode
rate is printed too, for context. Prints, last, one line with the figure and the ratio.
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

from siamkit.data.datamodule import _init_worker
from siamkit.data.datasets import ClassImageDataset, ImageReader
from siamkit.data.demo import resolve_source
from siamkit.data.images import load_image
from siamkit.data.sources import read_source
from siamkit.data.transforms import COPY_DETECTION_AUGMENT, ImageConfig, build_transform


def make_jpegs(folder: Path, count: int) -> list[str]:
    photos = read_source(resolve_source("demo:photos"))
    sources = sorted(set(photos.a))
    names = []
    for i in range(count):
        image = Image.open(photos.root / sources[i % len(sources)]).convert("RGB").resize((512, 512), Image.BICUBIC)
        names.append(f"{i:04d}.jpg")
        image.rotate(i % 360).save(folder / names[-1], quality=90)
    return names


class DecodeOnly(Dataset):
    def __init__(self, paths: list[str], read):
        self.paths, self.read = paths, read

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.read(self.paths[i])))


def images_per_second(dataset: Dataset, workers: int, batch_size: int = 32) -> float:
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, worker_init_fn=_init_worker,
                        collate_fn=lambda items: items)
    start = time.perf_counter()
    count = sum(len(batch) for batch in loader)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=384)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        names = make_jpegs(folder, args.images)
        config = ImageConfig(size=224)
        read = ImageReader(folder, size=config.size)
        data = read_source(folder, kind="images", fractions=(1.0, 0.0, 0.0))
        data.label = np.zeros(len(data), np.int64)
        pipeline = ClassImageDataset(data, read, build_transform(config, COPY_DETECTION_AUGMENT))
        decode = DecodeOnly(names, read)
        full = DecodeOnly(names, lambda name: load_image(folder / name))
        images_per_second(pipeline, args.workers)  # warm the page cache and the worker start-up path
        rates = {"full pipeline": [], "decode only": [], "full-size decode": []}
        for _ in range(3):
            rates["full pipeline"].append(images_per_second(pipeline, args.workers))
            rates["decode only"].append(images_per_second(decode, args.workers))
            rates["full-size decode"].append(images_per_second(full, args.workers))
    best = {name: max(values) for name, values in rates.items()}
    for name, rate in best.items():
        print(f"{name:>17}: {rate:7.1f} images/s ({rate / args.workers:6.1f} per worker)")
    ratio = best["full pipeline"] / best["decode only"]
    print(f"DataLoader 512px JPEG -> 224px, {args.workers} workers: {best['full pipeline'] / args.workers:.1f} images/s "
          f"per core = {ratio:.2f} x decode-only")


if __name__ == "__main__":
    main()
