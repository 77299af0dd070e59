"""The labelled data whose val pairs check ``train export``'s choices (--choose-on-val, --quantize
int8) and set its threshold (--calibrate), and the checks that they can: labels, and no images the
model trained on."""

from __future__ import annotations

import argparse
import sys

from siamkit.errors import SiamkitError
from siamkit.wording import counted


def check_data(encoder, args: argparse.Namespace):
    """The split record of the labelled data whose val pairs check the export: --check-data (the
    images the encoder is meant for; a run may train on other images, such as regions of whole
    photographs), else the data the run validated on (``data.val_data``), else the run's own,
    reproduced as training split it."""
    from siamkit.data.splits import SplitRecord

    trained = encoder.card.trained_on
    source = args.check_data or encoder.card.validated_on
    if source and not (trained and SplitRecord(source).same_source(trained)):
        return SplitRecord(source)
    if trained is None:
        raise SiamkitError(f"{args.ckpt} does not say what it was trained on: pass --check-data with "
                           "labelled pairs or classes whose val split checks the export")
    return trained


def val_pairs(check, args: argparse.Namespace) -> tuple[object, tuple[list[str], list[str], object]]:
    """The check data as split (refused if it no longer splits as recorded) and its val pairs
    (a paths, b paths, labels)."""
    from siamkit.data.splits import split_source
    from siamkit.evaluation.pairs import evaluation_data

    data, splits = split_source(check)
    try:
        pairs = evaluation_data(data, splits, "val").pairs["val"]
    except (SiamkitError, KeyError) as error:
        raise _without_val_pairs(args, check.source, error) from None
    return data, (list(pairs.a), list(pairs.b), pairs.label)


def check_data_has_labels(args: argparse.Namespace) -> None:
    from siamkit.data.demo import resolve_source
    from siamkit.data.sources import check_source_exists
    from siamkit.evaluation.pairs import check_labelled

    check_source_exists(resolve_source(args.check_data))
    try:
        check_labelled(args.check_data)
    except SiamkitError as error:
        raise _without_val_pairs(args, args.check_data, error) from None


def calibrate(encoder, pairs: tuple[list[str], list[str], object], source: str, rule: str) -> None:
    """Sets the card's same / different threshold, chosen by ``rule`` (``best_f1`` or ``fmr=X``) on
    the val ``pairs`` (a paths, b paths, labels), scored as `train evaluate --calibrate` scores them."""
    import numpy as np

    from siamkit.evaluation import CHUNK
    from siamkit.evaluation.metrics import (
        choose_threshold,
        false_match_rate,
        let_through,
        loose_threshold_note,
        score_below,
        unmeasured_rule_note,
    )
    from siamkit.evaluation.pairs import Pairs
    from siamkit.evaluation.runner import score_pairs_in_chunks
    from siamkit.models.card import Calibration
    from siamkit.scoring.embedding import EmbeddingScorer

    val = Pairs(*map(np.asarray, pairs))
    scores = score_pairs_in_chunks(EmbeddingScorer(encoder), val, CHUNK, "scoring val pairs for a threshold")
    threshold = choose_threshold(val.label, scores, rule)
    calibration = Calibration(threshold, rule, source, "val", len(val), false_match_rate(val.label, scores,
                                                                                         threshold))
    encoder.card.calibration = calibration
    print(f"calibrated: threshold {threshold:.4f} ({rule} on {len(val):,} val pairs of {source}"
          f"{let_through(calibration.false_match_rate)})")
    loose = loose_threshold_note(rule, threshold, score_below(scores, threshold), len(val))
    for note in (unmeasured_rule_note(val.label, rule), loose):
        if note:
            print(f"note: {note}", file=sys.stderr)


def _without_val_pairs(args: argparse.Namespace, source: str, why: Exception) -> SiamkitError:
    needs = "--quantize int8" if args.quantize else "--choose-on-val" if args.choose_on_val else "--calibrate"
    return SiamkitError(f"{needs} checks the model on labelled val pairs, and {source} has none ({why}); "
                        "pass --check-data with labelled pairs or classes (e.g. demo:photos)")


def check_not_trained_on(encoder, check, pairs: tuple, name: str) -> None:
    """Refuses val pairs that show the model images it trained on (files with the same bytes): on
    them the fine-tuned weights win whatever they learned, and the export is chosen wrongly."""
    from siamkit.data.copy_pairs import check_made_from
    from siamkit.data.same_bytes import same_files
    from siamkit.data.split_images import seen_images

    trained = encoder.card.trained_on
    if trained is None or trained.same_source(check):
        return  # its own source's val split was kept apart from train when it was split
    check_made_from(check.source, trained, name)  # copies of its own source, split otherwise
    try:
        shared = same_files(sorted(set(pairs[0]) | set(pairs[1])), seen_images(trained, ("train",)))
    except SiamkitError as error:
        print(f"note: whether the val pairs include {name}'s training images is not known: {error}",
              file=sys.stderr)
        return
    if shared:
        images = counted(len(shared), "image")
        raise SiamkitError(f"the val pairs of {check.source} hold {images} that {name} trained on "
                           f"(the same bytes as in {trained.source}), e.g. {shared[0][0]} = "
                           f"{shared[0][1]}: on them the fine-tuned weights win whatever they learned; pass "
                           "--check-data with pairs of images it did not train on")
