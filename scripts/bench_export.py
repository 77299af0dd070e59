"""Embedding throughput of an exported encoder: onnxruntime vs PyTorch eager, same run.

    python scripts/bench_export.py [--backbone resnet50] [--image-size 224] [--batch-size 32] [--batches 5]

Builds a ResNet-50 encoder (random weights: speed does not depend on them), exports it with
``export_onnx`` (which checks parity first), then times ``--batches`` batches of uint8 images
through each, after one warm-up batch, best of 3 rounds. Prints, last, one line with both
rates and the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import onnxruntime
import torch

from siamkit.models import ProjectionHead, TorchvisionBackbone
from siamkit.models.encoder import Encoder
from siamkit.models.onnx_export import ONNX_FILE, export_onnx, sample_images


def rate(run, batch: np.ndarray, batches: int) -> float:
    run(batch)  # warm-up
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(batches):
            run(batch)
        best = max(best, batches * len(batch) / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=5)
    args = parser.parse_args()
    backbone = TorchvisionBackbone(args.backbone, image_size=args.image_size)
    encoder = Encoder(backbone, ProjectionHead(backbone.feature_dim, out_dim=256)).eval()
    folder = tempfile.mkdtemp(prefix="siamkit-bench-export-")
    encoder.save(folder)
    difference = export_onnx(encoder, folder, sample_images())
    session = onnxruntime.InferenceSession(f"{folder}/{ONNX_FILE}", providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(0).integers(0, 256, (args.batch_size, 3, args.image_size, args.image_size),
                                              dtype=np.uint8)

    def eager(images: np.ndarray) -> None:
        with torch.inference_mode():
            encoder(torch.from_numpy(images))

    torch_rate = rate(eager, batch, args.batches)
    onnx_rate = rate(lambda images: session.run(["embeddings"], {"images": images}), batch, args.batches)
    print(f"torch threads {torch.get_num_threads()}, parity (1 - cos) {difference:.1e}")
    print(f"{args.backbone} {args.image_size}px batch {args.batch_size}: PyTorch eager {torch_rate:.1f} "
          f"images/s, onnxruntime {onnx_rate:.1f} images/s = {onnx_rate / torch_rate:.2f}x")


if __name__ == "__main__":
    main()
