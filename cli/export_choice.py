"""``train export --choose-on-val``: which output (the projection head's, or the pooled backbone
features), how far toward the pretrained start (WiSE-FT alpha) and at which input sizes (one, or
several averaged) to export, chosen by ROC-AUC on labelled validation pairs, never on test pairs.
Each variant's embeddings are scored as ``train evaluate`` scores an encoder (cosine of
L2-normalised embeddings)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from siamkit.models.encoder import Encoder, mean_direction
from siamkit.models.export_variants import (
    MULTI_SCALE,
    at_scales,
    interpolate_toward_start,
    start_weights,
    without_head,
)

#: the interpolation weights tried (1 = the fine-tuned weights as trained)
ALPHAS = (1.0, 0.75, 0.5, 0.25, 0.0)
FEATURES = ("head", "backbone")
SCALES = ((1.0,), MULTI_SCALE)

Scales = tuple[float, ...]  # input-size multiples


class Variant(NamedTuple):
    alpha: float
    output: str
    scales: Scales
    roc_auc: float


def choose_on_val(encoder: Encoder, pairs: tuple[list[str], list[str], np.ndarray], alphas: tuple[float, ...],
                  features: tuple[str, ...], scales: tuple[Scales, ...]) -> tuple[Encoder, list[Variant]]:
    """The best variant of ``encoder`` on ``pairs`` (a paths, b paths, labels), and every variant
    in the order tried. Ties go to the variant tried first: the fine-tuned weights, the head's
    output and the input size alone, as trained."""
    a, b, labels = pairs
    images = sorted(set(a) | set(b))
    row = {path: i for i, path in enumerate(images)}
    a_rows, b_rows = [row[p] for p in a], [row[p] for p in b]
    trained = {name: tensor.clone() for name, tensor in encoder.backbone.state_dict().items()}
    start = start_weights(encoder) if min(alphas) < 1.0 else None  # read once, not once per alpha
    variants = []
    with tqdm(total=len(alphas) * len(images), desc="embedding the val images per WiSE-FT alpha",
              unit="img") as progress:
        for alpha in alphas:
            variants += _scored(_variant(encoder, trained, start, alpha), alpha, images, (a_rows, b_rows),
                                labels, features, scales, progress)
    best = max(variants, key=lambda entry: entry.roc_auc)  # max keeps the first of equals
    chosen = _variant(encoder, trained, start, best.alpha)
    chosen = at_scales(chosen if best.output == "head" else without_head(chosen), best.scales)
    chosen.card.wise_ft_alpha = best.alpha if best.alpha < 1.0 else None
    chosen.card.metrics = {**chosen.card.metrics, "export choice val/roc_auc": best.roc_auc}
    return chosen, variants


@torch.inference_mode()
def _scored(variant: Encoder, alpha: float, images: list[str], rows: tuple[list[int], list[int]],
            labels: np.ndarray, features: tuple[str, ...], scales: tuple[Scales, ...], progress: tqdm
            ) -> list[Variant]:
    """Each output and set of scales of one interpolated ``variant``, scored on the pairs of ``rows``."""
    pooled = _pooled_features(variant, images, sorted({s for sizes in scales for s in sizes}), progress)
    scored = []
    for output in features:
        outputs = variant if output == "head" else without_head(variant)
        for sizes in scales:
            embeddings = mean_direction([outputs.output(pooled[s]) for s in sizes]).numpy()
            cosine = np.einsum("ij,ij->i", embeddings[rows[0]], embeddings[rows[1]])
            scored.append(Variant(alpha, output, sizes, float(roc_auc_score(labels, cosine))))
    return scored


def _pooled_features(encoder: Encoder, images: list[str], scales: list[float], progress: tqdm,
                     batch_size: int = 64) -> dict[float, torch.Tensor]:
    """The backbone's pooled features of ``images`` at each of ``scales``, each image decoded once."""
    pooled = {scale: [] for scale in scales}
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        normalized = encoder.normalize(encoder.preprocess.batch(batch))
        for scale in scales:
            pooled[scale].append(encoder.pooled_features(normalized, scale))
        progress.update(len(batch))
    return {scale: torch.cat(parts) for scale, parts in pooled.items()}


def _variant(encoder: Encoder, trained: dict, start: dict | None, alpha: float) -> Encoder:
    encoder.backbone.load_state_dict(trained)
    encoder.card.wise_ft_alpha = None
    return interpolate_toward_start(encoder, alpha, start) if alpha < 1.0 else encoder
