"""``train export --ckpt CKPT --out DIR [--onnx] [--quantize int8] [--sentence-transformers]``:
a training checkpoint -> a self-describing encoder folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from siamkit.cli.arguments import (
    ArgumentParser,
    number_between,
    output_folder,
    positive_int,
    scale_list,
    threshold_rule,
)
from siamkit.errors import SiamkitError
from siamkit.file_writes import made_whole
from siamkit.folders import holding
from siamkit.wording import counted

#: training images that set the int8 ranges unless --calibration-images says otherwise
CALIBRATION_IMAGES = 64


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="train export",
        description="Write the encoder (backbone + head) of a `train fit` checkpoint to a folder: "
                    "model.safetensors and config.json, optionally model.onnx (checked against PyTorch), "
                    "an int8 model.int8.onnx and a sentence-transformers layout. The folder appears only "
                    "when all of it is written. `train score / evaluate / embed` and Encoder.load take it.")
    parser.add_argument("--ckpt", required=True,
                        help="checkpoint from `train fit` (e.g. runs/NAME/checkpoints/last.ckpt), or a run "
                             "folder for its best checkpoint")
    parser.add_argument("--out", required=True, type=output_folder, help="encoder folder to write")
    parser.add_argument("--onnx", action="store_true", help="also write model.onnx (dynamic batch size)")
    parser.add_argument("--quantize", choices=("int8",),
                        help="also write model.int8.onnx (implies --onnx): static quantization calibrated on "
                             "the training images of --check-data, kept only if its ROC-AUC on its val pairs "
                             "stays within 0.005 of the float model's (otherwise a note says so)")
    parser.add_argument("--check-data",
                        help="labelled pairs or classes whose training images calibrate the int8 model and "
                             "whose val split checks it (default: the run's data.val_data, else its training "
                             "data, if labelled)")
    parser.add_argument("--calibration-images", type=positive_int,
                        help=f"training images that set the int8 ranges (default {CALIBRATION_IMAGES})")
    parser.add_argument("--sentence-transformers", action="store_true",
                        help="also make the folder loadable with "
                             "SentenceTransformer(DIR, trust_remote_code=True)")
    parser.add_argument("--wise-ft", type=number_between(0.0, 1.0, "an interpolation weight"),
                        metavar="ALPHA",
                        help="interpolate the backbone toward the pretrained start it was fine-tuned from: "
                             "(1 - ALPHA) * start + ALPHA * fine-tuned (WiSE-FT; 1 = as trained)")
    parser.add_argument("--features", choices=("head", "backbone", "backbone+mid"),
                        help="what the encoder outputs: the projection head's embedding (the default), the "
                             "pooled backbone features before it (often more robust), or those joined by "
                             "the average-pooled map of a stage at twice the final resolution (timm CNNs)")
    parser.add_argument("--scales", type=scale_list, metavar="S,S,...",
                        help="embed at each of these multiples of the input size and average (multi-scale "
                             "descriptors, e.g. 0.7071,1,1.4142; CNN backbones only); default 1")
    parser.add_argument("--choose-on-val", action="store_true",
                        help="choose --features, --wise-ft and --scales (those not given; scales: 1 or "
                             "0.7071,1,1.4142) by ROC-AUC on the val pairs of --check-data or the run's "
                             "labelled data (the head's output only where clearly better than the "
                             "backbone features, and those only where clearly better than with "
                             "mid-level ones); prints every variant's figure and records the choice in "
                             "config.json")
    parser.add_argument("--calibrate", action="store_true",
                        help="store a same / different threshold, chosen on those val pairs by "
                             "--threshold, in config.json, so `train score` and `train duplicates` answer "
                             "with it (as `train evaluate --calibrate` does for a folder already exported)")
    parser.add_argument("--threshold", type=threshold_rule, metavar="RULE",
                        help="how --calibrate chooses: best_f1 (the default) or fmr=X, the lowest threshold "
                             "whose false-match rate is at most X (e.g. fmr=0.001 for duplicates)")
    parser.add_argument("--force", action="store_true", help="replace an existing encoder folder")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    # two exports to one --out would share its staging folder, each deleting the other's files
    with holding(args.out, "export", f"{args.out} is being written by another `train export` still running: "
                                     "wait for it to end, or give another --out"):
        return _export(args)


def _export(args: argparse.Namespace) -> int:
    from siamkit.cli.export_check_data import calibrate, check_data, check_not_trained_on, val_pairs
    from siamkit.models.encoder import Encoder
    from siamkit.models.export_variants import (
        at_scales,
        interpolate_toward_start,
        with_mid_level,
        without_head,
    )

    out = args.out
    args.ckpt = str(_checkpoint_of(Path(args.ckpt)))
    _check_arguments(args)
    encoder = Encoder.from_checkpoint(args.ckpt)
    if args.features == "backbone+mid" and encoder.backbone.mid_level_dim is None:
        backbone = type(encoder.backbone).__name__
        raise SiamkitError(f"--features backbone+mid: this {backbone} has no mid-level features (a timm "
                           "CNN has them); choose --features head or backbone")
    if args.scales:
        encoder = at_scales(encoder, args.scales)
    check = check_data(encoder, args) if args.quantize or args.choose_on_val or args.calibrate else None
    data, pairs = val_pairs(check, args) if check else (None, None)  # read once, before any writing
    if check:
        check_not_trained_on(encoder, check, pairs, args.ckpt)
    count = args.calibration_images or CALIBRATION_IMAGES
    calibration = _calibration_images(encoder, data, check, count, args.ckpt) if args.quantize else None
    if args.choose_on_val:
        encoder = _choose(encoder, args, pairs)
    else:
        if args.wise_ft is not None:
            interpolate_toward_start(encoder, args.wise_ft)
        if args.features == "backbone":
            encoder = without_head(encoder)
        elif args.features == "backbone+mid":
            encoder = with_mid_level(encoder)
    if args.calibrate:
        calibrate(encoder, pairs, check.source, args.threshold or "best_f1")
    with made_whole(out) as staging:
        written = _write(encoder, staging, out, args.onnx or bool(args.quantize), args.sentence_transformers)
        if calibration:
            written += _write_int8(staging, *calibration, pairs, check.source)
    print(f"encoder: {_summary(encoder)}")
    print(f"wrote {out}/: " + "; ".join(written))
    return 0


def _check_arguments(args: argparse.Namespace) -> None:
    """What can be refused before the checkpoint loads."""
    from siamkit.cli.export_check_data import check_data_has_labels

    if args.out.exists() and any(args.out.iterdir()):
        if not args.force:
            raise SiamkitError(f"{args.out} already exists and is not empty; choose "
                               "another --out, or add --force to replace it")
        _check_replaceable(args.out, Path(args.ckpt))
    if args.check_data and not (args.quantize or args.choose_on_val or args.calibrate):
        raise SiamkitError("--check-data gives the val pairs of --quantize int8, --choose-on-val and "
                           "--calibrate: add one of them, or leave it out")
    if args.threshold and not args.calibrate:
        raise SiamkitError("--threshold says how --calibrate chooses: add --calibrate, or leave --threshold "
                           "out")
    if args.calibration_images is not None and not args.quantize:
        raise SiamkitError("--calibration-images sets the ranges of --quantize int8: add it, or leave "
                           "--calibration-images out")
    if args.check_data:
        check_data_has_labels(args)


def _summary(encoder) -> str:
    """``TimmBackbone -> 1280-d embeddings, 64 px x 0.7071,1,1.4142; fingerprint ...``"""
    backbone = encoder.card.architecture.backbone.class_path.rsplit(".", 1)[-1]
    sizes = "" if encoder.scales == (1.0,) else " x " + ",".join(f"{s:g}" for s in encoder.scales)
    mid = " with mid-level features" if encoder.mid_level else ""
    return (f"{backbone}{mid} -> {encoder.embedding_dim}-d embeddings, {encoder.image_config.size} px"
            f"{sizes}; fingerprint {encoder.fingerprint}")


def _checkpoint_of(given: Path) -> Path:
    """--ckpt: a .ckpt file, or a run folder's best checkpoint."""
    from siamkit.models.card import CONFIG_FILE
    from siamkit.models.checkpoints import refuse_checkpoint_folder, run_checkpoint

    if (given / "checkpoints").is_dir():
        return run_checkpoint(given)
    refuse_checkpoint_folder(given, "--ckpt")
    if (given / CONFIG_FILE).is_file():
        raise SiamkitError(f"--ckpt {given} is an encoder folder, exported already; export reads a run "
                           "folder or a .ckpt from `train fit`")
    if not given.is_file():
        raise SiamkitError(f"checkpoint {given} does not exist (checkpoints are in <run "
                           "folder>/checkpoints/)")
    return given


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


