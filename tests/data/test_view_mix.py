"""ViewMix: which views are mixed, with what, and in what shares."""

from __future__ import annotations

import pytest
import torch

from siamkit.data.batches import TwoViewBatch
from siamkit.data.view_mix import ViewMix
from siamkit.errors import ConfigError


def _batch(size: int = 6) -> TwoViewBatch:
    """Instance k's views are flat images of value 10 * (k + 1)."""
    images = torch.stack([torch.full((3, 20, 20), 10 * (k + 1), dtype=torch.uint8) for k in range(size)])
    groups = torch.arange(100, 100 + size)
    return TwoViewBatch(images.clone(), images.clone(), torch.ones(size), groups, groups.clone())


def test_mixed_views_hold_their_shares_of_two_instances():
    torch.manual_seed(0)
    batch = _batch()
    mixed = ViewMix(1.0)(batch)
    assert torch.equal(mixed.a, batch.a) and (mixed.other_b != batch.group_b).all()
    for i in range(len(batch)):
        own, other = 10 * (i + 1), 10 * (int(mixed.other_b[i]) - 100 + 1)
        view, share = mixed.b[i].float(), float(mixed.own_share[i])
        assert 0.5 <= share <= 0.8 + 1e-6
        if len(torch.unique(view)) == 2:  # a pasted box
            assert float((view == own).float().mean()) == pytest.approx(share, abs=1e-6)
            assert set(torch.unique(view).tolist()) == {own, other}
        else:  # blended
            assert torch.unique(view).tolist() == [round(share * own + (1 - share) * other)]


def test_a_share_of_the_batch_is_mixed_and_the_rest_left_alone():
    torch.manual_seed(1)
    batch = _batch(10)
    mixed = ViewMix(0.3)(batch)
    changed = (mixed.own_share < 1).nonzero().ravel()
    assert len(changed) == 3
    untouched = (mixed.own_share == 1).nonzero().ravel()
    assert torch.equal(mixed.b[untouched], batch.b[untouched])
    assert torch.equal(mixed.other_b[untouched], batch.group_b[untouched])


def test_the_share_is_checked():
    with pytest.raises(ConfigError, match="data.mix_views must be between 0 and 1"):
        ViewMix(1.5)
