"""Leaks between splits: near-duplicate images on two sides of train / val / test, which make
validation and test figures optimistic. ``train leaks`` lists them; ``train fit`` checks for
them before training (``data.check_leaks``) with PDQ, which needs no model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from siamkit.data.bad_images import BadImage
from siamkit.retrieval import verification
from siamkit.retrieval.duplicates import Method, near_pairs, picture_features
from siamkit.wording import counted


@dataclass(frozen=True)
class Leak:
    a: str
    split_a: str
    b: str
    split_b: str
    similarity: float


def find_leaks(paths: list[str], splits: np.ndarray, method: Method, index_folder: Optional[Path] = None,
               sift_min_matches: Optional[int] = None) -> tuple[list[Leak], list[BadImage]]:
    """Pairs at or above ``method``'s threshold whose images are in different splits (with
    ``sift_min_matches``, only those the SIFT re-check confirms), most similar first; and the
    images a hash could not compare (too little detail).
    ``index_folder`` keeps an encoder's embeddings (hashes need none)."""
    features = picture_features(method, paths, index_folder)
    unhashable = [BadImage(paths[i], why) for i, why in sorted(features.unhashable.items())]
    pairs, scores = near_pairs(method, features)
    across = splits[pairs[:, 0]] != splits[pairs[:, 1]] if len(pairs) else np.zeros(0, bool)
    pairs, scores = pairs[across], scores[across]
    if sift_min_matches is not None and len(pairs):
        confirmed = verification.confirmed(pairs, paths, paths, sift_min_matches)
        pairs, scores = pairs[confirmed], scores[confirmed]
    leaks = [Leak(paths[i], str(splits[i]), paths[j], str(splits[j]), float(s))
             for (i, j), s in zip(pairs, scores)]
    return sorted(leaks, key=lambda leak: (-leak.similarity, leak.a, leak.b)), unhashable


def pdq_method() -> Method:
    """The cheap default: PDQ at Meta's match distance (31 of 256 bits)."""
    from siamkit.scoring.registry import get_scorer

    scorer = get_scorer("pdq")
    return Method("pdq", scorer.match_similarity, scorer=scorer)


def leak_summary(leaks: list[Leak], source: str) -> str:
    counts: dict[str, int] = {}
    for leak in leaks:
        key = " / ".join(sorted((leak.split_a, leak.split_b)))
        counts[key] = counts.get(key, 0) + 1
    first = leaks[0]
    per_splits = ", ".join(f"{n:,} {k}" for k, n in sorted(counts.items()))
    return (f"{counted(len(leaks), 'near-duplicate pair')} of {source} in two splits ({per_splits}), "
            f"e.g. {first.a} ({first.split_a}) and {first.b} ({first.split_b}) at {first.similarity:.3f}")
