"""What `train evaluate`'s models were trained on: the split settings to evaluate with, and the
refusals that keep a model from being scored on images it trained on (figures that would
flatter it): other split settings of its own source, and, in another source, the very files
its training or val split held."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from siamkit.cli.arguments import check_split_options_apply
from siamkit.data.demo import DEMO_PREFIX
from siamkit.data.same_bytes import same_files
from siamkit.data.split_images import SEEN_SPLITS, images_in, seen_images
from siamkit.data.splits import SplitMismatch, SplitRecord, check_same_splits
from siamkit.errors import SiamkitError
from siamkit.wording import counted


def trained_here(args: argparse.Namespace, scorers: list) -> list[tuple[str, SplitRecord]]:
    """(name, split record) of each evaluated model that was trained on --data."""
    here = SplitRecord(args.data, args.root)
    records = _records(scorers)
    for name, record in records:
        if not record.same_source(here) and _relative(record):
            _note_a_relative_record(name, record, args.data)
    return [(name, record) for name, record in records if record.same_source(here)]


def splits_asked(args: argparse.Namespace, trained: list[tuple[str, SplitRecord]]) -> SplitRecord:
    """The split settings to evaluate with: those given, else those a model was trained on
    this data with, else the defaults."""
    check_split_options_apply(args, args.data)
    base = trained[0][1] if trained else SplitRecord(args.data)
    return SplitRecord(args.data, args.root or base.root, base.kind,
                       tuple(args.split_fractions) if args.split_fractions else base.fractions,
                       base.seed if args.split_seed is None else args.split_seed,
                       copies_together=base.copies_together)


def check_training_splits(args: argparse.Namespace, trained: list[tuple[str, SplitRecord]],
                          splits: SplitRecord) -> None:
    """Refuses (or, with --allow-overlap, warns about) splits that would let a model be
    evaluated on images it was trained on: other settings, or data changed since training."""
    for name, record in trained:
        try:
            check_same_splits(record, splits, name)
        except SplitMismatch as mismatch:
            _refuse_or_warn(args, str(mismatch))


def check_other_sources(args: argparse.Namespace, scorers: list, dataset: Any) -> None:
    """Refuses (or warns about) an evaluated split of --data that holds files with the same bytes
    as images of the train or val split of another source a model was trained on: a pairs table
    made from one's own photograph library is the usual way to score a model on its training images."""
    here = SplitRecord(args.data, args.root)
    evaluated = images_in(dataset, (args.split,))
    for name, record in _records(scorers):
        if record.same_source(here) or _relative(record):  # the latter have a note of their own
            continue
        try:
            shared = same_files(evaluated, seen_images(record, SEEN_SPLITS))
        except SiamkitError as error:  # not here, or changed since: its splits are not known
            print(f"note: whether these images include {name}'s training images is not known: {error}",
                  file=sys.stderr)
            continue
        if shared:
            images, example = counted(len(shared), "image"), f"{shared[0][0]} = {shared[0][1]}"
            _refuse_or_warn(args, f"the {args.split} split of {args.data} holds {images} that {name} "
                                  f"trained or was validated on (the same bytes as in {record.source}), "
                                  f"e.g. {example}", fix="evaluate it on images it has not seen")


def check_copies_made_from(args: argparse.Namespace, scorers: list) -> None:
    """Refuses (or warns about) a table `train copies` made of a model's own source split otherwise
    than the model was trained on it."""
    from siamkit.data.copy_pairs import check_made_from

    for name, record in _records(scorers):
        if not _relative(record):
            try:
                check_made_from(args.data, record, name)
            except SplitMismatch as mismatch:
                _refuse_or_warn(args, str(mismatch))


def _records(scorers: list) -> list[tuple[str, SplitRecord]]:
    return [(scorer.name, encoder.card.trained_on) for scorer in scorers
            if (encoder := getattr(scorer, "encoder", None)) is not None and encoder.card.trained_on]


def _refuse_or_warn(args: argparse.Namespace, problem: str, fix: str = "") -> None:
    if not args.allow_overlap:
        fix = f": {fix}" if fix else ""
        raise SplitMismatch(f"{problem}{fix}; or pass --allow-overlap to evaluate anyway")
    print(f"WARNING: {problem}. Its figures are optimistic.", file=sys.stderr)


def _relative(record: SplitRecord) -> bool:
    """Records made before sources were recorded absolute hold the path as given to `train fit`."""
    return not record.source.startswith(DEMO_PREFIX) and not Path(record.source).expanduser().is_absolute()


def _note_a_relative_record(name: str, record: SplitRecord, data: str) -> None:
    fractions = " ".join(f"{fraction:g}" for fraction in record.fractions)
    print(f"note: {name} was trained on {record.source}, a path relative to the folder it was trained from; "
          f"if that is {data}, its splits are not known here: evaluate from that folder, or pass "
          f"--split-fractions {fractions} --split-seed {record.seed}", file=sys.stderr)
