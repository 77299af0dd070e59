"""siamkit.retrieval: embedding a collection, the index and search over it, near-duplicate
groups (``train embed``, ``train search``, ``train duplicates``, ``train predict``'s index)."""

from siamkit.retrieval.index import EmbeddingIndex

__all__ = ["EmbeddingIndex"]
