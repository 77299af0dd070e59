"""``train evaluate``: learned models against the classical baselines, on the same pairs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from siamkit.cli.arguments import (
    BACKGROUND_K,
    MIN_RESAMPLES,
    ArgumentParser,
    add_background_arguments,
    add_on_bad_image_argument,
    add_runtime_arguments,
    check_background_k,
    check_model_options_apply,
    check_own_files,
    holding_report,
    method_names,
    non_negative_int,
    output_folder,
    pair_count,
    positive_int,
    resample_count,
    split_fraction,
    threshold_rule,
)
from siamkit.errors import SiamkitError
from siamkit.evaluation import CHUNK
from siamkit.file_writes import written_together
from siamkit.folders import why_unwritable
from siamkit.scoring.registry import DEFAULT_METHODS, METHOD_FORMS
from siamkit.wording import counted

#: what a report folder holds
REPORT_FILES = ("metrics.json", "summary.md", "report.html", "roc.png", "score_distributions.png",
                "paid_off.png")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="train evaluate",
        description="Score every method on the same held-out pairs; write metrics.json, a Markdown table, "
                    "PNG plots and report.html to --out.",
        epilog="Example: train evaluate --data demo:photos --methods "
               "histogram,ssim,sift,phash,runs/demo_photos --out reports/demo_photos",
    )
    parser.add_argument("--data", required=True, help="pairs table, class folder / table, or demo:NAME")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated: {METHOD_FORMS} (default {','.join(DEFAULT_METHODS)})")
    parser.add_argument("--out", required=True, type=output_folder, help="folder for the report")
    parser.add_argument("--split", default="test", choices=("test", "val"),
                        help="split to evaluate (default test)")
    parser.add_argument("--root", help="folder the table's image paths are relative to")
    parser.add_argument("--split-fractions", type=split_fraction, nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                        help="as in training (default: the evaluated model's own, else 0.8 0.1 0.1)")
    parser.add_argument("--split-seed", type=non_negative_int,
                        help="as in training (default: the model's own, else 0)")
    parser.add_argument("--threshold", default="best_f1", type=threshold_rule,
                        help="threshold rule on the val split: best_f1 or fmr=X")
    parser.add_argument("--bootstrap", type=resample_count, default=200,
                        help=f"bootstrap resamples for 95%% intervals (0: none, else >= {MIN_RESAMPLES})")
    parser.add_argument("--max-pairs", type=pair_count, default=100_000,
                        help="pairs sampled from class-labelled data (at least 2: a match and a non-match)")
    parser.add_argument("--chunk", type=positive_int, default=CHUNK,
                        help="pairs scored at a time (bounds memory)")
    add_on_bad_image_argument(parser)
    parser.add_argument("--calibrate", action="store_true",
                        help="write the threshold chosen on the val split into each evaluated encoder "
                             "folder's config.json (`train score` and `train duplicates` then use it)")
    parser.add_argument("--allow-overlap", action="store_true",
                        help="evaluate although the splits differ from a model's training splits, or the "
                             "evaluated images include files it trained on (warns)")
    add_background_arguments(parser)
    add_runtime_arguments(parser)
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    with holding_report(args.out):
        return _evaluate(args)


def _evaluate(args: argparse.Namespace) -> int:
    from siamkit.cli.evaluate_training import (
        check_copies_made_from,
        check_other_sources,
        check_training_splits,
        splits_asked,
        trained_here,
    )
    from siamkit.data.splits import split_source
    from siamkit.evaluation.comparisons import compare
    from siamkit.evaluation.metrics import unmeasured_rule_note
    from siamkit.evaluation.pairs import evaluation_data
    from siamkit.evaluation.runner import evaluate_method
    from siamkit.scoring.registry import get_scorer, is_classical

    methods = _check_arguments(args)
    model_options = {"device": args.device, "runtime": args.runtime, "threads": args.threads,
                     **_background(args)}
    scorers = [get_scorer(m, **({} if is_classical(m) else model_options)) for m in methods]
    starts, start_of = _starting_points(scorers, methods, model_options)
    scorers += starts
    _say_runtimes(scorers)
    trained = trained_here(args, scorers)
    dataset, splits = split_source(splits_asked(args, trained))
    check_training_splits(args, trained, splits)
    check_other_sources(args, scorers, dataset)
    check_copies_made_from(args, scorers)
    if args.background:
        _check_background_apart(model_options["background"], dataset, args.background)
    data = evaluation_data(dataset, splits, args.split, args.max_pairs, args.on_bad_image)
    if args.calibrate and "val" not in data.pairs:
        raise SiamkitError(f"--calibrate chooses the threshold on the val split of {args.data}, which holds "
                           "no matches and non-matches to choose it on: give data with val pairs, or leave "
                           "--calibrate out")
    info = data.describe()
    print(f"evaluating {counted(len(scorers), 'method')} on {args.data}: split {args.split}, seed "
          f"{splits.seed}, {_evaluated_share(info, dataset)}, thresholds from {info['threshold_pairs']:,} "
          "val pairs")
    if "val" in data.pairs and (note := unmeasured_rule_note(data.pairs["val"].label, args.threshold)):
        print(f"note: {note}", file=sys.stderr)
    results = [evaluate_method(s, data, args.threshold, args.bootstrap, args.chunk) for s in scorers]
    classical = {scorer.name for method, scorer in zip(methods, scorers) if is_classical(method)}
    comparisons = compare(results, data.pairs[data.split].label, start_of, classical, args.bootstrap,
                          splits.seed, data.split)
    _write_report(args.out, data, results, comparisons)
    if args.calibrate:
        _calibrate(scorers, results, data, args.threshold)
    return 0


def _check_arguments(args: argparse.Namespace) -> list[str]:
    """What can be refused before any model loads; the methods named."""
    from siamkit.evaluation.pairs import check_labelled
    from siamkit.scoring.registry import is_classical

    check_own_files(args.out, REPORT_FILES)
    check_labelled(args.data)
    check_background_k(args)
    if args.background and args.calibrate:
        raise SiamkitError("--calibrate with --background would store a threshold for normalised "
                           "scores, which plain cosines cannot use; calibrate without --background")
    methods = method_names([args.methods], "--methods", DEFAULT_METHODS)
    check_model_options_apply(args, not all(map(is_classical, methods)), "add an encoder to --methods")
    if args.calibrate:
        _check_calibration_folders(methods)
    return methods


def _evaluated_share(info: dict[str, Any], dataset: Any) -> str:
    """How much of the data the evaluated split is: a table without a split column that no
    evaluated model trained on still leaves its train split out, which a count makes visible."""
    from siamkit.data.sources import PairSet

    pairs = f"{counted(info['pairs'], 'pair')} ({counted(info['matches'], 'match', 'matches')})"
    if isinstance(dataset, PairSet):
        return f"{pairs} of the {len(dataset):,} in all splits"
    return f"{pairs} among {info['retrieval_images']:,} of the {len(dataset):,} images in all splits"


def _starting_points(scorers: list, methods: list[str], options: dict[str, Any]) -> tuple[list, dict]:
    """``METHOD@start`` for every fine-tuned model evaluated whose start is not listed already:
    the pretrained backbone as it came, so the report says whether fine-tuning paid off; and each
    trained model's start by name (None for one trained from scratch, or whose start is missing)."""
    from siamkit.errors import WeightsNotFoundError
    from siamkit.runtimes import START_SUFFIX, names_a_network
    from siamkit.scoring.registry import get_scorer, is_classical

    def start_key(scorer) -> str | None:
        """What a start row embeds: fine-tuned variants of one start, embedding alike, share it."""
        card = getattr(getattr(scorer, "encoder", None), "card", None)
        if card is None or card.initialised_from is None:
            return None
        embeds_as = [card.architecture.scales, card.architecture.mid_level]
        return json.dumps([card.initialised_from.to_dict(), *embeds_as], sort_keys=True)

    starts, start_of = [], {}
    # a start the user listed, under any model's name, is that row (a start's card names itself)
    seen = {key: method for method, scorer in zip(methods, scorers)
            if method.endswith(START_SUFFIX) and (key := start_key(scorer)) is not None}
    for method, scorer in zip(methods, scorers):
        as_it_came = names_a_network(method) or method.endswith(START_SUFFIX)
        if is_classical(method) or as_it_came:
            continue
        start, same_start = f"{method}{START_SUFFIX}", start_key(scorer)
        if same_start is None or start in methods:
            start_of[scorer.name] = start if start in methods else None
            continue
        if same_start not in seen:
            seen[same_start] = None
            try:
                start_scorer = get_scorer(start, **{**options, "runtime": "auto"})  # it has no ONNX file
            except WeightsNotFoundError as error:
                print(f"note: {start} is left out: {error}", file=sys.stderr)
            else:
                if start_scorer.encoder.fingerprint == scorer.encoder.fingerprint:
                    # a pretrained network saved as it came, never trained: it is its own start
                    del seen[same_start]
                    start_of[scorer.name] = None
                    continue
                starts.append(start_scorer)
                seen[same_start] = start
        start_of[scorer.name] = seen[same_start]
    return starts, start_of


