"""``train export --choose-on-val``: which output (the projection head's, the pooled backbone
features, or those joined by mid-level ones), how far toward the pretrained start (WiSE-FT
alpha) and at which input sizes (one, or several averaged) to export, chosen by ROC-AUC on
labelled validation pairs, never on test pairs. Each variant's embeddings are scored as ``train
evaluate`` scores an encoder (cosine of L2-normalised embeddings)."""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from siamkit.evaluation.comparisons import paired_difference
from siamkit.models.encoder import Encoder, join_mid_level, mean_direction
from siamkit.models.export_variants import (
    MULTI_SCALE,
    at_scales,
    interpolate_toward_start,
    start_weights,
    with_mid_level,
    without_head,
)
from siamkit.progress import progress_bar

#: the interpolation weights tried (1 = the fine-tuned weights as trained)
ALPHAS = (1.0, 0.75, 0.5, 0.25, 0.0)
#: the outputs tried, each kept over the one before it unless that one is clearly better on the
#: val pairs: what transfers better to images unlike the training ones comes later
FEATURES = ("head", "backbone", "backbone+mid")
SCALES = ((1.0,), MULTI_SCALE)
#: bootstrap resamples of the val pairs for one output against the next (as `train evaluate`
#: draws by default)
RESAMPLES = 200

Scales = tuple[float, ...]  # input-size multiples


class Variant(NamedTuple):
    alpha: float
    output: str
    scales: Scales
    roc_auc: float
    scores: Optional[np.ndarray] = None  # the cosine of each val pair


def choose_on_val(encoder: Encoder, pairs: tuple[list[str], list[str], np.ndarray], alphas: tuple[float, ...],
                  features: tuple[str, ...], scales: tuple[Scales, ...]
                  ) -> tuple[Encoder, list[Variant], Optional[str]]:
    """The best variant of ``encoder`` on ``pairs`` (a paths, b paths, labels), every variant in
    the order tried, and a note where a later output of ``FEATURES`` was kept over one that was
    not clearly better. Ties go to the variant tried first: the fine-tuned weights, the head's
    output and the input size alone, as trained."""
    a, b, labels = pairs
    images = sorted(set(a) | set(b))
    row = {path: i for i, path in enumerate(images)}
    a_rows, b_rows = [row[p] for p in a], [row[p] for p in b]
    trained = {name: tensor.clone() for name, tensor in encoder.backbone.state_dict().items()}
    start = start_weights(encoder) if min(alphas) < 1.0 else None  # read once, not once per alpha
    variants = []
    with progress_bar(total=len(alphas) * len(images), desc="embedding the val images per WiSE-FT alpha",
              unit="img") as progress:
        for alpha in alphas:
            variants += _scored(_variant(encoder, trained, start, alpha), alpha, images, (a_rows, b_rows),
                                labels, features, scales, progress)
    best = max(variants, key=lambda entry: entry.roc_auc)  # max keeps the first of equals
    best, note = _unless_clearly_better(best, variants, labels)
    chosen = at_scales(_output(_variant(encoder, trained, start, best.alpha), best.output), best.scales)
    chosen.card.wise_ft_alpha = best.alpha if best.alpha < 1.0 else None
    # a figure chosen among many on the same pairs reads high: the card keeps how many
    chosen.card.metrics = {**chosen.card.metrics, "export choice val/roc_auc": best.roc_auc,
                           "export choice val/variants compared": float(len(variants))}
    return chosen, variants, note


def _unless_clearly_better(best: Variant, variants: list[Variant], labels: np.ndarray
                           ) -> tuple[Variant, Optional[str]]:
    """``best``, unless the next output of ``FEATURES`` (same weights and sizes) is not clearly
    worse: one output is kept over the next only where it beats it on the val pairs with a paired
    95 % interval clear of zero, since what transfers better to images unlike the training ones
    is what a small val set cannot show. The features before a projection head transfer better
    (SimCLR, Chen et al. 2020; issue 28 measured 0.980 against 0.960 on other photographs), and
    with mid-level features the photo demo's models ranked copies under edits they never trained
    on better, level on their own (docs/benchmarks.md)."""
    notes = []
    while best.output != FEATURES[-1]:
        later = FEATURES[FEATURES.index(best.output) + 1]
        rival = next((v for v in variants if v.output == later and v.alpha == best.alpha
                      and v.scales == best.scales), None)
        if rival is None:
            break
        difference, (low, high) = paired_difference(labels, best.scores, rival.scores, RESAMPLES, seed=0)
        if low > 0:
            break
        this, that = _OUTPUT_NAMES[best.output], _OUTPUT_NAMES[later]
        notes.append(f"the {this} ({best.roc_auc:.4f}) against the {that} ({rival.roc_auc:.4f}) on these val "
                     f"pairs: paired {difference:+.4f} ({low:+.4f} to {high:+.4f}), not clearly better, so "
                     f"the {that}, which transfer better, are exported")
        best = rival
    return best, "; ".join(notes) or None


_OUTPUT_NAMES = {"head": "head's output", "backbone": "backbone features",
                 "backbone+mid": "backbone features with mid-level ones"}


@torch.inference_mode()
def _scored(variant: Encoder, alpha: float, images: list[str], rows: tuple[list[int], list[int]],
            labels: np.ndarray, features: tuple[str, ...], scales: tuple[Scales, ...], progress: tqdm
            ) -> list[Variant]:
    """Each output and set of scales of one interpolated ``variant``, scored on the pairs of ``rows``."""
    pooled = _pooled_features(variant, images, sorted({s for sizes in scales for s in sizes}),
                              "backbone+mid" in features, progress)
    scored = []
    for output in features:
        outputs = _output(variant, output)
        for sizes in scales:
            embeddings = mean_direction([outputs.output(pooled[s][output == "backbone+mid"])
                                         for s in sizes]).numpy()
            cosine = np.einsum("ij,ij->i", embeddings[rows[0]], embeddings[rows[1]])
            scored.append(Variant(alpha, output, sizes, float(roc_auc_score(labels, cosine)), cosine))
    return scored


def _pooled_features(encoder: Encoder, images: list[str], scales: list[float], mid_level: bool,
                     progress: tqdm, batch_size: int = 64
                     ) -> dict[float, tuple[torch.Tensor, Optional[torch.Tensor]]]:
    """The backbone's pooled features of ``images`` at each of ``scales``, and with ``mid_level``
    those joined by its mid-level ones, from the same pass; each image decoded once."""
    pooled = {scale: ([], []) for scale in scales}
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        normalized = encoder.normalize(encoder.preprocess.batch(batch))
        for scale in scales:
            resized = encoder.resized(normalized, scale)
            if mid_level:
                features, mid = encoder.backbone.with_mid_level(resized)
                pooled[scale][1].append(join_mid_level(features, mid))
            else:
                features = encoder.backbone(resized)
            pooled[scale][0].append(features)
        progress.update(len(batch))
    return {scale: (torch.cat(features), torch.cat(joined) if joined else None)
            for scale, (features, joined) in pooled.items()}


def _output(encoder: Encoder, output: str) -> Encoder:
    if output == "backbone+mid":
        return with_mid_level(encoder)
    return encoder if output == "head" else without_head(encoder)


def _variant(encoder: Encoder, trained: dict, start: dict | None, alpha: float) -> Encoder:
    encoder.backbone.load_state_dict(trained)
    encoder.card.wise_ft_alpha = None
    return interpolate_toward_start(encoder, alpha, start) if alpha < 1.0 else encoder
