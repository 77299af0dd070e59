"""``train duplicates IMAGES_DIR --out OUT [--encoder DIR | --method pdq] [--against REF_DIR]
[--keep largest] [--action move --to DIR]`` and ``train duplicates --undo MANIFEST``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from siamkit.cli.arguments import (
    BACKGROUND_K,
    ArgumentParser,
    add_background_arguments,
    add_on_bad_image_argument,
    add_runtime_arguments,
    check_background_k,
    check_model_options_apply,
    check_own_files,
    holding_report,
    load_encoder_for,
    non_negative_int,
    number_between,
    output_folder,
    positive_int,
)
from siamkit.errors import SiamkitError
from siamkit.folders import why_unwritable
from siamkit.runtimes import START_SUFFIX, encoder_location, names_a_network
from siamkit.wording import counted

HASHES = ("phash", "pdq", "pdq:dihedral")
#: what --out holds afterwards
OWN_FILES = ("duplicates.csv", "duplicates.html", "matches.csv", "matches.html", "index", "reference_index")


#: how near pairs form groups, and which image of a group is kept: each default first
GROUPINGS = ("star", "components")
KEEPS = ("largest", "oldest", "first")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="train duplicates",
        description=(
            "Find near-duplicates in stages, cheapest first: identical files and identical pixels, then "
            "every pair at or above the threshold by an encoder (embeddings kept in OUT/index, so a rerun "
            "embeds only new and changed images) or a perceptual hash, found by nearest-neighbour range "
            "search; optionally re-checked with SIFT. Groups do not chain: every member is within the "
            "threshold of its group's representative. Writes duplicates.csv and duplicates.html (with "
            "--against: matches.csv and matches.html). Nothing is deleted."))
    parser.add_argument("images", nargs="?", help="folder of images")
    parser.add_argument("--out", type=output_folder, help="folder for the index and the results")
    parser.add_argument("--against",
                        help="reference folder: report, for each image of IMAGES_DIR, its copies there")
    parser.add_argument("--grouping", choices=GROUPINGS,
                        help="star: every member within the threshold of the representative (default); "
                             "components: connected components, which chain (not with --against)")
    parser.add_argument("--keep", choices=KEEPS,
                        help="the image kept in each group (default largest; not with --against)")
    parser.add_argument("--action", choices=("report", "move"), default="report",
                        help="report (default): write the CSV and HTML only; move: move the others of each "
                             "group (with --against: the queries that have copies) to --to")
    parser.add_argument("--to", type=Path, help="new or empty folder that --action move moves files into")
    parser.add_argument("--undo", type=Path, metavar="MANIFEST",
                        help="move back what an earlier --action move moved (its --to folder's "
                             "siamkit-moves.jsonl)")
    add_comparison_arguments(parser)
    parser.add_argument("--batch-size", type=positive_int, default=64,
                        help="images the model embeds at a time")
    parser.add_argument("--num-workers", type=non_negative_int, default=2,
                        help="processes decoding and hashing images (0: in this process)")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.undo:
        return _undo(args)
    _check(args)
    with holding_report(args.out):
        return _find_duplicates(args)


def _find_duplicates(args: argparse.Namespace) -> int:
    from siamkit.retrieval.collection import list_images
    from siamkit.retrieval.moves import check_destination

    folders = [Path(args.images)] + ([Path(args.against)] if args.against else [])
    if args.action == "move":
        check_destination(args.to, folders)
        if reason := why_unwritable(Path(args.images)):
            raise SiamkitError(f"--action move: {reason}, so no file can be moved out of {args.images}; "
                               "leave --action out to report only")
    listings = [list_images(folder) for folder in folders]
    method = method_from(args, [image for listing in listings for image in listing.images])
    from siamkit.cli.find_duplicates import find_copies, find_groups

    if args.against:
        return find_copies(args, method, *listings)
    return find_groups(args, method, listings[0])


def _check(args: argparse.Namespace) -> None:
    if not args.images or not args.out:
        raise SiamkitError("give IMAGES_DIR and --out (or --undo MANIFEST alone)")
    check_own_files(args.out, OWN_FILES)
    if bool(args.encoder) == bool(args.method):
        raise SiamkitError("choose what finds duplicates: --encoder DIR (a trained model) or --method "
                           f"{' | '.join(HASHES)} (a perceptual hash)")
    if args.action == "move" and not args.to:
        raise SiamkitError("--action move needs --to DIR: a new or empty folder for the moved files")
    if args.to and args.action != "move":
        raise SiamkitError("--to is where --action move puts files: add --action move, or leave --to out")
    given = [f"--{name}" for name in ("grouping", "keep") if getattr(args, name)]
    if args.against and given:
        options = " and ".join(given)
        verb = "shapes" if len(given) == 1 else "shape"
        raise SiamkitError(f"{options} {verb} the groups within one folder, and --against reports copies in "
                           f"another instead: leave {options} out")
    if args.against and not Path(args.against).is_dir():
        from siamkit.data.images import url_hint

        hint = url_hint(args.against)
        raise SiamkitError(f"--against {args.against} does not exist (or is not a folder){hint}")
    if args.against:
        images, against = Path(args.images).resolve(), Path(args.against).resolve()
        if images.is_relative_to(against) or against.is_relative_to(images):
            raise SiamkitError(f"--against {args.against} and {args.images} overlap, so every image would "
                               "match itself; give two separate folders")


def add_comparison_arguments(parser: ArgumentParser, default_method: str | None = None) -> None:
    """What compares images (an encoder or a hash at a threshold, then the optional SIFT
    re-check) and how they are read and run: `train duplicates` and `train leaks` alike."""
    from siamkit.retrieval.verification import DEFAULT_MIN_MATCHES

    parser.add_argument("--encoder",
                        help="encoder folder (its calibrated threshold is the default), run folder or .ckpt; "
                             "FOLDER@start for the network it was fine-tuned from; timm:MODEL[:WEIGHTS] or "
                             "open_clip:MODEL:TAG for a pretrained network as it came")
    parser.add_argument("--method", choices=HASHES,
                        help="a perceptual hash instead of an encoder (no model; default thresholds: "
                             "phash 0.844, pdq 0.879)"
                             + (f"; {default_method} when neither is given" if default_method else ""))
    parser.add_argument("--threshold", type=number_between(-1.0, 1.0, "a similarity"),
                        help="similarity for a near-duplicate (default: the encoder's calibrated one, or "
                             "the hash's)")
    parser.add_argument("--recheck-sift", action="store_true",
                        help="keep only pairs whose SIFT matches agree on one shift, turn and scale")
    parser.add_argument("--sift-min-matches", type=positive_int,
                        help=f"agreeing SIFT matches that confirm a pair (default {DEFAULT_MIN_MATCHES})")
    add_on_bad_image_argument(parser)
    add_runtime_arguments(parser)
    add_background_arguments(parser)


def recheck_matches(args: argparse.Namespace) -> Optional[int]:
    """The agreeing SIFT matches that confirm a pair; None without --recheck-sift."""
    from siamkit.retrieval.verification import DEFAULT_MIN_MATCHES

    return (args.sift_min_matches or DEFAULT_MIN_MATCHES) if args.recheck_sift else None


def method_from(args: argparse.Namespace, compared: list[str]):
    """The ``Method`` that ``--encoder`` (with the runtime and background options) or
    ``--method`` names, to compare the images ``compared``."""
    from siamkit.retrieval.duplicates import Method

    check_background_k(args)
    check_model_options_apply(args, bool(args.encoder), "compare with --encoder instead of --method")
    if args.sift_min_matches is not None and not args.recheck_sift:
        raise SiamkitError("--sift-min-matches is the bar of --recheck-sift: add --recheck-sift, or leave "
                           "--sift-min-matches out")
    if args.background and args.threshold is None:
        raise SiamkitError("--background scores are not cosines, so the calibrated threshold does not "
                           "apply: pass --threshold (choose it with `train evaluate --background`)")
    if args.method:
        from siamkit.scoring.registry import get_scorer

        scorer = get_scorer(args.method)
        threshold = args.threshold if args.threshold is not None else scorer.match_similarity
        return Method(args.method, threshold, scorer=scorer)
    encoder = load_encoder_for(args, args.encoder)
    threshold = args.threshold if args.threshold is not None else encoder.threshold
    if threshold is None and (args.encoder.endswith(START_SUFFIX) or names_a_network(args.encoder)):
        raise SiamkitError(f"{args.encoder} has no calibrated threshold (no folder of its own to hold one): "
                           "pass --threshold")
    if threshold is None:
        from siamkit.models.card import CONFIG_FILE

        how = (f"calibrate it with `train evaluate --methods ...,{args.encoder} --calibrate` on labelled data"
               if (Path(args.encoder) / CONFIG_FILE).is_file() else  # an encoder folder, to write into
               f"export it with one: `train export --ckpt {args.encoder} --out DIR --calibrate`")
        raise SiamkitError(f"encoder {args.encoder} has no calibrated threshold: pass --threshold, or {how}")
    if args.threshold is None:
        calibration = encoder.card.calibration
        print(f"threshold {threshold:.4f}: {args.encoder}'s calibrated one ({calibration.rule} on "
              f"{calibration.pairs:,} {calibration.split} pairs of {calibration.data}); --threshold sets "
              "another", file=sys.stderr)
        _note_a_class_threshold(encoder, args.encoder)
        _note_false_matches(calibration, len(compared))
    background, background_k = None, args.background_k or BACKGROUND_K
    if args.background:
        from siamkit.retrieval.score_normalization import background_images

        background = encoder.embed(background_images(args.background, background_k, compared),
                                   progress="embedding the background")
    return Method(encoder_location(args.encoder), threshold, encoder=encoder, background=background,
                  background_k=background_k)


def _note_false_matches(calibration, images: int) -> None:
    """best_f1 chooses a threshold for val pairs half of which match; among the pairs of a folder,
    nearly all non-matches, the share of non-matches it lets through can be many pairs."""
    rate, pairs = calibration.false_match_rate, images * (images - 1) // 2
    if calibration.rule != "best_f1" or rate is None or rate * pairs < 1:
        return
    print(f"note: that threshold lets through {rate:.1%} of the {calibration.split} pairs' non-matches "
          f"(best_f1 chooses it for pairs half of which match); the {images:,} images here make up to "
          f"{pairs:,} pairs, nearly all non-matches, where even a far smaller share is many false pairs. For "
          "near-duplicates only, pass a --threshold nearer 1, or calibrate on a false-match rate "
          "(`--calibrate --threshold fmr=X`)", file=sys.stderr)


def _note_a_class_threshold(encoder, name: str) -> None:
    """A threshold calibrated for a model trained on classes says "same class", not "a copy"."""
    trained_on = encoder.card.trained_on
    if trained_on is not None and trained_on.kind == "classes":
        print(f"note: {name} was trained on classes ({trained_on.source}), so its calibrated threshold "
              f"{encoder.threshold:.4f} takes two images of one class as the same; to find only copies, "
              "pass a --threshold nearer 1", file=sys.stderr)


def _undo(args: argparse.Namespace) -> int:
    if args.images or args.action != "report" or args.to:
        raise SiamkitError("--undo MANIFEST takes no image folder, --action or --to")
    from siamkit.retrieval.moves import undo_moves

    moved = undo_moves(args.undo)
    print(f"moved {counted(moved, 'file')} back to where {'it was' if moved == 1 else 'they were'}")
    return 0
