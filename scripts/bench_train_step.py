"""Training steps per second: SiameseModule under the Lightning Trainer vs a hand-written
PyTorch loop on the same model, batches, optimizer and schedule, in the same run.

    python scripts/bench_train_step.py                       # ResNet-18, 64 px, batch 64, CPU
    python scripts/bench_train_step.py --backbone open_clip:ViT-B-16 --image-size 224 \
        --batch-size 256 --precision bf16-mixed --accelerator gpu    # the GPU figure

    python scripts/bench_train_step.py --recipe     # the copy-detection recipe vs the old photos demo

MFU (model FLOP utilisation): images/s x FLOPs per image per training step / the device's peak.
The FLOPs per image are 3 x one forward pass's, counted by ``torch.utils.flop_counter`` (matrix
products and convolutions, 2 FLOPs a multiply-add; the backward pass taken as twice the
forward); the peak is dense bf16 (989 TFLOP/s for an H100 or H200 SXM, 312 for an A100; others:
``--peak-tflops``). ``--compile`` sets ``SiameseModule(compile=True)`` and ``--fused`` AdamW's
fused kernel, on both sides.

Both sides run ``--warmup`` untimed steps first, then ``--steps`` timed ones, alternating
over ``--rounds`` so drift in machine load hits both alike. Prints, last, one line with
Lightning's steps/s and its ratio to the hand loop. ``--recipe`` instead times, in hand loops,
the photo demos' objective (two views of unlabelled images, GeM pooling, InfoNCE with the
KoLeo term and a queue of 4 batches, a fifth of the views mixed by ``ViewMix``) against the
photos demo's earlier one (labelled pairs, average pooling, ContrastiveLoss), same images per
step, and prints the ratio.
"""

from __future__ import annotations

import argparse
import copy
import time

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from siamkit.data.batches import ClassBatch, PairBatch, TwoViewBatch
from siamkit.data.view_mix import ViewMix
from siamkit.models import ContrastiveLoss, InfoNCELoss, OpenClipBackbone, TorchvisionBackbone
from siamkit.train.module import SiameseModule

#: dense bf16 peak FLOP/s by the name torch gives the device
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def build_module(backbone: str, image_size: int, compile: bool = False, fused: bool = False) -> SiameseModule:
    family, _, name = backbone.rpartition(":")
    encoder = (OpenClipBackbone(name) if family == "open_clip"
               else TorchvisionBackbone(name, image_size=image_size))
    return SiameseModule(encoder, ContrastiveLoss(), compile=compile,
                         optimizer=lambda groups: torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.05,
                                                                    fused=fused or None))


def training_flops_per_image(module: SiameseModule, image_size: int) -> float:
    """3 x the forward pass's FLOPs for one image (counted on a batch of 2, in float32 on the CPU)."""
    images = torch.randint(0, 256, (2, 3, image_size, image_size), dtype=torch.uint8)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        copy.deepcopy(module.encoder).cpu().float()(images)
    return 3 * counter.get_total_flops() / 2


def peak_flops(args) -> float | None:
    if args.peak_tflops:
        return args.peak_tflops * 1e12
    if args.accelerator != "gpu":
        return None
    name = torch.cuda.get_device_name()
    return next((peak for key, peak in PEAK_BF16.items() if key in name), None)


def batches(count: int, batch_size: int, image_size: int) -> DataLoader:
    images = torch.randint(0, 256, (count * batch_size, 3, image_size, image_size), dtype=torch.uint8)
    labels = torch.arange(count * batch_size) % (batch_size // 4)
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size,
                      collate_fn=lambda items: ClassBatch(torch.stack([image for image, _ in items]),
                                                          torch.stack([label for _, label in items])))


class StepTimer(pl.Callback):
    def __init__(self, warmup: int):
        self.warmup, self.start, self.end = warmup, 0.0, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            _sync(pl_module.device)
            self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        _sync(pl_module.device)
        self.end = time.perf_counter()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def lightning_steps_per_second(module: SiameseModule, loader: DataLoader, args) -> float:
    timer = StepTimer(args.warmup)
    trainer = pl.Trainer(max_steps=args.warmup + args.steps, accelerator=args.accelerator, devices=1,
                         precision=args.precision, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         limit_val_batches=0, callbacks=[timer])
    trainer.fit(module, train_dataloaders=loader)
    return args.steps / (timer.end - timer.start)


def pair_batches(count: int, batch_size: int, image_size: int, kind: type[PairBatch]) -> list[PairBatch]:
    out = []
    for _ in range(count):
        a, b = (torch.randint(0, 256, (batch_size, 3, image_size, image_size), dtype=torch.uint8)
                for _ in range(2))
        groups = torch.arange(batch_size)
        label = torch.ones(batch_size) if kind is TwoViewBatch else (groups % 2 == 0).float()
        out.append(kind(a, b, label, groups, groups if kind is TwoViewBatch else groups + batch_size))
    return out