def _write(encoder, folder: Path, out: Path, onnx: bool, sentence_transformers: bool) -> list[str]:
    """The encoder's files into ``folder``, which becomes ``out`` once whole."""
    from siamkit.models.card import CONFIG_FILE

    encoder.save(folder)
    written = ["model.safetensors", CONFIG_FILE]
    if onnx:
        from siamkit.models.onnx_export import ONNX_FILE, export_onnx, sample_images

        difference = export_onnx(encoder, folder, sample_images())
        written.append(f"{ONNX_FILE} (cosine difference to PyTorch {difference:.1e})")
    if sentence_transformers:
        from siamkit.models.st_layout import save_sentence_transformers_layout

        save_sentence_transformers_layout(encoder, folder, _summary(encoder), str(out))
        written.append("modules.json, config_sentence_transformers.json, README.md (sentence-transformers "
                       "layout)")
    return written


def _choose(encoder, args: argparse.Namespace, pairs: tuple):
    from siamkit.cli.export_choice import ALPHAS, FEATURES, SCALES, choose_on_val

    if args.wise_ft is not None:
        alphas = (args.wise_ft,)
    else:
        alphas = ALPHAS if encoder.card.initialised_from is not None else (1.0,)
    if args.features:
        features = (args.features,)
    else:
        features = FEATURES if encoder.backbone.mid_level_dim is not None else FEATURES[:-1]
    if args.scales:
        scales = (encoder.scales,)
    else:
        scales = SCALES if encoder.any_input_size else ((1.0,),)
    chosen, variants, note = choose_on_val(encoder, pairs, alphas, features, scales)
    print(f"val ROC-AUC of each variant ({counted(len(pairs[2]), 'pair')}):")
    for variant in variants:
        mark = " <- chosen" if variant[:3] == _choice_of(chosen) else ""
        sizes = ",".join(f"{s:g}" for s in variant.scales)
        print(f"  wise-ft {variant.alpha:.2f}, {variant.output:<12} at {sizes:<20} "
              f"{variant.roc_auc:.4f}{mark}")
    best = max(variant.roc_auc for variant in variants)
    if (tied := sum(variant.roc_auc == best for variant in variants)) > 1:
        print(f"note: {tied} of the {len(variants)} variants tie for the best val ROC-AUC ({best:.4f}); the "
              "val pairs cannot tell them apart, so the tie goes to the first of them in the list, and its "
              "output to the later one that transfers better. More or harder val pairs (--check-data) would "
              "tell them apart", file=sys.stderr)
    if note:
        print(f"note: {note}", file=sys.stderr)
    if len(variants) > 1:
        print(f"note: the export was chosen among {len(variants)} variants on these same val pairs, so its "
              "figure here reads high; `train evaluate` on the test pairs says how it does", file=sys.stderr)
    if chosen.card.wise_ft_alpha == 0.0:
        kept = "it is the start itself" if chosen.head is None else "only the head is trained"
        print("note: fine-tuning did not pay off on these val pairs: WiSE-FT alpha 0 won, so the export "
              f"keeps none of the fine-tuned backbone weights ({kept}). More steps, a lower learning rate or "
              "val pairs more like your use (--check-data) may change that", file=sys.stderr)
    return chosen


