"""The options that name a training source and its splits, as `train fit` splits it, for the
commands that work on a source's splits (`train leaks`, `train copies`): a `train fit` config, the
source itself, or the splits a run recorded."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import get_args

from siamkit.cli.arguments import check_split_options_apply, non_negative_int, split_fraction
from siamkit.data.sources import SourceKind
from siamkit.train.config_files import check_paths_from_here, read_config


def add_split_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config",
                        help="a `train fit` config (a file, or a bundled one by name): its data.source, "
                             "data.root and split settings, unless the options below say otherwise")
    parser.add_argument("--data", help="the training source (data.source): folder, table or demo:NAME")
    parser.add_argument("--splits-of", metavar="RUN|CKPT|ENCODER|SPLITS_JSON",
                        help="the splits a run recorded (a run folder, a checkpoint, an encoder folder or a "
                             "splits.json): its source split as then, refused if the data changed since")
    parser.add_argument("--root", help="folder a table's image paths are relative to (data.root)")
    parser.add_argument("--kind", choices=get_args(SourceKind),
                        help="how to read the source (data.kind; default auto)")
    parser.add_argument("--split-fractions", type=split_fraction, nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                        help="as data.split_fractions (default 0.8 0.1 0.1)")
    parser.add_argument("--split-seed", type=non_negative_int, help="as data.split_seed (default 0)")


def split_record(args: argparse.Namespace):
    """The ``SplitRecord`` the options name: --splits-of's, else --data and the split settings,
    from --config's data section where not given."""
    return split_record_and_val_data(args)[0]


def split_record_and_val_data(args: argparse.Namespace):
    """``split_record``, and the data.val_data that --config names or the run --splits-of points
    at recorded (None where there is none), each file read once."""
    return _recorded_splits(args) if args.splits_of else _asked_splits(args)


def _asked_splits(args: argparse.Namespace):
    """--data, --root and the split settings, from --config's data section where not given; and
    that section's val_data."""
    from siamkit.data.sources import DEFAULT_SPLIT_FRACTIONS
    from siamkit.data.splits import SplitRecord
    from siamkit.errors import ConfigError

    data = config_data(args.config) if args.config else {}
    source = args.data or data.get("source")
    if source is None:
        raise ConfigError("give the training source: --data SOURCE, --config with data.source, "
                          "or --splits-of RUN")
    check_split_options_apply(args, source)
    record = SplitRecord(source, args.root or data.get("root"), args.kind or data.get("kind", "auto"),
                         tuple(args.split_fractions or data.get("split_fractions", DEFAULT_SPLIT_FRACTIONS)),
                         data.get("split_seed", 0) if args.split_seed is None else args.split_seed)
    return record, data.get("val_data")


def _recorded_splits(args: argparse.Namespace):
    """The record --splits-of points at, with --root where the data moved; and its val_data."""
    import dataclasses

    from siamkit.errors import ConfigError

    names = ("config", "data", "kind", "split_fractions", "split_seed")
    given = [f"--{name.replace('_', '-')}" for name in names if getattr(args, name) is not None]
    if given:
        raise ConfigError(f"--splits-of reads the source and split settings from the run; leave out "
                          f"{', '.join(given)}")
    record, val_data = recorded_run(Path(args.splits_of))
    return (dataclasses.replace(record, root=args.root) if args.root else record), val_data


def recorded_run(path: Path):
    """The ``SplitRecord`` a run folder, its log folder, a checkpoint, an encoder folder or a
    splits.json holds, and the run's data.val_data (None where it had none, or in a splits.json)."""
    from siamkit.data.splits import SPLITS_FILE, SplitRecord
    from siamkit.errors import SiamkitError
    from siamkit.models.card import CONFIG_FILE, EncoderCard
    from siamkit.models.checkpoints import read_checkpoint, run_checkpoint

    if path.is_dir() and (path / SPLITS_FILE).is_file():
        path = path / SPLITS_FILE
    if path.is_file() and path.suffix == ".json":
        record, val_data = SplitRecord.read(path), None
    elif path.is_dir() and (path / CONFIG_FILE).is_file():
        card = EncoderCard.read(path)
        record, val_data = card.trained_on, card.validated_on
    elif (path.is_file() and path.suffix == ".ckpt") or (path.is_dir() and (path / "checkpoints").is_dir()):
        checkpoint = read_checkpoint(path if path.is_file() else run_checkpoint(path))
        record, val_data = checkpoint.splits, checkpoint.val_data
    else:
        raise SiamkitError(f"--splits-of {path}: expected a run folder, a .ckpt, an encoder folder or a "
                           f"{SPLITS_FILE}")
    if record is None:
        raise SiamkitError(f"{path} does not say what data it was trained on; give --data and the split "
                           "settings instead")
    return record, val_data


def config_data(name: str) -> dict:
    """The data section of the `train fit` config ``name``, its paths checked to be found from here."""
    from siamkit.errors import ConfigError

    path, config = read_config(name)
    data = config.get("data")
    if not isinstance(data, dict) or "source" not in data:
        raise ConfigError(f"config {path} has no data.source: pass --data SOURCE")
    check_paths_from_here({f"data.{key}": data.get(key) for key in ("source", "root", "val_data")}, [name])
    return data
