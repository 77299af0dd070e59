"""Candidate pairs by range search equal the pairs an all-pairs comparison finds."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.retrieval import candidates
from siamkit.retrieval.candidates import embedding_pairs, hash_pairs
from siamkit.scoring.registry import get_scorer


def _clustered(count: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((count // 4, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, len(centres), count)] + 0.08 * rng.standard_normal((count, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _all_pairs(similarity: np.ndarray, threshold: float, self_join: bool) -> set[tuple[int, int]]:
    rows, columns = np.nonzero(similarity >= threshold)
    return {(int(i), int(j)) for i, j in zip(rows, columns) if not self_join or i < j}


@pytest.mark.parametrize("approximate", [False, True])
def test_embedding_pairs_are_the_pairs_above_the_threshold(approximate, monkeypatch):
    if approximate:  # the IVF index that collections of 200,000 and more get
        monkeypatch.setattr(candidates, "APPROXIMATE_FROM", 100)
    vectors = _clustered(2000, 32)
    pairs, scores = embedding_pairs(vectors, 0.8)
    truth = _all_pairs(vectors @ vectors.T, 0.8, self_join=True)
    found = {tuple(p) for p in pairs.tolist()}
    assert found <= truth and len(found) >= 0.99 * len(truth) and len(truth) > 1000
    if not approximate:
        assert found == truth
        np.testing.assert_allclose(scores, [vectors[i] @ vectors[j] for i, j in pairs], atol=1e-5)
    queries = _clustered(300, 32, seed=1)
    pairs, _ = embedding_pairs(vectors, 0.8, queries)
    cross = _all_pairs(queries @ vectors.T, 0.8, self_join=False)
    assert {tuple(p) for p in pairs.tolist()} <= cross


@pytest.mark.parametrize("method", ["phash", "pdq", "pdq:dihedral"])
def test_hash_pairs_are_the_pairs_the_scorer_would_link(method, photos):
    scorer = get_scorer(method)
    images = [np.rot90(image, k).copy() for image in photos.values() for k in (0, 1)]
    images += [np.fliplr(image).copy() for image in photos.values()]
    features = np.stack(scorer.features_many(images))
    threshold = 0.6
    pairs, scores = hash_pairs(features, threshold)
    expected = _all_pairs(scorer.compare_matrix(list(features)), threshold, self_join=True)
    assert {tuple(p) for p in pairs.tolist()} == expected
    np.testing.assert_allclose(scores, [scorer.compare(features[i], features[j]) for i, j in pairs])