def _choice_of(encoder) -> tuple[float, str, tuple[float, ...]]:
    alpha = encoder.card.wise_ft_alpha
    output = "head" if encoder.head is not None else "backbone+mid" if encoder.mid_level else "backbone"
    return (1.0 if alpha is None else alpha), output, encoder.scales


def _calibration_images(encoder, data, check, count: int, ckpt: str) -> tuple[list[str], str]:
    """``count`` training images, spread over their sorted listing, and the data they come from:
    the check data's train split, else the run's own (pairs from `train copies` have only val and
    test images)."""
    from siamkit.data.split_images import images_in
    from siamkit.data.splits import split_source

    source, train = check.source, images_in(data, ("train",))
    trained = encoder.card.trained_on
    if not train and trained is not None and not trained.same_source(check):
        source, train = trained.source, images_in(split_source(trained)[0], ("train",))
    if not train:
        raise SiamkitError(f"--quantize int8 calibrates on training images, and neither {check.source}'s "
                           f"train split nor the data {ckpt} was trained on has any: pass --check-data with "
                           "a train split, or leave --quantize out")
    return train[:: max(1, len(train) // count)][:count], source


def _write_int8(folder: Path, images: list[str], calibration_data: str, pairs: tuple,
                source: str) -> list[str]:
    """model.int8.onnx, or nothing where it ranks the val pairs worse than the float model by more
    than allowed (the float export stands: it is what the user has, and took the time)."""
    from siamkit.models.quantization import Int8RanksWorse, quantize_int8

    try:
        record = quantize_int8(folder, images, calibration_data, pairs, source)
    except Int8RanksWorse as refused:
        print(f"note: {refused}", file=sys.stderr)
        return []
    return [f"{record.file} (calibrated on {record.calibration_images} training images of "
            f"{calibration_data}; ROC-AUC on {record.check_pairs:,} val pairs of {source}: int8 "
            f"{record.roc_auc_int8:.4f}, float {record.roc_auc_float:.4f}; cosine to float >= "
            f"{record.cosine_min:.4f})"]
