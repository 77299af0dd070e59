"""``train export --choose-on-val``: which output (the projection head's, or the pooled backbone
features) and how far toward the pretrained start (WiSE-FT alpha) to export, chosen by ROC-AUC
on labelled validation pairs, never on test pairs. Each variant's embeddings are scored as
``train evaluate`` scores an encoder (cosine of L2-normalised embeddings)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from siamkit.models.encoder import Encoder
from siamkit.models.robust_fine_tuning import interpolate_toward_start, start_weights, without_head

#: the interpolation weights tried (1 = the fine-tuned weights as trained)
ALPHAS = (1.0, 0.75, 0.5, 0.25, 0.0)
FEATURES = ("head", "backbone")


def choose_on_val(encoder: Encoder, pairs: tuple[list[str], list[str], np.ndarray], alphas: tuple[float, ...],
                  features: tuple[str, ...]) -> tuple[Encoder, list[tuple[float, str, float]]]:
    """The best variant of ``encoder`` on ``pairs`` (a paths, b paths, labels), and every variant's
    (alpha, features, ROC-AUC) in the order tried. Ties go to the variant tried first: the
    fine-tuned weights and the head's output, as trained."""
    a, b, labels = pairs
    images = sorted(set(a) | set(b))
    row = {path: i for i, path in enumerate(images)}
    trained = {name: tensor.clone() for name, tensor in encoder.backbone.state_dict().items()}
    start = start_weights(encoder) if min(alphas) < 1.0 else None  # read once, not once per alpha
    scores = []
    for alpha in alphas:
        variant = _variant(encoder, trained, start, alpha)
        for output in features:
            embeddings = (variant if output == "head" else without_head(variant)).embed(images)
            cosine = np.einsum("ij,ij->i", embeddings[[row[p] for p in a]], embeddings[[row[p] for p in b]])
            scores.append((alpha, output, float(roc_auc_score(labels, cosine))))
    alpha, output, best = max(scores, key=lambda entry: entry[2])  # max keeps the first of equals
    chosen = _variant(encoder, trained, start, alpha)
    chosen = chosen if output == "head" else without_head(chosen)
    chosen.card.wise_ft_alpha = alpha if alpha < 1.0 else None
    chosen.card.metrics = {**chosen.card.metrics, "export choice val/roc_auc": best}
    return chosen, scores


def _variant(encoder: Encoder, trained: dict, start: dict | None, alpha: float) -> Encoder:
    encoder.backbone.load_state_dict(trained)
    encoder.card.wise_ft_alpha = None
    return interpolate_toward_start(encoder, alpha, start) if alpha < 1.0 else encoder
