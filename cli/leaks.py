"""``train leaks --config FIT.yaml | --data SOURCE --out DIR``: near-duplicate images on two sides of
a split."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import get_args

from siamkit.cli.arguments import (
    ArgumentParser,
    check_own_files,
    check_split_options_apply,
    non_negative_int,
    output_folder,
    split_fraction,
)
from siamkit.cli.duplicates import add_comparison_arguments, method_from
from siamkit.data.sources import SourceKind
from siamkit.train.config_files import read_config
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
    parser.add_argument("--config",
                        help="a `train fit` config (a file, or a bundled one by name): its data.source, "
                             "data.root and split settings, unless the options below say otherwise")
    parser.add_argument("--data", help="the training source (data.source): folder, table or demo:NAME")
    parser.add_argument("--splits-of", metavar="RUN|CKPT|ENCODER|SPLITS_JSON",
                        help="the splits a run recorded (a run folder, a checkpoint, an encoder folder or a "
                             "splits.json): its source split as then, refused if the data changed since")
    parser.add_argument("--out", required=True, type=output_folder,
                        help="folder for leaks.csv and leaks.html")
    parser.add_argument("--root", help="folder a table's image paths are relative to (data.root)")
    parser.add_argument("--kind", choices=get_args(SourceKind),
                        help="how to read the source (data.kind; default auto)")
    parser.add_argument("--split-fractions", type=split_fraction, nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                        help="as data.split_fractions (default 0.8 0.1 0.1)")
    parser.add_argument("--split-seed", type=non_negative_int, help="as data.split_seed (default 0)")
    add_comparison_arguments(parser, default_method="pdq")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    check_own_files(args.out, OWN_FILES)
    if not args.encoder and not args.method:
        args.method = "pdq"

    from siamkit.data.scan import scan_images
    from siamkit.data.split_images import image_splits
    from siamkit.data.splits import split_source
    from siamkit.errors import SiamkitError
    from siamkit.retrieval.duplicate_pages import write_leaks
    from siamkit.retrieval.leaks import find_leaks, leak_summary

    if args.encoder and args.method:
        raise SiamkitError("choose one of --encoder and --method")
    record = _recorded_splits(args) if args.splits_of else _asked_splits(args)
    data, _ = split_source(record)
    args.data = record.source
    paths, splits = image_splits(data)
    method = method_from(args, paths)
    bad = scan_images(paths, args.on_bad_image, "pass --on-bad-image skip")
    keep = [i for i, path in enumerate(paths) if path not in bad]
    leaks, unhashable = find_leaks([paths[i] for i in keep], splits[keep], method, args.out / "index",
                                   args.sift_min_matches if args.recheck_sift else None)
    if unhashable:
        print(f"compared with none: {counted(len(unhashable), 'image')} with too little detail to hash "
              f"(listed in leaks.html), e.g. {unhashable[0].file}", file=sys.stderr)
    write_leaks(args.out, leaks, f"{args.data}, {method.name} at similarity >= {method.threshold:.4f}",
                list(bad.values()) + unhashable)
    if not leaks:
        print(f"no near-duplicates across the splits of {args.data} "
              f"({counted(len(keep), 'image')}, {method.name})")
        return 0
    print(leak_summary(leaks, args.data) + f": {args.out / 'leaks.csv'}, {args.out / 'leaks.html'}",
          file=sys.stderr)
    return 1


def _asked_splits(args: argparse.Namespace):
    """--data, --root and the split settings, from --config's data section where not given."""
    from siamkit.data.sources import DEFAULT_SPLIT_FRACTIONS
    from siamkit.data.splits import SplitRecord
    from siamkit.errors import ConfigError

    data = _config_data(args.config) if args.config else {}
    source = args.data or data.get("source")
    if source is None:
        raise ConfigError("give the training source: --data SOURCE, --config with data.source, "
                          "or --splits-of RUN")
    check_split_options_apply(args, source)
    return SplitRecord(source, args.root or data.get("root"), args.kind or data.get("kind", "auto"),
                       tuple(args.split_fractions or data.get("split_fractions", DEFAULT_SPLIT_FRACTIONS)),
                       data.get("split_seed", 0) if args.split_seed is None else args.split_seed)


def _recorded_splits(args: argparse.Namespace):
    """The record --splits-of points at, with --root where the data moved."""
    import dataclasses

    from siamkit.errors import ConfigError

    names = ("config", "data", "kind", "split_fractions", "split_seed")
    given = [f"--{name.replace('_', '-')}" for name in names if getattr(args, name) is not None]
    if given:
        raise ConfigError(f"--splits-of reads the source and split settings from the run; leave out "
                          f"{', '.join(given)}")
    record = recorded_splits(Path(args.splits_of))
    return dataclasses.replace(record, root=args.root) if args.root else record


def recorded_splits(path: Path):
    """The ``SplitRecord`` a run folder, its log folder, a checkpoint, an encoder folder or a
    splits.json holds."""
    from siamkit.data.splits import SPLITS_FILE, SplitRecord
    from siamkit.errors import SiamkitError
    from siamkit.models.card import CONFIG_FILE, EncoderCard
    from siamkit.models.checkpoints import read_checkpoint, run_checkpoint

    if path.is_dir() and (path / SPLITS_FILE).is_file():
        path = path / SPLITS_FILE
    if path.is_file() and path.suffix == ".json":
        record = SplitRecord.read(path)
    elif path.is_file() and path.suffix == ".ckpt":
        record = read_checkpoint(path).splits
    elif path.is_dir() and (path / CONFIG_FILE).is_file():
        record = EncoderCard.read(path).trained_on
    elif path.is_dir() and (path / "checkpoints").is_dir():
        record = read_checkpoint(run_checkpoint(path)).splits
    else:
        raise SiamkitError(f"--splits-of {path}: expected a run folder, a .ckpt, an encoder folder or a "
                           f"{SPLITS_FILE}")
    if record is None:
        raise SiamkitError(f"{path} does not say what data it was trained on; give --data and the split "
                           "settings instead")
    return record


def _config_data(name: str) -> dict:
    from siamkit.errors import ConfigError

    path, config = read_config(name)
    data = config.get("data")
    if not isinstance(data, dict) or "source" not in data:
        raise ConfigError(f"config {path} has no data.source: pass --data SOURCE")
    return data
