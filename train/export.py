"""``train export --ckpt CKPT --out DIR [--onnx] [--quantize int8] [--sentence-transformers]``:
a training checkpoint -> a self-describing encoder folder."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from siamkit.errors import SiamkitError
from siamkit.train.arguments import ArgumentParser, number_between, output_folder, positive_int


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="train export",
        description="Write the encoder (backbone + head) of a `train fit` checkpoint to a folder: "
                    "model.safetensors and config.json, optionally model.onnx (checked against PyTorch), "
                    "an int8 model.int8.onnx and a sentence-transformers layout. The folder appears only "
                    "when all of it is written. `train score / evaluate / embed` and Encoder.load take it.")
    parser.add_argument("--ckpt", required=True,
                        help="checkpoint from `train fit` (e.g. runs/NAME/checkpoints/last.ckpt)")
    parser.add_argument("--out", required=True, type=output_folder, help="encoder folder to write")
    parser.add_argument("--onnx", action="store_true", help="also write model.onnx (dynamic batch size)")
    parser.add_argument("--quantize", choices=("int8",),
                        help="also write model.int8.onnx (implies --onnx): static quantization calibrated on "
                             "the training images of --check-data, kept only if its ROC-AUC on its val pairs "
                             "stays within 0.005 of the float model's")
    parser.add_argument("--check-data",
                        help="labelled pairs or classes whose training images calibrate the int8 model and "
                             "whose val split checks it (default: the run's training data, if labelled)")
    parser.add_argument("--calibration-images", type=positive_int, default=64,
                        help="training images that set the int8 ranges (default 64)")
    parser.add_argument("--sentence-transformers", action="store_true",
                        help="also make the folder loadable with "
                             "SentenceTransformer(DIR, trust_remote_code=True)")
    parser.add_argument("--wise-ft", type=number_between(0.0, 1.0, "an interpolation weight"),
                        metavar="ALPHA",
                        help="interpolate the backbone toward the pretrained start it was fine-tuned from: "
                             "(1 - ALPHA) * start + ALPHA * fine-tuned (WiSE-FT; 1 = as trained). Choose "
                             "ALPHA on val pairs: export a few, `train evaluate --split val` them")
    parser.add_argument("--features", choices=("head", "backbone"), default="head",
                        help="what the encoder outputs: the projection head's embedding (default), or the "
                             "pooled backbone features before it (often more robust; choose on val)")
    parser.add_argument("--force", action="store_true", help="replace an existing encoder folder")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)

    from siamkit.models.encoder import Encoder
    from siamkit.models.robust_fine_tuning import interpolate_toward_start, without_head

    out = args.out
    if not Path(args.ckpt).is_file():
        raise SiamkitError(f"checkpoint {args.ckpt} does not exist "
                           "(checkpoints are in <run folder>/checkpoints/)")
    if out.exists() and any(out.iterdir()):
        if not args.force:
            raise SiamkitError(f"{out} already exists and is not empty; choose "
                               "another --out, or add --force to replace it")
        _check_replaceable(out, Path(args.ckpt))
    if args.check_data and not args.quantize:
        raise SiamkitError("--check-data checks an int8 model: add --quantize int8, or leave it out")
    encoder = Encoder.from_checkpoint(args.ckpt)
    if args.wise_ft is not None:
        interpolate_toward_start(encoder, args.wise_ft)
    if args.features == "backbone":
        encoder = without_head(encoder)
    quantize_data = _quantize_data(encoder, args) if args.quantize else None  # checked before any writing
    staging = out.parent / f".{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        written = _write(encoder, staging, args.onnx or bool(args.quantize), args.sentence_transformers)
        if quantize_data:
            written.append(_write_int8(staging, *quantize_data))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    print(f"encoder: {encoder.card.architecture.backbone.class_path.rsplit('.', 1)[-1]} "
          f"-> {encoder.embedding_dim}-d embeddings, "
          f"{encoder.image_config.size} px; fingerprint {encoder.fingerprint}")
    print(f"wrote {out}/: " + "; ".join(written))
    return 0


def _check_replaceable(out: Path, checkpoint: Path) -> None:
    """``--force`` replaces an encoder folder siamkit wrote, and nothing else: not a run folder,
    not a folder of images, not the folder the checkpoint is in."""
    from siamkit.models.card import EncoderCard

    if checkpoint.resolve().is_relative_to(out.resolve()):
        raise SiamkitError(f"--out {out} holds the checkpoint being exported; --force would delete it. "
                           "Choose another --out")
    try:
        EncoderCard.read(out)
    except SiamkitError:
        raise SiamkitError(f"--out {out} is not an encoder folder written by `train export` (no siamkit "
                           "config.json), so --force will not replace it; choose another --out") from None


def _write(encoder, folder: Path, onnx: bool, sentence_transformers: bool) -> list[str]:
    from siamkit.models.card import CONFIG_FILE

    encoder.save(folder)
    written = ["model.safetensors", CONFIG_FILE]
    if onnx:
        from siamkit.models.onnx_export import ONNX_FILE, export_onnx, sample_images

        difference = export_onnx(encoder, folder, sample_images())
        written.append(f"{ONNX_FILE} (cosine difference to PyTorch {difference:.1e})")
    if sentence_transformers:
        from siamkit.models.st_layout import save_sentence_transformers_layout

        save_sentence_transformers_layout(encoder, folder)
        written.append("modules.json, config_sentence_transformers.json (sentence-transformers layout)")
    return written


def _quantize_data(encoder, args: argparse.Namespace) -> tuple:
    """(calibration images, their source, val pairs, their source), read before anything is written:
    both from the check data (the images the encoder is meant for; a run may train on other
    images, such as regions of whole photographs). The run's own data is split as training split
    it; other data with the default splits."""
    from siamkit.data.demo import resolve_source
    from siamkit.data.sources import DEFAULT_SPLIT_FRACTIONS, read_source
    from siamkit.evaluation.pairs import load_evaluation_data

    trained = encoder.card.trained_on
    run = None
    if trained and trained.source:
        run = (trained.source, trained.root, trained.split_fractions or DEFAULT_SPLIT_FRACTIONS,
               trained.split_seed or 0)
    check = run
    if args.check_data and not (run and args.check_data == run[0]):
        check = (args.check_data, None, DEFAULT_SPLIT_FRACTIONS, 0)
    if check is None:
        raise SiamkitError(f"{args.ckpt} does not say what it was trained on: pass --check-data with "
                           "labelled pairs or classes to calibrate and check the int8 model")
    try:
        pairs = load_evaluation_data(check[0], "val", *check[1:]).pairs["val"]
    except SiamkitError as error:
        raise SiamkitError(f"--quantize int8 checks the model on labelled val pairs: {error}; "
                           "pass --check-data with labelled pairs or classes (e.g. demo:photos)") from None
    source, root, fractions, seed = check
    data = read_source(resolve_source(source), root=root, fractions=fractions, seed=seed)
    train = sorted(data.subset(data.split == "train").paths())
    chosen = train[:: max(1, len(train) // args.calibration_images)][:args.calibration_images]
    images = [str(data.root / path) for path in chosen]
    return images, source, (list(pairs.a), list(pairs.b), pairs.label), check[0]


def _write_int8(folder: Path, images: list[str], calibration_data: str, pairs: tuple, check: str) -> str:
    from siamkit.models.quantization import quantize_int8

    record = quantize_int8(folder, images, calibration_data, pairs, check)
    return (f"{record.file} (ROC-AUC on {record.check_pairs} val pairs of {check}: int8 "
            f"{record.roc_auc_int8:.4f}, float {record.roc_auc_float:.4f}; cosine to float >= "
            f"{record.cosine_min:.4f})")
