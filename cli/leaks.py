"""``train leaks --config FIT.yaml | --data SOURCE --out DIR``: near-duplicate images on two sides of
a split."""

from __future__ import annotations

import argparse
import sys

from siamkit.cli.arguments import ArgumentParser, check_own_files, holding_report, output_folder
from siamkit.cli.duplicates import add_comparison_arguments, method_from, recheck_matches
from siamkit.cli.split_arguments import add_split_arguments, split_record_and_val_data
from siamkit.wording import counted

#: what --out holds afterwards
OWN_FILES = ("leaks.csv", "leaks.html", "index")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="train leaks",
        description="List near-duplicate images that sit on two sides of train / val / test of a training "
                    "source, split as `train fit` splits it; write leaks.csv and leaks.html. Exits 1 when it "
                    "finds any (so it can gate a pipeline), 0 when there are none, 2 on a usage error and 3 "
                    "on a bug in siamkit (never 1).")
    add_split_arguments(parser)
    parser.add_argument("--val-data",
                        help="a run's data.val_data (labelled pairs or classes): its val and test images are "
                             "checked against the source's images too, as `train fit` checks them (default: "
                             "--config's data.val_data, or the one the run --splits-of names recorded)")
    parser.add_argument("--out", required=True, type=output_folder,
                        help="folder for leaks.csv and leaks.html")
    add_comparison_arguments(parser, default_method="pdq")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    check_own_files(args.out, OWN_FILES)
    with holding_report(args.out):
        return _find_leaks(args)


def _find_leaks(args: argparse.Namespace) -> int:
    if not args.encoder and not args.method:
        args.method = "pdq"

    from siamkit.data.scan import scan_images
    from siamkit.data.split_images import image_splits_with_val_data
    from siamkit.data.splits import split_source
    from siamkit.errors import SiamkitError
    from siamkit.file_writes import written_together
    from siamkit.retrieval.duplicate_pages import write_leaks
    from siamkit.retrieval.leaks import find_leaks, leak_summary

    if args.encoder and args.method:
        raise SiamkitError("choose one of --encoder and --method")
    record, recorded_val_data = split_record_and_val_data(args)
    data, _ = split_source(record)
    val_source = args.val_data or recorded_val_data
    checked = f"{record.source} and val_data {val_source}" if val_source else record.source
    named = "--val-data" if args.val_data else f"{args.config or args.splits_of}'s data.val_data"
    paths, splits = image_splits_with_val_data(data, _val_data(val_source, named))
    method = method_from(args, paths)
    bad = scan_images(paths, args.on_bad_image, "pass --on-bad-image skip")
    keep = [i for i, path in enumerate(paths) if path not in bad]
    leaks, unhashable = find_leaks([paths[i] for i in keep], splits[keep], method, args.out / "index",
                                   recheck_matches(args))
    if unhashable:
        print(f"compared with none: {counted(len(unhashable), 'image')} with too little detail to hash "
              f"(listed in leaks.html), e.g. {unhashable[0].file}", file=sys.stderr)
    with written_together(args.out) as report:
        write_leaks(report, leaks, f"{checked}, {method.name} at similarity >= {method.threshold:.4f}",
                    list(bad.values()) + unhashable)
    if not leaks:
        print(f"no near-duplicates across the splits of {checked} ({counted(len(keep), 'image')}, "
              f"{method.name})")
        return 0
    print(leak_summary(leaks, checked) + f": {args.out / 'leaks.csv'}, {args.out / 'leaks.html'}",
          file=sys.stderr)
    return 1


def _val_data(source: str | None, named: str):
    """--val-data's set (``named`` so in a message), split as `train fit` splits it, or None."""
    from siamkit.data.splits import SplitRecord, split_source
    from siamkit.errors import SiamkitError

    if source is None:
        return None
    try:
        return split_source(SplitRecord(source))[0]
    except SiamkitError as error:
        raise SiamkitError(f"{named}: {error}") from None
