"""Moving typed batches: copies to a GPU never wait for it, copies back to the CPU do."""

from __future__ import annotations

import pytest

from siamkit.data.batches import PairBatch


class _Recorded:
    """Stands in for a tensor and records how it was moved."""

    def __init__(self):
        self.moves = []

    def to(self, device, non_blocking=False):
        self.moves.append((str(device), non_blocking))
        return self


@pytest.mark.parametrize("device, non_blocking", [("cuda", True), ("cuda:1", True), ("cpu", False)])
def test_a_batch_chooses_non_blocking_copies_to_a_gpu(device, non_blocking):
    tensor = _Recorded()
    batch = PairBatch(tensor, tensor, tensor, tensor, tensor)
    batch.to(device)  # as Lightning calls it for anything that is not a tensor: no non_blocking
    assert tensor.moves == [(device, non_blocking)] * 5
    batch.to(device, non_blocking=False)
    assert tensor.moves[-1] == (device, False)
