"""Search over an index."""

from __future__ import annotations

import numpy as np

from siamkit.retrieval.index import exact_search


def test_exact_search_in_chunks_equals_brute_force():
    rng = np.random.default_rng(0)
    database = rng.normal(size=(1000, 16)).astype(np.float32)
    queries = rng.normal(size=(7, 16)).astype(np.float32)
    scores, ids = exact_search(database, queries, k=5, chunk=128)
    expected = np.argsort(-(queries @ database.T), axis=1)[:, :5]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ database.T, expected, 1), rtol=1e-5)
