"""``train copies --config FIT.yaml | --data SOURCE | --splits-of RUN --out DIR``: pairs of a source's
val and test images with edited copies of them, to validate a run on and to evaluate it on."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from siamkit.cli.arguments import (
    ArgumentParser,
    add_on_bad_image_argument,
    non_negative_int,
    output_folder,
    positive_int,
)
from siamkit.cli.split_arguments import add_split_arguments, split_record
from siamkit.file_writes import STAGING, written_together
from siamkit.folders import holding

EDIT_HELP = {
    "photos": "demo:photos' (crops of 0.4-0.8 of the area, rotations up to 25 degrees, colour, blur, "
              "JPEG at quality 20-60, text)",
    "hard": "demo:photos-hard's (crops to a fifth, quarter turns, picture-in-picture, JPEG at quality 5-12)",
    "unseen": "demo:photos-unseen's (crops to a fifth, a perspective warp, noise, JPEG at quality 5-12)",
}
SIZE_RANGE = (32, 2048)
#: a thousand copies of each image is a data set of its own, not a check: more is a slip of the keyboard
MAX_COPIES = 1000


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="train copies",
        description="Make copy-detection pairs from a training source's own val and test images, split as "
                    "`train fit` splits it: each image against edited copies of itself (matches) and copies "
                    "of other images of its split (non-matches). Writes DIR/pairs.csv (with a split column) "
                    "and DIR/images/: `--data.val_data DIR/pairs.csv` validates a run on unlabelled images "
                    "on those edits, and `train evaluate --data DIR/pairs.csv` scores its test pairs.")
    add_split_arguments(parser)
    parser.add_argument("--out", required=True, type=output_folder,
                        help="a new or empty folder for pairs.csv and images/")
    parser.add_argument("--edits", choices=EDIT_HELP, default="photos",
                        help="the copies' edits: " + "; ".join(f"{name}, {text}" for name, text in
                                                               EDIT_HELP.items()) + " (default photos)")
    parser.add_argument("--copies", type=copy_count, default=2,
                        help=f"edited copies of each image, and as many non-matches, 1-{MAX_COPIES} "
                             "(default 2)")
    parser.add_argument("--regions", type=non_negative_int, default=0,
                        help="0 (default) pairs whole images, each copied as it is; N pairs N square "
                             "regions of each image instead (a grid's cells, as demo:photos pairs patches of "
                             "a dozen photographs), half the non-matches another region of the same image: "
                             "for a few large photographs, as a run on data.crops_per_image regions trains "
                             "on them")
    parser.add_argument("--size", type=copy_size, default=256,
                        help=f"each copy's side in pixels, {SIZE_RANGE[0]}-{SIZE_RANGE[1]} (default 256)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the edits and pairing")
    add_on_bad_image_argument(parser)
    return parser


def copy_count(text: str) -> int:
    value = positive_int(text)
    if value > MAX_COPIES:
        raise argparse.ArgumentTypeError(f"{text!r} is more than {MAX_COPIES} copies of each image")
    return value


def copy_size(text: str) -> int:
    value = positive_int(text)
    if not SIZE_RANGE[0] <= value <= SIZE_RANGE[1]:
        raise argparse.ArgumentTypeError(f"{text!r} is not a side from {SIZE_RANGE[0]} to {SIZE_RANGE[1]} px")
    return value


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    # two commands into one --out would share its staging folder
    with holding(args.out, "copies", f"--out {args.out} is being written by another `train copies` still "
                                     "running: wait for it to end, or give another --out"):
        return _copies(args)


def _copies(args: argparse.Namespace) -> int:
    from siamkit.data.copy_pairs import MADE_FROM_FILE, check_regions_fit, write_copy_pairs

    record = split_record(args)
    _check_out(args.out, record.source)
    more = _how_to_split_more(args, record.source)
    images, record = _images_to_copy(record, args.regions, args.on_bad_image, more)
    check_regions_fit([path for paths in images.values() for path in paths], args.regions)
    # written aside inside --out (which may be `.`, or a mount in a folder this user cannot write),
    # so that an interrupted run leaves it empty, not half made and refused
    with written_together(args.out) as staging:
        rows = write_copy_pairs(images, staging, args.edits, args.copies, args.size, args.seed, args.regions)
        (staging / MADE_FROM_FILE).write_text(json.dumps(record.to_dict(), indent=2) + "\n")
    _say_what_was_written(args, record.source, images, rows)
    _note_few_pairs(rows, more)
    return 0


def _how_to_split_more(args: argparse.Namespace, source: str) -> str:
    """What puts more images in the val and test splits, where the splits can change: not those a
    run recorded (--splits-of), nor a table's own split column."""
    from siamkit.data.splits import has_split_column

    if args.splits_of:
        return f"the splits themselves are those {args.splits_of} trained with"
    if has_split_column(source):
        return f"or give {source}'s split column more val and test rows"
    return ("or put more images in each split (more images, or other split settings such as "
            "--split-fractions 0.6 0.2 0.2)")


