"""One real fine-tuning run on a GPU: ``clip_siamese.yaml`` as shipped (symmetric InfoNCE with a
learnable temperature, bf16-mixed, AdamW with warm-up, cosine decay and layer-wise decay) with
open_clip ViT-B-16 at 224 px, on unlabelled crops of the bundled photographs, where two
augmented views of one crop are a positive pair.

    python scripts/gpu_finetune.py [--steps 500] [--pretrained TAG_OR_FILE] [--crops 8192]

Prints images/s and peak GPU memory (siamkit's TrainingSpeed), then, from the run's
metrics.csv, the training loss averaged over the first and the last quarter of its logged
values (at most 50 each) and val ROC-AUC after each epoch. Without ``--pretrained`` the tower
starts from random weights, so a machine that cannot reach the hub still measures speed, memory
and whether the loss falls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from siamkit.cli.program import main as siamkit_main
from siamkit.data.demo import PHOTOS, sample_photograph

CROP = 256


def make_crops(folder: Path, count: int) -> None:
    """``count`` JPEGs: random squares of 25-60 % of each photograph's shorter side, at 256 px."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [name for split in PHOTOS.values() for name in split]
    with ProcessPoolExecutor() as pool:
        list(pool.map(_crops_of, names, [folder] * len(names), [count // len(names)] * len(names),
                      range(len(names))))


def _crops_of(name: str, folder: Path, count: int, seed: int) -> None:
    photo = sample_photograph(name)
    rng = np.random.default_rng(seed)
    height, width = photo.shape[:2]
    for i in range(count):
        side = int(rng.uniform(0.25, 0.6) * min(height, width))
        y, x = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        crop = Image.fromarray(photo[y:y + side, x:x + side]).resize((CROP, CROP), Image.BICUBIC)
        crop.save(folder / f"{Path(name).stem}-{i:05d}.jpg", quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ViT-B-16", help="open_clip model name")
    parser.add_argument("--pretrained", default=None,
                        help="open_clip tag or weights file (default: random weights)")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--crops", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=128, help="pairs per batch (the config's)")
    parser.add_argument("--workers", type=int, default=min(12, os.cpu_count() or 1))
    parser.add_argument("--accelerator", default="gpu")
    parser.add_argument("--precision", default="bf16-mixed",
                        help="16-mixed on GPUs without bf16 (before Ampere)")
    parser.add_argument("--run", default="runs/gpu_finetune")
    args = parser.parse_args()

    run = Path(args.run)
    crops = run / "crops"
    make_crops(crops, args.crops)
    csv_logger = [{"class_path": "pytorch_lightning.loggers.CSVLogger",
                   "init_args": {"save_dir": str(run), "name": "logs"}}]
    log_every = str(min(10, max(1, args.steps // 50)))
    status = siamkit_main([
        "fit", "--config", "clip_siamese.yaml", "--model.backbone.init_args.model_name", args.model,
        "--model.backbone.init_args.pretrained", args.pretrained or "null",
        "--data.source", str(crops), "--data.batch_size", str(args.batch_size),
        "--data.num_workers", str(args.workers), "--trainer.max_steps", str(args.steps),
        "--trainer.max_epochs", "-1", "--trainer.accelerator", args.accelerator,
        "--trainer.precision", args.precision,
        "--trainer.log_every_n_steps", log_every, "--trainer.devices", "1",
        "--trainer.default_root_dir", str(run), "--trainer.logger", json.dumps(csv_logger),
    ])
    if status:
        sys.exit(status)

    metrics = pd.read_csv(next(run.glob("logs/version_*/metrics.csv")))
    loss = metrics.dropna(subset=["train/loss"])
    window = max(1, min(50, len(loss) // 4))
    first, last = loss["train/loss"].head(window).mean(), loss["train/loss"].tail(window).mean()
    print(f"train/loss, mean of the first {window} of {len(loss)} "
          f"logged values {first:.3f}, of the last {window} {last:.3f}")
    val = metrics.get("val/roc_auc", pd.Series(dtype=float)).dropna()
    print("val/roc_auc by epoch: " + (" ".join(f"{v:.3f}" for v in val) or "none (no epoch finished)"))
    speed = metrics.dropna(subset=["train/images_per_sec"])["train/images_per_sec"]
    print(f"images/s over logged windows: median {speed.median():.0f}, last {speed.iloc[-1]:.0f}")


if __name__ == "__main__":
    main()
