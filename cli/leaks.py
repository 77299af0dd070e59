"""``train leaks --config FIT.yaml | --data SOURCE --out DIR``: near-duplicate images on two sides of
a split."""

from __future__ import annotations

import argparse
import sys

from siamkit.cli.arguments import (
    ArgumentParser,
    non_negative_int,
    output_folder,
    split_fraction,
)
from siamkit.cli.duplicates import add_comparison_arguments, method_from
from siamkit.train.config_files import read_config


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="train leaks",
        description="List near-duplicate images that sit on two sides of train / val / test of a training "
                    "source, split as `train fit` splits it; write leaks.csv and leaks.html. Exits 1 when it "
                    "finds any (so it can gate a pipeline), 0 when there are none, 2 on a usage error and 3 "
                    "on a bug in siamkit (never 1).")
    parser.add_argument("--config",
                        help="a `train fit` config (a file, or a bundled one by name): its data.source, "
                             "data.root and split settings, unless the options below say otherwise")
    parser.add_argument("--data", help="the training source (data.source): folder, table or demo:NAME")
    parser.add_argument("--out", required=True, type=output_folder,
                        help="folder for leaks.csv and leaks.html")
    parser.add_argument("--root", help="folder a table's image paths are relative to (data.root)")
    parser.add_argument("--kind", choices=("auto", "pairs", "classes", "images"),
                        help="how to read the source (data.kind; default auto)")
    parser.add_argument("--split-fractions", type=split_fraction, nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                        help="as data.split_fractions (default 0.8 0.1 0.1)")
    parser.add_argument("--split-seed", type=non_negative_int, help="as data.split_seed (default 0)")
    add_comparison_arguments(parser, default_method="pdq")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if not args.encoder and not args.method:
        args.method = "pdq"

    from siamkit.data.demo import resolve_source
    from siamkit.data.images import load_image
    from siamkit.data.scan import scan_images
    from siamkit.data.sources import read_source
    from siamkit.errors import SiamkitError
    from siamkit.retrieval.duplicate_pages import write_leaks
    from siamkit.retrieval.leaks import find_leaks, image_splits, leak_summary

    if args.encoder and args.method:
        raise SiamkitError("choose one of --encoder and --method")
    _fill_data_settings(args)
    method = method_from(args)
    data = read_source(resolve_source(args.data), root=args.root, kind=args.kind,
                       fractions=args.split_fractions, seed=args.split_seed)
    paths, splits = image_splits(data)
    bad = scan_images(lambda path: load_image(path, draft_size=64), paths, args.on_bad_image,
                      "pass --on-bad-image skip")
    keep = [i for i, path in enumerate(paths) if path not in bad]
    leaks, unhashable = find_leaks([paths[i] for i in keep], splits[keep], method, args.out / "index",
                                   args.sift_min_matches if args.recheck_sift else None)
    if unhashable:
        print(f"{len(unhashable)} images have too little detail to hash and were compared with none "
              f"(listed in leaks.html), e.g. {unhashable[0].file}", file=sys.stderr)
    write_leaks(args.out, leaks, f"{args.data}, {method.name} at similarity >= {method.threshold:.4f}",
                list(bad.values()) + unhashable)
    if not leaks:
        print(f"no near-duplicates across the splits of {args.data} ({len(keep)} images, {method.name})")
        return 0
    print(leak_summary(leaks, args.data) + f": {args.out / 'leaks.csv'}, {args.out / 'leaks.html'}",
          file=sys.stderr)
    return 1


def _fill_data_settings(args: argparse.Namespace) -> None:
    """--data, --root and the split settings from --config's data section where not given."""
    from siamkit.data.sources import DEFAULT_SPLIT_FRACTIONS
    from siamkit.errors import ConfigError

    data = _config_data(args.config) if args.config else {}
    defaults = {"data": data.get("source"), "root": data.get("root"), "kind": data.get("kind", "auto"),
                "split_fractions": data.get("split_fractions", DEFAULT_SPLIT_FRACTIONS),
                "split_seed": data.get("split_seed", 0)}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.data is None:
        raise ConfigError("give the training source: --data SOURCE, or --config with data.source")


def _config_data(name: str) -> dict:
    from siamkit.errors import ConfigError

    path, config = read_config(name)
    data = config.get("data")
    if not isinstance(data, dict) or "source" not in data:
        raise ConfigError(f"config {path} has no data.source: pass --data SOURCE")
    return data
