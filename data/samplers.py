"""Batches drawn M images per class, so in-batch losses always have positives."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
from torch.utils.data import BatchSampler, Sampler

from siamkit.errors import ConfigError


class MPerClassBatchSampler(BatchSampler):
    """Yields batches of ``batch_size // m_per_class`` classes with ``m_per_class`` images each.

    ``sampler`` decides which dataset indices this process may draw from: under DDP
    Lightning replaces it with a ``DistributedSampler``, so every rank builds its batches
    from its own share of the images. Classes with fewer than ``m_per_class`` images are
    drawn with replacement; every epoch yields ``len(sampler) // batch_size`` batches.
    """

    def __init__(self, sampler: Sampler[int], labels: Sequence[int], batch_size: int,
                 m_per_class: int = 4, drop_last: bool = True, seed: int = 0):
        if m_per_class < 2 or batch_size % m_per_class:
            raise ConfigError(
                f"batch_size ({batch_size}) must be a multiple of "
                f"m_per_class ({m_per_class}), and m_per_class >= 2"
            )
        super().__init__(sampler, batch_size, drop_last)
        self.labels = np.asarray(labels)
        self.m_per_class = m_per_class
        self.seed = seed
        self._epoch = 0

    def __len__(self) -> int:
        return max(1, len(self.sampler) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self._epoch])
        self._epoch += 1
        pool = np.fromiter(iter(self.sampler), dtype=np.int64)
        by_class = {c: rng.permutation(pool[self.labels[pool] == c]) for c in np.unique(self.labels[pool])}
        classes = np.array([c for c, members in by_class.items() if len(members) >= 2] or list(by_class))
        per_batch = self.batch_size // self.m_per_class
        cursor = dict.fromkeys(by_class, 0)
        for _ in range(len(self)):
            chosen = rng.choice(classes, size=per_batch, replace=len(classes) < per_batch)
            batch = []
            for c in chosen:
                members = by_class[c]
                if len(members) < self.m_per_class:
                    batch.extend(rng.choice(members, size=self.m_per_class).tolist())
                    continue
                if cursor[c] + self.m_per_class > len(members):
                    by_class[c] = members = rng.permutation(members)
                    cursor[c] = 0
                batch.extend(members[cursor[c]: cursor[c] + self.m_per_class].tolist())
                cursor[c] += self.m_per_class
            yield batch
