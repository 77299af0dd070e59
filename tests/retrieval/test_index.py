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


def test_a_damaged_cached_hnsw_index_is_rebuilt(tmp_path, capsys):
    from siamkit.retrieval.index import EMBEDDINGS, approximate_index

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.save(tmp_path / EMBEDDINGS, vectors)
    built = approximate_index(vectors, "hnsw", tmp_path)
    cached = tmp_path / "index-hnsw.faiss"
    assert cached.exists() and not list(tmp_path.glob(".*partial"))
    cached.write_bytes(cached.read_bytes()[:500])
    index = approximate_index(vectors, "hnsw", tmp_path)
    assert "damaged or out of date: building it again" in capsys.readouterr().err
    assert index.ntotal == built.ntotal == 300
    _, ids = index.search(vectors[:5], 1)
    assert ids[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert approximate_index(vectors, "hnsw", tmp_path).ntotal == 300 and not capsys.readouterr().err


def test_queries_of_another_shape_are_refused_with_what_the_index_holds(tmp_path):
    import pytest

    from siamkit.retrieval.index import EmbeddingIndex, write_index

    vectors = np.eye(4, dtype=np.float32)
    write_index(tmp_path, vectors, ["a", "b", "c", "d"], [None] * 4,
                {"encoder": "encoders/mine", "fingerprint": "x", "dim": 4})
    index = EmbeddingIndex.load(tmp_path)
    assert index.search(vectors[:1], k=1)[1].tolist() == [[0]]
    for queries in (np.ones((1, 7), np.float32), np.ones(4, np.float32)):
        with pytest.raises(ValueError, match=r"queries must be \(Q, 4\) embeddings.*encoders/mine"):
            index.search(queries, k=1)
    with pytest.raises(ValueError, match="k is how many neighbours .* a whole number >= 0, not -1"):
        index.search(vectors[:1], k=-1)  # numpy's "negative dimensions are not allowed", before
    assert index.search(vectors[:1], k=np.int64(2))[1].shape == (1, 2)