def _say_runtimes(scorers: list) -> None:
    from siamkit.models.runtime import describe

    for scorer in scorers:
        if hasattr(scorer, "encoder"):
            print(f"{scorer.name}: {describe(scorer.encoder)}", file=sys.stderr)


def _background(args: argparse.Namespace) -> dict[str, Any]:
    """The readable images of --background, as get_scorer's options (none without it)."""
    if not args.background:
        return {}
    from siamkit.retrieval.score_normalization import background_images

    k = args.background_k or BACKGROUND_K
    return {"background": background_images(args.background, k), "background_k": k}


def _check_background_apart(background: list[str], dataset: Any, folder: str) -> None:
    from siamkit.data.split_images import image_splits
    from siamkit.retrieval.score_normalization import check_apart

    check_apart(background, image_splits(dataset)[0], folder)


def _write_report(out: Path, data: Any, results: list, comparisons: list) -> None:
    from siamkit.evaluation.report import (
        markdown_summary,
        plot_distributions,
        plot_paid_off,
        plot_roc,
        write_html,
        write_metrics_json,
    )

    labels = data.pairs[data.split].label
    summary = markdown_summary(results, comparisons, labels)
    with written_together(out) as report:
        plots = [report / "roc.png", report / "score_distributions.png"]
        plot_roc(plots[0], labels, results)
        plot_distributions(plots[1], labels, results)
        paid_off = report / "paid_off.png" if comparisons else None
        if paid_off:
            plot_paid_off(paid_off, comparisons)
        write_metrics_json(report / "metrics.json", data, results, comparisons)
        (report / "summary.md").write_text(summary + "\n")
        write_html(report / "report.html", data, results, comparisons, plots, paid_off)
    if not paid_off:
        (out / "paid_off.png").unlink(missing_ok=True)  # an earlier report's, not on this one's page
    print(summary)
    written = ", ".join(p.name for p in [*plots, paid_off] if p)
    print(f"report: {out / 'report.html'} (also metrics.json, summary.md, {written})")


