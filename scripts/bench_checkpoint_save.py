"""Seconds to write one training checkpoint, and the extra memory it takes: Lightning's
``TorchCheckpointIO`` (the reference: the whole checkpoint serialised into memory, then written)
against siamkit's ``StreamingCheckpointIO`` (streamed into a temporary file, renamed when whole),
in the same run.

    python scripts/bench_checkpoint_save.py [--model resnet18] [--rounds 5] [--folder DIR]

The checkpoint is what a ``train fit`` run of the digits demo holds: a torchvision ResNet's
weights and AdamW's two moments after one step (134 MB for ResNet-18). The two ways take turns,
round after round, into ``--folder`` (default: a temporary folder on the same disk as the
system's); the ratio is taken within a round and its median over rounds is reported with the
range. The memory figure is Python's own allocations at their peak during the save
(``tracemalloc``), where the in-memory copy shows. Prints, last, one line with both figures
and the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch
import torchvision
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from siamkit.train.checkpoint_io import StreamingCheckpointIO


def training_checkpoint(model_name: str) -> dict:
    model = getattr(torchvision.models, model_name)()
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.rand(2, 3, 64, 64)).sum().backward()
    optimizer.step()
    return {"state_dict": model.state_dict(), "optimizer_states": [optimizer.state_dict()], "global_step": 1}


def timed_save(io, checkpoint: dict, path: Path) -> tuple[float, float]:
    """Seconds and peak MB of Python allocations for one save."""
    tracemalloc.start()
    start = time.perf_counter()
    io.save_checkpoint(checkpoint, path)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet18", help="a torchvision model name")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--folder", type=Path, help="where to write (default: a temporary folder)")
    args = parser.parse_args()
    checkpoint = training_checkpoint(args.model)
    ways = {"lightning": TorchCheckpointIO(), "streaming": StreamingCheckpointIO()}
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        seconds = {name: [] for name in ways}
        peaks = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, io in ways.items():
                took, peak = timed_save(io, checkpoint, Path(folder) / f"{name}.ckpt")
                seconds[name].append(took)
                peaks[name].append(peak)
        size = (Path(folder) / "streaming.ckpt").stat().st_size / 1e6
    ratios = np.array(seconds["lightning"]) / np.array(seconds["streaming"])
    for name in ways:
        print(f"{name:>9}: median {np.median(seconds[name]):.2f} s (range {min(seconds[name]):.2f}-"
              f"{max(seconds[name]):.2f}), Python allocations at their peak {max(peaks[name]):.0f} MB")
    lightning, streaming = np.median(seconds["lightning"]), np.median(seconds["streaming"])
    print(f"{args.model} checkpoint of {size:.0f} MB: Lightning {lightning:.2f} s, streamed {streaming:.2f}"
          f" s = {np.median(ratios):.1f}x faster (median of {args.rounds} rounds, range {ratios.min():.1f}-"
          f"{ratios.max():.1f}x)")


if __name__ == "__main__":
    main()