def recipe_ratio(args) -> None:
    def optimizer(groups):
        return torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.05)

    old = SiameseModule(TorchvisionBackbone("resnet18", image_size=args.image_size), ContrastiveLoss(),
                        optimizer=optimizer)
    new = SiameseModule(TorchvisionBackbone("resnet18", image_size=args.image_size, pooling="gem"),
                        InfoNCELoss(temperature=0.05, entropy_weight=10.0, queue_size=4 * args.batch_size),
                        optimizer=optimizer)
    count = args.warmup + args.steps
    sides = {"old": (old, pair_batches(count, args.batch_size, args.image_size, PairBatch), None),
             "new": (new, pair_batches(count, args.batch_size, args.image_size, TwoViewBatch), ViewMix(0.2))}
    rates = {name: [] for name in sides}
    for round_ in range(args.rounds):
        for name, (module, loader, mix) in sides.items():
            rates[name].append(hand_loop_steps_per_second(copy.deepcopy(module), loader, args, mix))
        print(f"round {round_ + 1}: old {rates['old'][-1]:.2f}, new {rates['new'][-1]:.2f} steps/s")
    old_rate, new_rate = max(rates["old"]), max(rates["new"])
    print(f"resnet18 {args.image_size}px batch {args.batch_size} {args.precision}: the recipe "
          f"{new_rate * 2 * args.batch_size:.0f} images/s vs the earlier objective "
          f"{old_rate * 2 * args.batch_size:.0f} images/s = {new_rate / old_rate:.3f}x")


def hand_loop_steps_per_second(module: SiameseModule, loader, args, mix=None) -> float:
    device = torch.device("cuda" if args.accelerator == "gpu" else "cpu")
    module = module.to(device).train()
    module.configure_model()  # Lightning calls it; --compile compiles the backbone there
    optimizer = module.optimizer(module.parameter_groups())
    for group in optimizer.param_groups:
        group["lr"] *= group.pop("lr_scale")
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(args.precision)
    start = 0.0
    for step, batch in enumerate(loader):
        if step == args.warmup:
            _sync(device)
            start = time.perf_counter()
        batch = batch.to(device, non_blocking=True)
        if mix is not None:
            batch = mix(batch)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = module.compute_loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    _sync(device)
    return args.steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet18", help="torchvision name, or open_clip:NAME")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precision", default="32")
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--compile", action="store_true", help="SiameseModule(compile=True) on both sides")
    parser.add_argument("--fused", action="store_true", help="AdamW(fused=True) on both sides")
    parser.add_argument("--peak-tflops", type=float,
                        help="the device's dense peak for MFU (default: by the device's name)")
    parser.add_argument("--recipe", action="store_true",
                        help="time the copy-detection recipe against the earlier photos objective")
    args = parser.parse_args()
    if not (args.steps >= 1 and args.warmup >= 1 and args.rounds >= 1 and args.batch_size >= 1
            and args.image_size >= 1):
        parser.error("--steps, --warmup, --rounds, --batch-size and --image-size must be >= 1")
    if args.recipe:
        recipe_ratio(args)
        return

    torch.manual_seed(0)
    template = build_module(args.backbone, args.image_size, args.compile, args.fused)
    flops = training_flops_per_image(template, args.image_size)
    loader = batches(args.warmup + args.steps, args.batch_size, args.image_size)
    hand, lightning = [], []
    for round_ in range(args.rounds):
        hand.append(hand_loop_steps_per_second(copy.deepcopy(template), loader, args))
        lightning.append(lightning_steps_per_second(copy.deepcopy(template), loader, args))
        print(f"round {round_ + 1}: hand loop {hand[-1]:.2f} steps/s, Lightning {lightning[-1]:.2f} steps/s")
    best_hand, best_lightning = max(hand), max(lightning)
    images = best_lightning * args.batch_size
    print(f"{args.backbone} {args.image_size}px batch {args.batch_size} {args.precision} on "
          f"{args.accelerator}: hand loop {best_hand:.2f} steps/s")
    peak = peak_flops(args)
    mfu = (f", MFU {100 * images * flops / peak:.1f} % of {peak / 1e12:.0f} TFLOP/s" if peak
           else ", MFU: give --peak-tflops")
    print(f"Lightning {best_lightning:.2f} steps/s ({images:.0f} images/s) = "
          f"{best_lightning / best_hand:.3f} x hand loop{mfu} (at {flops / 1e9:.1f} GFLOP per image per "
          "training step, 3 x the counted forward pass)")


if __name__ == "__main__":
    main()
