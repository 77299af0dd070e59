"""InfoNCE under two gloo processes equals the single-process loss on the whole batch, and
so do the gradients once DDP averages them."""

import dataclasses

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from siamkit.data.batches import PairBatch
from siamkit.models.infonce import InfoNCELoss


def _batch() -> PairBatch:
    generator = torch.Generator().manual_seed(0)
    a = torch.nn.functional.normalize(torch.randn(8, 4, generator=generator), dim=1)
    b = torch.nn.functional.normalize(torch.randn(8, 4, generator=generator), dim=1)
    groups = torch.tensor([0, 1, 2, 3, 3, 5, 6, 7])  # rows 3 and 4 are known matches across processes
    return PairBatch(a, b, torch.ones(8), groups, groups)


def _worker(rank: int, store: str, results) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    batch = _batch()
    half = PairBatch(*(getattr(batch,
                               f.name)[rank * 4:(rank + 1) * 4].clone() for f in dataclasses.fields(batch)))
    half.a.requires_grad_(True)
    half.b.requires_grad_(True)
    loss = InfoNCELoss(temperature=0.1)(half)
    loss.backward()
    results[rank] = (loss.item(), half.a.grad / 2, half.b.grad / 2)  # / 2: DDP's gradient averaging
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(str(tmp_path / "store"), results), nprocs=2, join=True)
    batch = _batch()
    batch.a.requires_grad_(True)
    batch.b.requires_grad_(True)
    loss = InfoNCELoss(temperature=0.1)(batch)
    loss.backward()
    for rank in range(2):
        rank_loss, grad_a, grad_b = results[rank]
        assert abs(rank_loss - loss.item()) < 1e-5
        assert torch.allclose(grad_a, batch.a.grad[rank * 4:(rank + 1) * 4], atol=1e-6)
        assert torch.allclose(grad_b, batch.b.grad[rank * 4:(rank + 1) * 4], atol=1e-6)
