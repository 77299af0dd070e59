"""Each loss against values computed by hand on 2-D unit vectors."""

import math

import pytest
import torch

from siamkit.data.batches import ClassBatch, PairBatch, TwoViewBatch
from siamkit.models.losses import ContrastiveLoss, InfoNCELoss, TripletLoss

A = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
B = torch.tensor([[0.6, 0.8], [0.8, 0.6]])
PAIRS = PairBatch(A, B, torch.tensor([1.0, 0.0]), torch.tensor([0, 1]), torch.tensor([0, 2]))


def test_contrastive_cosine_by_hand():
    # match: d = 1 - 0.6 = 0.4 -> 0.5 * 0.16; non-match: d = 0.2 -> 0.5 * (0.5 - 0.2)^2
    assert ContrastiveLoss(margin=0.5)(PAIRS).item() == pytest.approx(0.08 + 0.045)


def test_contrastive_euclidean_by_hand():
    match = 0.5 * 0.8  # |(0.4, -0.8)|^2 = 0.8
    non_match = 0.5 * (1.0 - math.sqrt(0.4)) ** 2
    assert ContrastiveLoss(margin=1.0, distance="euclidean")(PAIRS).item() == pytest.approx(match + non_match)


# two classes on the unit circle: e0, e1 class 0; e2, e3 class 1
E = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])
CLASSES = ClassBatch(E, torch.tensor([0, 0, 1, 1]))
D01, D12, D02 = math.sqrt(0.4), math.sqrt(0.08), math.sqrt(0.8)


def test_contrastive_over_all_pairs_of_a_class_batch():
    # matches (0,1), (2,3): d = 0.2 each; non-matches (0,2) 0.4, (0,3) 1, (1,2) 0.04, (1,3) 0.4
    matches = 0.5 * 0.2 ** 2
    non_matches = 0.5 * (0.1 ** 2 + 0 + 0.46 ** 2 + 0.1 ** 2) / 4
    assert ContrastiveLoss(margin=0.5)(CLASSES).item() == pytest.approx(matches + non_matches)


def test_triplet_batch_hard_by_hand():
    # anchors 0 and 3: hardest negative D02; anchors 1 and 2: hardest negative D12
    expected = (2 * max(0, D01 - D02 + 0.5) + 2 * max(0, D01 - D12 + 0.5)) / 4
    assert TripletLoss(margin=0.5)(CLASSES).item() == pytest.approx(expected, rel=1e-5)


def test_triplet_semi_hard_by_hand():
    # every anchor-positive pair (d = D01) has a semi-hard negative at distance D02
    expected = max(0, D01 - D02 + 0.5)
    assert TripletLoss(margin=0.5, mining="semi_hard")(CLASSES).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("mining", ["batch_hard", "semi_hard"])
def test_triplet_on_a_batch_without_negatives_is_zero_with_finite_gradients(mining):
    embeddings = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], requires_grad=True)
    loss = TripletLoss(margin=0.5, mining=mining)(ClassBatch(embeddings, torch.zeros(3, dtype=torch.long)))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(embeddings.grad).all()


def test_infonce_by_hand_and_with_known_matches_masked():
    eye = torch.eye(2)
    batch = PairBatch(eye, eye, torch.ones(2), torch.tensor([0, 1]), torch.tensor([0, 1]))
    loss = InfoNCELoss(temperature=1.0)
    assert loss(batch).item() == pytest.approx(math.log(1 + math.exp(-1)))
    same_group = PairBatch(eye, eye, torch.ones(2), torch.tensor([0, 0]), torch.tensor([0, 0]))
    assert loss(same_group).item() == pytest.approx(0.0, abs=1e-6)


def test_infonce_uses_non_matching_rows_only_as_negatives():
    batch = PairBatch(torch.eye(2), torch.eye(2), torch.tensor([1.0, 0.0]), torch.tensor([0, 1]),
                      torch.tensor([0, 2]))
    assert InfoNCELoss(temperature=1.0)(batch).item() == pytest.approx(math.log(1 + math.exp(-1)))


def test_losses_state_the_batch_types_they_accept():
    assert ContrastiveLoss.accepts == (PairBatch, ClassBatch)  # not TwoViewBatch: it has no non-matches
    assert InfoNCELoss.accepts == (PairBatch, TwoViewBatch)
    assert TripletLoss.accepts == (ClassBatch,)
