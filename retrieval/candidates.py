"""Candidate pairs for duplicate finding: every pair at or above a similarity threshold, by
FAISS range search, a block of queries at a time. Nothing N x N is ever held: memory is the
index plus the pairs found.

Embeddings (unit vectors, inner product): an exact flat index below ``APPROXIMATE_FROM``
images, an IVF index from there on (48 of its 4 sqrt(N) lists searched per query: on a million
clustered vectors this finds 0.998 of the pairs an exact search finds, in 6.5 minutes on 2
cores, where 16 lists found 0.978 in 2.7; ``scripts/bench_duplicates.py --scale``).
Bit hashes (pHash, PDQ): an exact binary index on Hamming distance. With eight orientations
per image (``pdq:dihedral``), each image's orientations are searched against the others'
upright hashes and the reverse, and the best of each pair kept.
"""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np

from siamkit.progress import progress_bar
from siamkit.retrieval.index import APPROXIMATE_FROM, approximate_index

QUERY_BLOCK = 16_384


def embedding_pairs(database: np.ndarray, threshold: float, queries: Optional[np.ndarray] = None,
                    nprobe: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """(pairs (P, 2), similarities (P,)) with similarity >= threshold. Without ``queries``,
    pairs within ``database`` with i < j; with them, (query row, database row)."""
    import faiss

    if len(database) < APPROXIMATE_FROM:
        index = faiss.IndexFlatIP(database.shape[1])
        for start in range(0, len(database), 100_000):
            index.add(np.ascontiguousarray(database[start:start + 100_000], np.float32))
    else:
        index = approximate_index(database, "ivf", nprobe=nprobe)
    radius = float(np.nextafter(np.float32(threshold), np.float32(-np.inf)))  # FAISS keeps scores > radius
    found = _range_search(index, database if queries is None else queries, radius, "embedding pairs")
    return _collect(found, self_join=queries is None)


def hash_pairs(bits: np.ndarray, threshold: float, queries: Optional[np.ndarray] = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """As ``embedding_pairs`` for bit hashes, (N, B) bool or (N, 8, B) for eight orientations;
    similarity is 1 - Hamming distance / B."""
    import faiss

    self_join = queries is None
    queries = bits if self_join else queries
    width = bits.shape[-1]
    radius = int(np.floor((1 - threshold) * width + 1e-9)) + 1  # FAISS keeps distances < radius
    searches = [(bits, queries)] if bits.ndim == 2 else [(bits[:, 0], queries), (bits, queries[:, 0])]
    pairs, distances = [], []
    for database, probes in searches:
        index = faiss.IndexBinaryFlat(width)
        index.add(np.packbits(database.reshape(-1, width), axis=1))
        packed = np.packbits(probes.reshape(-1, width), axis=1)
        found, distance = _collect(_range_search(index, packed, radius, "hash pairs"), self_join=False)
        per_probe, per_entry = (probes.shape[1] if probes.ndim == 3 else 1,
                                database.shape[1] if database.ndim == 3 else 1)
        pairs.append(np.stack([found[:, 0] // per_probe, found[:, 1] // per_entry], 1))
        distances.append(distance)
    pairs, similarity = np.concatenate(pairs), 1 - np.concatenate(distances) / width
    if self_join:
        pairs = np.sort(pairs, axis=1)
        keep = pairs[:, 0] < pairs[:, 1]
        pairs, similarity = pairs[keep], similarity[keep]
    return _best_per_pair(pairs, similarity)


def _range_search(index, queries: np.ndarray, radius: float,
                  what: str) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    for start in progress_bar(range(0, len(queries), QUERY_BLOCK), desc=what, unit="block", leave=False):
        block = queries[start:start + QUERY_BLOCK]
        if block.dtype != np.uint8:
            block = np.ascontiguousarray(block, np.float32)
        lims, scores, ids = index.range_search(block, radius)
        yield start, lims, scores, ids


def _collect(found: Iterator, self_join: bool) -> tuple[np.ndarray, np.ndarray]:
    pairs, scores = [np.zeros((0, 2), np.int64)], [np.zeros(0)]
    for start, lims, block_scores, ids in found:
        rows = np.repeat(np.arange(len(lims) - 1) + start, np.diff(lims.astype(np.int64)))
        keep = ids > rows if self_join else np.ones(len(ids), bool)
        pairs.append(np.stack([rows[keep], ids[keep]], 1).astype(np.int64))
        scores.append(block_scores[keep].astype(np.float64))
    return np.concatenate(pairs), np.concatenate(scores)


def _best_per_pair(pairs: np.ndarray, similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((-similarity, pairs[:, 1], pairs[:, 0]))
    pairs, similarity = pairs[order], similarity[order]
    first = np.ones(len(pairs), bool)
    first[1:] = np.any(pairs[1:] != pairs[:-1], axis=1)
    return pairs[first], similarity[first]
