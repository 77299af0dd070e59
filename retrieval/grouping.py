"""Groups of near-duplicates from the pairs above a threshold.

``star`` (the default) does not chain: it repeatedly takes the image with the most links to
images not yet grouped as a group's centre, and gives it those images. Every member is then
within the threshold of its centre, and no two groups share an image. (Connected components
would put A with C when A~B and B~C, however unlike A and C are.) ``components`` keeps the
connected components, for collections where chains are wanted (burst photos drifting).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

Grouping = Literal["star", "components"]


@dataclass
class Group:
    """``members[0]`` is the representative; ``similarity[k]``: members[k] to the representative
    (nan where they are not linked directly: components only)."""

    members: list[int]
    similarity: list[float]
    reason: str


def group_pairs(pairs: np.ndarray, scores: np.ndarray, count: int,
                grouping: Grouping = "star") -> list[Group]:
    """Groups of two or more among ``count`` images, largest first."""
    if not len(pairs):
        return []
    both = np.concatenate([pairs, pairs[:, ::-1]])
    graph = csr_matrix((np.concatenate([scores, scores]), (both[:, 0], both[:, 1])), shape=(count, count))
    groups = _stars(graph) if grouping == "star" else _components(pairs, graph, count)
    return sorted(groups, key=lambda g: (-len(g.members), g.members[0]))


def _stars(graph: csr_matrix) -> list[Group]:
    grouped = np.zeros(graph.shape[0], bool)
    heap = [(-int(d), i) for i, d in enumerate(np.diff(graph.indptr)) if d]
    heapq.heapify(heap)
    groups = []
    while heap:
        links, centre = heapq.heappop(heap)
        if grouped[centre]:
            continue
        row = slice(graph.indptr[centre], graph.indptr[centre + 1])
        free = ~grouped[graph.indices[row]]
        if -links != free.sum():  # some of its links went to other groups since: queue it again
            if free.any():
                heapq.heappush(heap, (-int(free.sum()), centre))
            continue
        members, similarity = graph.indices[row][free], graph.data[row][free]
        order = np.argsort(-similarity, kind="stable")
        grouped[centre] = True
        grouped[members] = True
        groups.append(Group([int(centre), *members[order].tolist()], [1.0, *similarity[order].tolist()],
                            f"centre: within the threshold of "
                            f"{'the other' if len(members) == 1 else f'all {len(members)} others'} "
                            f"(mean similarity {similarity.mean():.3f})"))
    return groups


def _components(pairs: np.ndarray, graph: csr_matrix, count: int) -> list[Group]:
    adjacency = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(count, count))
    _, component = connected_components(adjacency, directed=False)
    degree = np.diff(graph.indptr)
    groups = []
    for label in np.unique(component[np.unique(pairs)]):
        members = np.flatnonzero(component == label)
        centre = int(members[np.argmax(degree[members])])
        others = [int(m) for m in members if m != centre]
        linked = graph[centre].toarray().ravel()
        groups.append(Group([centre, *others], [1.0, *(float(linked[m]) or float("nan") for m in others)],
                            f"most links in its component ({degree[centre]} of {len(others)}); "
                            "members may be linked only through others"))
    return groups
