"""Training images per second of the photo demo's recipe from scratch
(``demo_photos_scratch.yaml``: regions of the bundled photographs, the copy-detection
augmentations, ResNet-18 at 64 px) with its augmentation in the loader's workers
(albumentations, the reference) against on the model's device
(``data.augment_on: device``), in the same run.

    python scripts/bench_augment_on.py [--accelerator gpu] [--workers 14] [--batch-size 256]
                                       [--steps 60] [--warmup 15] [--rounds 3] [--image-size 64]

Each fit runs ``--steps`` steps without validation; the clock runs from the end of step
``--warmup`` (workers started, caches filled, kernels chosen) to the end of the last step, the
GPU synchronised at those two points only. The two settings take turns, round after round, and
the ratio is taken within a round; the median over rounds is reported with the range. Prints,
last, one line with both figures and the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pytorch_lightning as pl
import torch

from siamkit.train.lightning_cli import run_trainer_command


class StepClock(pl.Callback):
    """Images per second between the end of step ``warmup`` and the end of the last step."""

    def __init__(self, warmup: int):
        self.warmup, self.images, self.start, self.end = warmup, 0, 0.0, 0.0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step < self.warmup:
            return
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        now = time.perf_counter()
        if trainer.global_step == self.warmup:
            self.start = now
        else:
            self.images += batch.image_count
        self.end = now

    @property
    def rate(self) -> float:
        return self.images / (self.end - self.start)


def fit_rate(augment_on: str, args: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory() as run:
        cli = run_trainer_command("fit", [
            "--config", "demo_photos_scratch.yaml", "--data.augment_on", augment_on,
            "--model.backbone.init_args.image_size", str(args.image_size),
            "--data.batch_size", str(args.batch_size), "--data.num_workers", str(args.workers),
            "--data.check_leaks", "off", "--trainer.accelerator", args.accelerator,
            "--trainer.max_steps", str(args.steps), "--trainer.limit_val_batches", "0",
            "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--trainer.default_root_dir", run,
            "--trainer.callbacks+=__main__.StepClock", f"--trainer.callbacks.warmup={args.warmup}",
        ])
    clock = next(c for c in cli.trainer.callbacks if isinstance(c, StepClock))
    return clock.rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accelerator", default="cpu", choices=("cpu", "gpu"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not 0 < args.warmup < args.steps - 1 or args.rounds < 1:
        parser.error("need 0 < --warmup < --steps - 1 and --rounds >= 1")
    rates: dict[str, list[float]] = {"workers": [], "device": []}
    for round_number in range(args.rounds):
        for augment_on in rates:
            rates[augment_on].append(fit_rate(augment_on, args))
            print(f"round {round_number + 1}, augment_on {augment_on}: {rates[augment_on][-1]:.0f} images/s",
                  flush=True)
    ratio = np.array(rates["device"]) / np.array(rates["workers"])
    workers, device = (np.median(rates[name]) for name in ("workers", "device"))
    print(f"demo_photos recipe at {args.image_size} px, batch {args.batch_size}, {args.workers} workers, "
          f"{args.accelerator}: augment_on workers {workers:.0f} images/s, device {device:.0f} images/s = "
          f"{np.median(ratio):.2f} x (median of {args.rounds} rounds, "
          f"range {ratio.min():.2f}-{ratio.max():.2f})")


if __name__ == "__main__":
    main()
