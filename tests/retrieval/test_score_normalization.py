"""Score normalisation in search and duplicate finding gives what scoring every pair would."""

from __future__ import annotations

import numpy as np

from siamkit.retrieval.candidates import embedding_pairs
from siamkit.retrieval.index import exact_search
from siamkit.retrieval.score_normalization import normalized_pairs, rerank
from siamkit.scoring.embedding import kth_similarity


def _unit(count: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_normalized_pairs_are_every_pair_whose_normalized_score_passes():
    features, background = _unit(400, 8, 0), _unit(50, 8, 1)
    offsets = kth_similarity(features, background, 3)
    normalized = features @ features.T - (offsets[:, None] + offsets[None, :]) / 2
    rows, columns = np.nonzero(np.triu(normalized >= 0.2, 1))
    pairs, scores = normalized_pairs(lambda t: embedding_pairs(features, t), features, None, background, 3,
                                     0.2)
    assert {tuple(p) for p in pairs.tolist()} == set(zip(rows.tolist(), columns.tolist())) and len(rows) > 50
    np.testing.assert_allclose(scores, normalized[pairs[:, 0], pairs[:, 1]], atol=1e-5)


def test_rerank_orders_by_normalized_score():
    embeddings, queries, background = _unit(300, 8, 2), _unit(5, 8, 3), _unit(40, 8, 4)
    scores, ids = exact_search(embeddings, queries, 300)
    top_scores, top_ids = rerank(scores, ids, queries, embeddings, background, 2, 10)
    expected = queries @ embeddings.T - (kth_similarity(queries, background, 2)[:, None]
                                         + kth_similarity(embeddings, background, 2)[None, :]) / 2
    np.testing.assert_array_equal(top_ids, np.argsort(-expected, axis=1, kind="stable")[:, :10])
    np.testing.assert_allclose(top_scores, np.take_along_axis(expected, top_ids, 1), atol=1e-5)