def _check_out(out: Path, source: str) -> None:
    """--out is new or empty, and outside a source folder (where the copies would join its images)."""
    from siamkit.data.demo import resolve_source
    from siamkit.errors import SiamkitError

    if out.is_dir() and any(path.name != STAGING for path in out.iterdir()):
        raise SiamkitError(f"--out {out} is not empty: choose a new or empty folder")
    location = resolve_source(source)
    if location.is_dir() and out.resolve().is_relative_to(location.resolve()):
        raise SiamkitError(f"--out {out} is inside {source}, where the copies would join the images they "
                           "copy: choose a folder outside it")


def _images_to_copy(record, regions: int, on_bad_image: str, more: str) -> tuple[dict[str, list[str]], Any]:
    """The readable images of the val and test splits that give two originals or more, with a note
    for a split that does not (refused where neither does, saying ``more``); and the record of the
    split read."""
    from siamkit.data.scan import scan_images
    from siamkit.data.split_images import images_in
    from siamkit.data.splits import split_source
    from siamkit.errors import SiamkitError
    from siamkit.wording import counted

    data, record = split_source(record)
    images = {split: images_in(data, (split,)) for split in ("val", "test")}
    bad = scan_images([path for paths in images.values() for path in paths], on_bad_image,
                      "pass --on-bad-image skip")
    images = {split: _one_of_each_file([path for path in paths if path not in bad], split)
              for split, paths in images.items()}
    too_few = {split: len(paths) for split, paths in images.items() if len(paths) * max(regions, 1) < 2}
    if len(too_few) == len(images):
        counts = " and ".join(f"{count} {split}" for split, count in too_few.items())
        raise SiamkitError(f"{record.source} has {counts} images: a split needs two for its non-matches "
                           f"(copies of another image). --regions 6 pairs regions of each image instead; "
                           f"{more}")
    for split, count in too_few.items():
        print(f"note: the {split} split has {counted(count, 'image')}, too few for non-matches: "
              f"no {split} pairs")
    return {split: paths for split, paths in images.items() if split not in too_few}, record


def _one_of_each_file(paths: list[str], split: str) -> list[str]:
    """A split's images, copies of one file (the same bytes under two names) once: the copy of one
    would be the other's non-match."""
    from siamkit.data.same_bytes import later_copies
    from siamkit.wording import counted

    copies = later_copies(paths)
    if copies.any():
        print(f"note: the {split} split repeats {counted(int(copies.sum()), 'file')} under other names (the "
              "same bytes): each is copied once")
    return [path for path, copy in zip(paths, copies) if not copy]


def _say_what_was_written(args: argparse.Namespace, source: str, images: dict[str, list[str]],
                          rows: list[tuple[str, str, int, str]]) -> None:
    from siamkit.data.copy_pairs import PAIRS_FILE
    from siamkit.wording import counted

    table = args.out / PAIRS_FILE
    counts = ", ".join(f"{sum(row[3] == split for row in rows)} {split}" for split in images)
    regions = f" ({counted(args.regions, 'region')} each)" if args.regions else ""
    uses = [f"Validate a run on {source} with --data.val_data {table}" if "val" in images else "",
            f"Score its test pairs with `train evaluate --data {table} --methods ... --out DIR`"
            if "test" in images else ""]
    print(f"wrote {table}: {counted(len(rows), 'pair')} ({counts}; half of each matches) of "
          f"{counted(sum(map(len, images.values())), 'image')}{regions} of {source} with {args.edits} "
          "edits. " + ". ".join(filter(None, uses)))


def _note_few_pairs(rows: list[tuple[str, str, int, str]], more: str) -> None:
    """Splits with too few pairs for a figure to mean much are said before anything is chosen on them."""
    from siamkit.evaluation.metrics import FEW_PAIRS

    matches = {split: sum(row[2] == 1 for row in rows if row[3] == split) for split in ("val", "test")}
    if few := [f"{count} {split}" for split, count in matches.items() if 0 < count < FEW_PAIRS]:
        print(f"note: {' and '.join(few)} matches, fewer than {FEW_PAIRS} a split: a ROC-AUC and its "
              f"interval on so few say little, and what is chosen on them can tie; --regions N or --copies N "
              f"make more pairs; {more}")
