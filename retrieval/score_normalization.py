"""SSCD's score normalisation (Pizzi et al. 2022) for search and duplicate finding: a pair
scores ``cos(a, b) - (n_k(a) + n_k(b)) / 2``, where ``n_k(x)`` is x's similarity to its k-th
nearest image in a background set of unrelated images. Images that resemble everything
(skies, textures, blank pages) stop matching everything; ``train evaluate --background`` shows
whether it helps on labelled pairs. Normalised scores are not cosines: a calibrated cosine
threshold does not apply to them."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from siamkit.errors import SiamkitError
from siamkit.retrieval.index_paths import same_file
from siamkit.scoring.embedding import kth_similarity
from siamkit.wording import counted


def background_images(folder: str | Path, k: int, compared: Iterable[str] = ()) -> list[str]:
    """The readable images of a ``--background`` folder, at least ``k`` of them, none of them
    among the ``compared`` images."""
    from siamkit.data.scan import scan_images
    from siamkit.retrieval.collection import list_images

    images = list_images(folder).images
    bad = scan_images(images, "skip", "")
    readable = [path for path in images if path not in bad]
    if len(readable) < k:
        raise SiamkitError(f"--background {folder}: {len(readable)} readable images, and "
                           f"--background-k {k} needs at least that many")
    check_apart(readable, compared, folder)
    return readable


def check_apart(background: Iterable[str], compared: Iterable[str], folder: str | Path) -> None:
    """A compared image in the background is its own nearest background image: every score it
    takes part in drops by about 1, and its matches are lost."""
    shared = set(map(same_file, background)) & set(map(same_file, compared))
    if shared:
        raise SiamkitError(f"--background {folder} holds images that are also compared "
                           f"({counted(len(shared), 'image')}, e.g. {min(shared)}): a background is "
                           "images of unrelated subjects; pass a folder of other images")


def normalized_pairs(pairs_at, features: np.ndarray, queries: np.ndarray | None, background: np.ndarray,
                     k: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs whose normalised score is at least ``threshold``: ``pairs_at(cosine threshold)``
    (a range search) at the lowest cosine any such pair can have, then each pair's offset."""
    offsets = kth_similarity(features, background, k)
    query_offsets = offsets if queries is None else kth_similarity(queries, background, k)
    pairs, cosine = pairs_at(threshold + (offsets.min() + query_offsets.min()) / 2)
    scores = cosine - (query_offsets[pairs[:, 0]] + offsets[pairs[:, 1]]) / 2 if len(pairs) else cosine
    keep = scores >= threshold
    return pairs[keep], scores[keep]


def rerank(scores: np.ndarray, ids: np.ndarray, queries: np.ndarray, embeddings: np.ndarray,
           background: np.ndarray, k: int, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Search results by cosine -> the ``top`` best by normalised score, best first."""
    query_offsets = kth_similarity(queries, background, k)
    found = ids.ravel()
    offsets = np.full(len(found), np.inf)
    valid = found >= 0
    offsets[valid] = kth_similarity(np.asarray(embeddings[found[valid]], np.float32), background, k)
    normalized = scores - (query_offsets[:, None] + offsets.reshape(ids.shape)) / 2
    order = np.argsort(-normalized, axis=1, kind="stable")[:, :top]
    return np.take_along_axis(normalized, order, 1), np.take_along_axis(ids, order, 1)
