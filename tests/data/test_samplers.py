import numpy as np
import pytest
from torch.utils.data import DistributedSampler, RandomSampler

from siamkit.data.samplers import MPerClassBatchSampler
from siamkit.errors import ConfigError


def test_every_batch_has_m_images_of_each_of_its_classes():
    labels = np.repeat(np.arange(10), 7)
    sampler = MPerClassBatchSampler(RandomSampler(range(len(labels))), labels, batch_size=16, m_per_class=4)
    batches = list(sampler)
    assert len(batches) == len(labels) // 16
    for batch in batches:
        _, counts = np.unique(labels[batch], return_counts=True)
        assert len(batch) == 16 and (counts % 4 == 0).all()


def test_small_classes_are_drawn_with_replacement():
    labels = np.array([0, 0, 1, 1, 1, 1, 1, 1])
    batches = list(MPerClassBatchSampler(RandomSampler(range(8)), labels, batch_size=8, m_per_class=4))
    assert all(len(b) == 8 for b in batches)


def test_distributed_ranks_draw_from_disjoint_images():
    labels = np.repeat(np.arange(8), 8)
    seen = []
    for rank in range(2):
        shard = DistributedSampler(range(len(labels)), num_replicas=2, rank=rank, shuffle=True, seed=0)
        batches = list(MPerClassBatchSampler(shard, labels, batch_size=8, m_per_class=2))
        assert len(batches) == 4
        seen.append({i for b in batches for i in b})
    assert not seen[0] & seen[1]


def test_batch_size_must_be_a_multiple_of_m():
    with pytest.raises(ConfigError, match="multiple of m_per_class"):
        MPerClassBatchSampler(RandomSampler(range(4)), [0, 0, 1, 1], batch_size=6, m_per_class=4)