def _check_calibration_folders(methods: list[str]) -> None:
    """--calibrate writes into each encoder folder evaluated: with none among the methods, or one it
    cannot write to, it is refused before the evaluation, not after it."""
    from siamkit.models.card import CONFIG_FILE

    folders = [folder for folder in map(Path, methods) if (folder / CONFIG_FILE).is_file()]
    if not folders:
        raise SiamkitError("--calibrate writes a threshold into the encoder folders among --methods, and it "
                           "names none (run folders and .ckpt files are not written to): export one with "
                           "`train export`, or leave --calibrate out")
    for folder in folders:
        if reason := why_unwritable(folder):
            raise SiamkitError(f"--calibrate: {reason}; copy the encoder folder somewhere you can write "
                               "to, or leave --calibrate out")


def _calibrate(scorers: list, results: list, data: Any, rule: str) -> None:
    """Writes each evaluated encoder folder's chosen threshold into its config.json."""
    from siamkit.evaluation.metrics import let_through, loose_threshold_note
    from siamkit.models.card import CONFIG_FILE, Calibration

    for scorer, result in zip(scorers, results):
        folder = Path(scorer.name)
        if not hasattr(scorer, "encoder") or not (folder / CONFIG_FILE).is_file():
            continue
        card = scorer.encoder.card
        card.calibration = Calibration(result.threshold, rule, data.source, "val", len(data.pairs["val"]),
                                       result.metrics["threshold"]["val_false_match_rate"])
        card.write(folder)
        print(f"calibrated {folder}: threshold {result.threshold:.4f} ({rule} on {len(data.pairs['val']):,} "
              f"val pairs{let_through(card.calibration.false_match_rate)})")
        below = result.metrics["threshold"]["same_decisions_above"]
        if note := loose_threshold_note(rule, result.threshold, below, len(data.pairs["val"])):
            print(f"note: {folder}: {note}", file=sys.stderr)
