"""What ``train evaluate`` writes: metrics.json, a Markdown table, PNG plots and one
self-contained report.html (plots and thumbnails inlined, no external requests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from siamkit.evaluation.comparisons import Comparison  # noqa: E402
from siamkit.evaluation.metrics import pair_count_notes  # noqa: E402
from siamkit.evaluation.pairs import EvaluationData  # noqa: E402
from siamkit.evaluation.runner import MethodResult  # noqa: E402
from siamkit.pages import write_page  # noqa: E402
from siamkit.wording import counted

#: (column, metrics.json key) of the summary table; "±" columns carry a 95 % interval.
COLUMNS = [("ROC-AUC", "roc_auc"), ("AP", "average_precision"), ("EER", "eer"),
           ("TPR@FPR 1%", "tpr@fpr=0.01"), ("TPR@FPR 0.1%", "tpr@fpr=0.001"),
           ("R@P90", "recall@precision=0.9"), ("accuracy", "accuracy"), ("F1", "f1"),
           ("recall@1", "recall@1"), ("recall@5", "recall@5"), ("recall@10", "recall@10"),
           ("mAP@R", "map@r"), ("µAP", "micro_ap"), ("pairs/s", "pairs_per_second"),
           ("peak MB", "peak_memory_mb")]
HARDEST = 8


def best_method(results: Sequence[MethodResult]) -> MethodResult:
    return max(results, key=lambda r: r.metrics["roc_auc"]["value"])


def write_metrics_json(path: Path, data: EvaluationData, results: Sequence[MethodResult],
                       comparisons: Sequence[Comparison]) -> None:
    document = {"data": data.describe(), "best_method": best_method(results).name,
                "methods": {r.name: r.metrics for r in results},
                "comparisons": [c.to_dict() for c in comparisons]}
    path.write_text(json.dumps(_nan_as_null(document), indent=2, default=float, allow_nan=False) + "\n")


def _nan_as_null(value: Any) -> Any:
    """JSON has no NaN (Python's json would write one that strict readers refuse): an interval
    that was not computed (``--bootstrap 0``) is written as null."""
    if isinstance(value, dict):
        return {key: _nan_as_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_as_null(item) for item in value]
    if isinstance(value, (float, np.floating)) and np.isnan(value):
        return None
    return value


def summary_table(results: Sequence[MethodResult]) -> dict[str, list]:
    """``{"titles": [column, ...], "rows": [(method, [cell, ...]), ...]}``, best ROC-AUC first,
    with the columns some method has: what the Markdown and the HTML tables show."""
    columns = [(title, key) for title, key in COLUMNS if any(key in r.metrics for r in results)]
    rows = [(r.name, [_cell(key, r.metrics.get(key)) for _, key in columns])
            for r in sorted(results, key=lambda r: -r.metrics["roc_auc"]["value"])]
    return {"titles": [title for title, _ in columns], "rows": rows}


def comparison_table(comparisons: Sequence[Comparison]) -> dict[str, list]:
    """Did training pay off, as ``summary_table`` gives its table: one row a comparison."""
    rows = [(c.method, [_against(c), _signed(c.difference, c.ci95), c.verdict]) for c in comparisons]
    return {"titles": ["against", "ROC-AUC difference (paired 95 % interval)", "verdict"], "rows": rows}


def _against(c: Comparison) -> str:
    chosen = f" on {c.chosen_on}" if c.chosen_on else ""  # where the best classical method was picked
    return f"{c.role}{chosen}, {c.against}"


def markdown_summary(results: Sequence[MethodResult], comparisons: Sequence[Comparison],
                     labels: np.ndarray) -> str:
    """The summary table (and what the number of pairs of ``labels`` leaves unsaid) and, when a
    trained model was evaluated, whether its training paid off."""
    text = _markdown("method", summary_table(results))
    for note in pair_count_notes(labels):
        text += f"\n\n{note}."
    if comparisons:
        table = _markdown("trained model", comparison_table(comparisons), words=("against", "verdict"))
        text += ("\n\nDid training pay off? Each trained model's ROC-AUC less another method's, on the "
                 f"same pairs:\n\n{table}")
    return text


def _markdown(first: str, table: dict[str, list], words: Sequence[str] = ()) -> str:
    """Columns of figures right-aligned, the columns titled in ``words`` left-aligned."""
    lines = [f"| {first} | " + " | ".join(table["titles"]) + " |",
             "|---|" + "".join("---|" if title in words else "---:|" for title in table["titles"])]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in table["rows"]]
    return "\n".join(lines)


def _signed(value: float, ci95: tuple[float, float]) -> str:
    low, high = ci95
    return _figure(value) + ("" if np.isnan(low) else f" ({_figure(low)} to {_figure(high)})")


def _figure(value: float) -> str:
    """Three decimals, or one significant digit where three would round a bound to zero and hide
    the sign its verdict rests on."""
    return f"{value:+.3f}" if value == 0 or round(value, 3) != 0 else f"{value:+.1g}"


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        low, high = value["ci95"]
        return f"{value['value']:.3f}" + ("" if np.isnan(low) else f" ({low:.3f}-{high:.3f})")
    if key in ("pairs_per_second", "peak_memory_mb"):
        return f"{value:.1f}" if value < 10 else f"{value:.0f}"
    return f"{value:.3f}"


def plot_roc(path: Path, labels: np.ndarray, results: Sequence[MethodResult]) -> None:
    figure, axes = plt.subplots(figsize=(6, 5))
    for r in results:
        fpr, tpr, _ = roc_curve(labels, r.scores)
        axes.plot(fpr, tpr, label=f"{r.name} (AUC {r.metrics['roc_auc']['value']:.3f})")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axes.set(xlabel="false-match rate", ylabel="true-match rate", title="ROC, every method on the same pairs")
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_paid_off(path: Path, comparisons: Sequence[Comparison]) -> None:
    """Each comparison's ROC-AUC difference and paired interval, against the line of no gain."""
    figure, axes = plt.subplots(figsize=(7, 1.4 + 0.55 * len(comparisons)))
    for row, c in enumerate(comparisons):
        low, high = c.ci95
        error = None if np.isnan(low) else [[c.difference - low], [high - c.difference]]
        colour = {"better": "tab:green", "worse": "tab:red"}.get(c.verdict, "tab:grey")
        axes.errorbar(c.difference, row, xerr=error, fmt="o", color=colour, capsize=4)
    axes.axvline(0, color="black", linewidth=1)
    axes.set_yticks(range(len(comparisons)), [f"{c.method}\nless {c.against}" for c in comparisons],
                    fontsize=7)
    axes.set(xlabel="ROC-AUC difference, paired 95 % interval", title="Did training pay off?",
             ylim=(len(comparisons) - 0.5, -0.5))  # the first on top, half a row of margin
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_distributions(path: Path, labels: np.ndarray, results: Sequence[MethodResult]) -> None:
    columns = min(3, len(results))
    rows = -(-len(results) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for ax, r in zip(axes.ravel(), results):
        bins = np.linspace(r.scores.min(), r.scores.max() + 1e-9, 40)
        for kind, name, colour in ((1, "matches", "tab:green"), (0, "non-matches", "tab:red")):
            scores = r.scores[labels == kind]  # as shares of their kind: a rare kind stays visible
            ax.hist(scores, bins=bins, weights=np.full(len(scores), 1 / max(len(scores), 1)), alpha=0.6,
                    label=f"{name} ({len(scores):,})", color=colour)
        if r.threshold is not None:
            ax.axvline(r.threshold, color="black", linestyle="--", linewidth=1, label="threshold (val)")
        ax.set_title(r.name, fontsize=9)
        ax.set_ylabel("share of its kind", fontsize=8)
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(results):]:
        ax.axis("off")
    figure.suptitle("scores of matches and non-matches")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def hardest_errors(data: EvaluationData, results: Sequence[MethodResult]) -> dict[str, np.ndarray]:
    """The best method's worst mistakes: non-matches it scored highest, matches it scored lowest."""
    best = best_method(results)
    labels = data.pairs[data.split].label
    negatives, positives = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    return {"false matches": negatives[np.argsort(-best.scores[negatives])][:HARDEST],
            "missed matches": positives[np.argsort(best.scores[positives])][:HARDEST]}


def write_html(path: Path, data: EvaluationData, results: Sequence[MethodResult],
               comparisons: Sequence[Comparison], plots: Sequence[Path], paid_off: Path | None) -> None:
    pairs = data.pairs[data.split]
    errors = [(title, [(pairs.a[i], pairs.b[i], [(r.name, float(r.scores[i])) for r in results])
                       for i in indices])
              for title, indices in hardest_errors(data, results).items()]
    heading = f"Evaluation of {counted(len(results), 'method')} on {data.source}"
    write_page(path, "evaluation.html", heading=heading,
               split=data.split, seed=data.splits.seed, info=data.describe(), skipped=data.skipped,
               best=best_method(results).name, table=summary_table(results),
               notes=pair_count_notes(pairs.label),
               comparisons=comparison_table(comparisons) if comparisons else None, paid_off=paid_off,
               plots=plots, errors=errors)
