"""The two runs of `train duplicates`: groups within one folder, and copies of a folder's
images in a reference folder (``--against``). Each goes stage by stage and says what each
stage found."""

from __future__ import annotations

import argparse
from pathlib import Path

from siamkit.cli.duplicates import GROUPINGS, KEEPS, recheck_matches
from siamkit.data.bad_images import BadImage
from siamkit.errors import ImageLoadError, SiamkitError
from siamkit.file_writes import written_together
from siamkit.retrieval import verification
from siamkit.retrieval.collection import Listing
from siamkit.retrieval.duplicate_pages import write_groups, write_matches
from siamkit.retrieval.duplicates import (
    Method,
    Pictures,
    copies_in_reference,
    expand_groups,
    near_pairs,
    picture_features,
)
from siamkit.retrieval.exact import ExactDuplicates, find_exact_duplicates
from siamkit.retrieval.grouping import group_pairs
from siamkit.retrieval.keep import choose_kept
from siamkit.retrieval.moves import move_files
from siamkit.wording import counted, none_could_be


def find_groups(args: argparse.Namespace, method: Method, listing: Listing) -> int:
    files = listing.images
    exact = find_exact_duplicates(files, args.num_workers)
    skipped = listing.skipped + _unreadable(exact, files, args.on_bad_image)
    _report_skipped(skipped, "duplicates.html")
    pictures = exact.pictures(range(len(files)))
    picture_files = [files[images[0]] for images in pictures.values()]
    copies = len(files) - len(exact.unreadable) - len(pictures)
    print(f"{counted(len(files), 'image')}: {counted(copies, 'exact copy', 'exact copies')}, "
          f"{counted(len(pictures), 'distinct picture')} go on to {Path(method.name).name}")
    features = picture_features(method, picture_files, args.out / "index", args.batch_size, args.num_workers)
    skipped += _unhashable(features, picture_files, "duplicates.html")
    pairs, scores = near_pairs(method, features)
    print(f"{counted(len(pairs), 'pair')} of pictures at similarity >= {method.threshold:.4f}")
    if args.recheck_sift and len(pairs):
        confirmed = verification.confirmed(pairs, picture_files, picture_files, recheck_matches(args),
                                           args.num_workers)
        print(f"SIFT confirmed {int(confirmed.sum())} of them")
        pairs, scores = pairs[confirmed], scores[confirmed]
    grouping = args.grouping or GROUPINGS[0]
    groups = expand_groups(group_pairs(pairs, scores, len(pictures), grouping), pictures, exact)
    kept = [choose_kept([files[m] for m in group.members], args.keep or KEEPS[0]) for group in groups]
    with written_together(args.out) as report:
        write_groups(report, files, groups, kept, f"{_title(method)}, {grouping} grouping", skipped)
    print(f"{counted(len(groups), 'group')} ({counted(sum(len(g.members) for g in groups), 'image')}): "
          f"{args.out / 'duplicates.csv'}, {args.out / 'duplicates.html'}")
    if args.action == "move":
        others = [files[m] for group, (keep, _) in zip(groups, kept) for k, m in enumerate(group.members)
                  if k != keep]
        _move(others, Path(args.images), args.to)
    return 0


def find_copies(args: argparse.Namespace, method: Method, queries: Listing, references: Listing) -> int:
    files = queries.images + references.images
    count = len(queries.images)
    exact = find_exact_duplicates(files, args.num_workers)
    skipped = queries.skipped + references.skipped + _unreadable(exact, files, args.on_bad_image)
    _report_skipped(skipped, "matches.html")
    query_pictures = exact.pictures(range(count))
    reference_pictures = exact.pictures(range(count, len(files)))
    query_features, reference_features = (
        picture_features(method, [files[images[0]] for images in pictures.values()], args.out / folder,
                         args.batch_size, args.num_workers)
        for pictures, folder in ((query_pictures, "index"), (reference_pictures, "reference_index")))
    for pictures, features in ((query_pictures, query_features), (reference_pictures, reference_features)):
        skipped += _unhashable(features, [files[images[0]] for images in pictures.values()], "matches.html")
    pairs, scores = near_pairs(method, reference_features, query_features)
    if args.recheck_sift and len(pairs):
        query_files = [files[images[0]] for images in query_pictures.values()]
        reference_files = [files[images[0]] for images in reference_pictures.values()]
        confirmed = verification.confirmed(pairs, query_files, reference_files, recheck_matches(args),
                                           args.num_workers)
        pairs, scores = pairs[confirmed], scores[confirmed]
    rows = copies_in_reference(pairs, scores, query_pictures, reference_pictures, exact,
                               Path(method.name).name)
    with written_together(args.out) as report:
        write_matches(report, files, rows, _title(method), skipped)
    copied = sorted({query for query, *_ in rows})
    print(f"{len(copied)} of {count} query images have copies among {len(references.images)} reference "
          f"images ({counted(len(rows), 'match', 'matches')}): "
          f"{args.out / 'matches.csv'}, {args.out / 'matches.html'}")
    if args.action == "move":
        _move([files[q] for q in copied], Path(args.images), args.to)
    return 0


def _unreadable(exact: ExactDuplicates, files: list[str], policy: str) -> list[BadImage]:
    bad = [BadImage(files[i], error) for i, error in sorted(exact.unreadable.items())]
    if len(bad) == len(files):
        raise SiamkitError(f"{none_could_be(len(files), 'image', 'read')} ({bad[0].reason})")
    if bad and policy == "error":
        them = "it" if len(bad) == 1 else "them"
        raise ImageLoadError(f"{bad[0].reason} ({counted(len(bad), 'unreadable image')}; nothing was "
                             f"compared): fix or remove {them}, or pass --on-bad-image skip")
    return bad


def _unhashable(pictures: Pictures, files: list[str], page: str) -> list[BadImage]:
    """Pictures with too little detail to hash: listed with the skipped files, compared with none."""
    unhashable = [BadImage(files[i], why) for i, why in sorted(pictures.unhashable.items())]
    _report_skipped(unhashable, page)
    return unhashable


def _report_skipped(skipped: list[BadImage], page: str) -> None:
    if not skipped:
        return
    print(f"passed over {len(skipped):,} (listed in {page}):")
    for bad in skipped[:10]:
        print(f"  {bad.file}: {bad.reason}")
    if len(skipped) > 10:
        print(f"  ... and {len(skipped) - 10} more")


def _title(method: Method) -> str:
    return f"{Path(method.name).name} at similarity >= {method.threshold:.4f}"


def _move(files: list[str], root: Path, to: Path) -> None:
    if not files:
        print("nothing to move")
        return
    manifest = move_files(files, root, to)
    print(f"moved {counted(len(files), 'file')} to {to}; undo with `train duplicates --undo {manifest}`")
