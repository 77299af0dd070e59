"""End-to-end embedding throughput from JPEG files on disk, through `train embed`'s code path
(``embed_collection``: DataLoader workers decoding, the model, the on-disk journal), for each
runtime in one run: PyTorch eager, onnxruntime float, onnxruntime int8.

    python scripts/bench_embed.py [--images 192] [--encoder DIR] [--sweep]

The encoder is a ResNet-50 at 224 px with a 256-d head. Its weights are random (nothing may
be downloaded; speed does not depend on them), with batch-norm statistics re-estimated on the
photographs so that activations have the ranges of a trained network, which is what int8
calibration sees. It is exported with ``export_onnx`` and quantized with ``quantize_int8``
(calibrated on 64 of the files, checked on the demo's val pairs), as `train export
--quantize int8` does. ROC-AUC of each runtime on the demo photos *test* pairs is reported
beside the speed. ``--encoder DIR`` repeats the ROC comparison for a trained encoder folder
(e.g. the photos demo's); ``--sweep`` times onnxruntime under several worker / thread counts.
The ratios to PyTorch eager are printed last.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from siamkit.data.demo import PHOTOS, sample_photograph
from siamkit.data.splits import SplitRecord
from siamkit.evaluation.pairs import load_evaluation_data
from siamkit.models import ProjectionHead, TorchvisionBackbone
from siamkit.models.encoder import Encoder
from siamkit.models.onnx_export import export_onnx, sample_images
from siamkit.models.quantization import quantize_int8
from siamkit.models.runtime import load_encoder
from siamkit.retrieval.collection import embed_collection, list_images


def write_jpegs(folder: Path, count: int) -> list[str]:
    """``count`` 640 x 480 JPEGs: random crops of the demo's training photographs (the test
    photographs stay out of calibration)."""
    rng = np.random.default_rng(0)
    photographs = [sample_photograph(name) for name in PHOTOS["train"]]
    for i in range(count):
        image = photographs[i % len(photographs)]
        h, w = image.shape[:2]
        ch, cw = int(h * rng.uniform(0.5, 1)), int(w * rng.uniform(0.5, 1))
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        crop = Image.fromarray(image[y:y + ch, x:x + cw]).resize((640, 480))
        crop.save(folder / f"{i:05d}.jpg", quality=90)
    return sorted(str(p) for p in folder.glob("*.jpg"))


def resnet50_folder(folder: Path, images: list[str]) -> Path:
    torch.manual_seed(0)
    backbone = TorchvisionBackbone("resnet50", image_size=224)
    encoder = Encoder(backbone, ProjectionHead(backbone.feature_dim, out_dim=256))
    for module in encoder.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the batches below
    encoder.train()
    with torch.no_grad():
        for start in range(0, 64, 16):
            encoder(encoder.preprocess.batch(images[start:start + 16]))
    encoder.eval()
    encoder.save(folder)
    export_onnx(encoder, folder, sample_images())
    return folder


def quantize(folder: Path, images: list[str]) -> None:
    """As `train export --quantize int8` does, but always kept: the figures are the result."""
    val = load_evaluation_data(SplitRecord("demo:photos"), "val").pairs["val"]
    record = quantize_int8(folder, images[:64], "bench JPEGs", (list(val.a), list(val.b), val.label),
                           "demo:photos", max_roc_auc_drop=float("inf"))
    print(f"  int8 of {folder.name}: val ROC-AUC float {record.roc_auc_float:.4f} "
          f"int8 {record.roc_auc_int8:.4f}; cosine to float min {record.cosine_min:.4f} "
          f"mean {record.cosine_mean:.4f}")


def photos_test_roc_auc(encoder) -> float:
    test = load_evaluation_data(SplitRecord("demo:photos"), "test").pairs["test"]
    images = list(dict.fromkeys([*test.a, *test.b]))
    vectors = dict(zip(images, encoder.embed(images)))
    return float(roc_auc_score(test.label, [vectors[a] @ vectors[b] for a, b in zip(test.a, test.b)]))


def rate(folder: Path, images_dir: Path, runtime: str, workers: int, threads: int | None,
         scratch: Path) -> float:
    encoder = load_encoder(folder, runtime, threads=threads)
    listing = list_images(images_dir)
    best = 0.0
    for attempt in range(2):
        out = scratch / f"index-{runtime}-{workers}-{threads}-{attempt}"
        start = time.perf_counter()
        embed_collection(listing, encoder, out, str(folder), 32, workers)
        best = max(best, len(listing.images) / (time.perf_counter() - start))
        shutil.rmtree(out)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=192)
    parser.add_argument("--encoder", help="a trained encoder folder with model.onnx: float vs int8")
    parser.add_argument("--sweep", action="store_true", help="onnxruntime under other workers / threads")
    args = parser.parse_args()
    if args.images < 64:
        parser.error("--images must be >= 64: the encoder's batch norm and int8 ranges are set on 64 of them")
    scratch = Path(tempfile.mkdtemp(prefix="siamkit-bench-embed-"))
    (scratch / "jpegs").mkdir()
    images = write_jpegs(scratch / "jpegs", args.images)
    folder = resnet50_folder(scratch / "resnet50", images)
    quantize(folder, images)
    if args.encoder:
        trained = scratch / "trained"
        Encoder.load(args.encoder).save(trained)
        export_onnx(Encoder.load(trained), trained, sample_images())
        quantize(trained, images)
        for runtime in ("onnx", "int8"):
            roc = photos_test_roc_auc(load_encoder(trained, runtime))
            print(f"  {args.encoder} {runtime}: demo photos test ROC-AUC {roc:.4f}")
    rocs = {runtime: photos_test_roc_auc(load_encoder(folder, runtime)) for runtime in ("torch", "onnx",
                                                                                        "int8")}
    print(f"ResNet-50 224 px, {args.images} JPEGs 640x480, batch 32, 2 loader workers, "
          f"{torch.get_num_threads()} model threads")
    rates = {runtime: rate(folder, scratch / "jpegs", runtime, 2, None, scratch) for runtime in rocs}
    for runtime in rates:
        print(f"  {runtime:5s}: {rates[runtime]:6.1f} images/s, demo photos test ROC-AUC {rocs[runtime]:.4f}")
    if args.sweep:
        for workers, threads in ((0, 2), (1, 2), (2, 1), (1, 1)):
            print(f"  onnx, {workers} workers, {threads} threads: "
                  f"{rate(folder, scratch / 'jpegs', 'onnx', workers, threads, scratch):.1f} images/s")
    shutil.rmtree(scratch)
    print(f"onnx {rates['onnx']:.1f}, int8 {rates['int8']:.1f}, torch eager {rates['torch']:.1f} images/s: "
          f"onnx {rates['onnx'] / rates['torch']:.2f}x, int8 {rates['int8'] / rates['torch']:.2f}x; "
          f"int8 test ROC-AUC change {rocs['int8'] - rocs['onnx']:+.4f}")


if __name__ == "__main__":
    main()
