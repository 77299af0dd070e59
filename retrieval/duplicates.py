"""Near-duplicate finding in stages, cheapest first (the set-up of copy-detection systems):

1. exact duplicates: the same file bytes or the same decoded pixels (``exact``), before any
   model runs; only one image of each such set goes on;
2. candidates: every pair at or above the threshold by an encoder's embeddings (kept in an
   index folder, so a rerun embeds only new and changed images) or by a bit hash, found by range
   search (``candidates``), never by comparing all pairs;
3. optionally, each candidate re-checked with SIFT (``verification``);

then groups that do not chain (``grouping``), with their exact copies put back in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Optional

import numpy as np

from siamkit.data.images import load_image
from siamkit.retrieval.candidates import embedding_pairs, hash_pairs
from siamkit.retrieval.exact import ExactDuplicates
from siamkit.retrieval.grouping import Group
from siamkit.retrieval.score_normalization import normalized_pairs
from siamkit.retrieval.workers import map_files

#: the shorter side hashed images are decoded to, at least
HASH_DECODE_SIZE = 256


@dataclass
class Method:
    """What finds candidates: an encoder (``Embedder``) or a bit-hash ``Scorer``."""

    name: str
    threshold: float
    encoder: Optional[object] = None
    scorer: Optional[object] = None
    background: Optional[np.ndarray] = None  # background embeddings: normalised scores (encoders)
    background_k: int = 1


@dataclass
class Pictures:
    """Features of pictures in order, and the positions of those with too little detail to hash,
    with why (hashes only): they are compared with nothing."""

    features: np.ndarray
    unhashable: dict[int, str] = field(default_factory=dict)


def picture_features(method: Method, files: list[str], index_folder: Optional[Path] = None,
                     batch_size: int = 64, num_workers: int = 2) -> Pictures:
    """``files``' features in order: an encoder's embeddings, kept in (and reused from)
    ``index_folder``, or bit hashes."""
    if method.scorer is not None:
        return _hashes(method.scorer, files, num_workers)
    from siamkit.retrieval.collection import Listing, embed_collection
    from siamkit.retrieval.index import EmbeddingIndex
    from siamkit.retrieval.index_paths import same_file

    embed_collection(Listing(files), method.encoder, index_folder, method.name, batch_size, num_workers)
    index = EmbeddingIndex.load(index_folder)
    position = {same_file(f): i for i, f in enumerate(index.files)}
    return Pictures(np.asarray(index.embeddings[[position[same_file(f)] for f in files]], np.float32))


def _hashes(scorer, files: list[str], num_workers: int) -> Pictures:
    hashed = map_files(partial(_hash, scorer), files, num_workers, scorer.name)
    return Pictures(np.stack([bits for bits, _ in hashed]),
                    {i: problem for i, (_, problem) in enumerate(hashed) if problem})


def _hash(scorer, path: str) -> tuple[np.ndarray, Optional[str]]:
    # hashes look at 32-64 px: a JPEG is decoded at a fraction of its size
    return scorer.checked_features(load_image(path, draft_size=HASH_DECODE_SIZE))


def near_pairs(method: Method, pictures: Pictures,
               queries: Optional[Pictures] = None) -> tuple[np.ndarray, np.ndarray]:
    """(pairs (P, 2), similarities (P,)) at or above the threshold, none with an unhashable picture."""
    features, query_features = pictures.features, queries.features if queries is not None else None
    if method.scorer is not None:
        pairs, scores = hash_pairs(features, method.threshold, query_features)
    elif method.background is not None:
        pairs, scores = normalized_pairs(partial(embedding_pairs, features, queries=query_features), features,
                                         query_features, method.background, method.background_k,
                                         method.threshold)
    else:
        pairs, scores = embedding_pairs(features, method.threshold, query_features)
    rows = (queries if queries is not None else pictures).unhashable
    keep = ~(np.isin(pairs[:, 0], list(rows)) | np.isin(pairs[:, 1], list(pictures.unhashable)))
    return pairs[keep], scores[keep]


def expand_groups(groups: list[Group], pictures: dict[int, list[int]], exact: ExactDuplicates) -> list[Group]:
    """Groups over picture positions (``pictures``' order) -> groups over images: each member
    brings its exact copies (at its similarity); pictures with several images and no
    near-duplicate form groups of their own."""
    images = list(pictures.values())
    out, placed = [], set()
    for group in groups:
        members = [image for member in group.members for image in images[member]]
        similarity = [score for member, score in zip(group.members, group.similarity)
                      for _ in images[member]]
        placed.update(group.members)
        out.append(Group(members, similarity, group.reason))
    for position, members in enumerate(images):
        if len(members) > 1 and position not in placed:
            how = sorted({exact.how(members[0], m) for m in members[1:]})
            out.append(Group(members, [1.0] * len(members), f"exact copies ({', '.join(how)})"))
    return sorted(out, key=lambda g: (-len(g.members), g.members[0]))


def copies_in_reference(pairs: np.ndarray, scores: np.ndarray, query_pictures: dict[int, list[int]],
                        reference_pictures: dict[int, list[int]], exact: ExactDuplicates,
                        method: str) -> list[tuple]:
    """(query image, reference image, similarity, stage) for every copy of a query in the
    reference set: exact copies, then the near pairs (pairs of picture positions) found by
    ``method``, each query's best first."""
    found = {}
    for picture, queries in query_pictures.items():
        for query in queries:
            for reference in reference_pictures.get(picture, []):
                found[(query, reference)] = (1.0, exact.how(query, reference))
    query_images, reference_images = list(query_pictures.values()), list(reference_pictures.values())
    for (q, r), score in zip(pairs, scores):
        for query in query_images[q]:
            for reference in reference_images[r]:
                found.setdefault((query, reference), (float(score), method))
    rows = [(q, r, score, stage) for (q, r), (score, stage) in found.items()]
    return sorted(rows, key=lambda row: (row[0], -row[2], row[1]))
