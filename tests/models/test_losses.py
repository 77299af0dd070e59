"""Each loss against values computed by hand on 2-D unit vectors."""

import math

import pytest
import torch

from siamkit.data.batches import ClassBatch, PairBatch, TwoViewBatch
from siamkit.errors import ConfigError
from siamkit.models.infonce import InfoNCELoss, koleo, shared_content
from siamkit.models.losses import ContrastiveLoss, TripletLoss

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


def test_losses_say_which_training_pairs_they_cannot_learn_from():
    import numpy as np

    only_matches, only_non_matches = np.ones(4, int), np.zeros(4, int)
    InfoNCELoss().check_pair_labels(only_matches, "data")  # a batch's other images are its non-matches
    with pytest.raises(ConfigError, match="holds only matching pairs, and ContrastiveLoss needs non-matches"):
        ContrastiveLoss().check_pair_labels(only_matches, "data")
    for loss in (InfoNCELoss(), ContrastiveLoss()):
        with pytest.raises(ConfigError, match="holds no matching pairs"):
            loss.check_pair_labels(only_non_matches, "data")


def test_koleo_by_hand():
    east, north, west = [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]
    spread = torch.tensor([east, north, west])
    # every descriptor's nearest other one is at a right angle: distance sqrt(2)
    assert koleo(spread, torch.tensor([0, 1, 2])).item() == pytest.approx(-math.log(math.sqrt(2)))
    # east and north are one group: east's nearest non-match is west (distance 2)
    expected = (-math.log(2) - 2 * math.log(math.sqrt(2))) / 3
    assert koleo(spread, torch.tensor([0, 0, 1])).item() == pytest.approx(expected)


def test_infonce_adds_the_weighted_koleo_term():
    batch = PairBatch(torch.eye(2), torch.eye(2), torch.ones(2), torch.tensor([0, 1]), torch.tensor([0, 1]))
    plain = InfoNCELoss(temperature=1.0)(batch)
    regularised = InfoNCELoss(temperature=1.0, entropy_weight=10.0)(batch)
    descriptors, groups = torch.cat([batch.a, batch.b]), torch.cat([batch.group_a, batch.group_b])
    assert regularised.item() == pytest.approx(plain.item() + 10.0 * koleo(descriptors, groups).item())


def _unit(rows: int, seed: int) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(rows, 8, generator=torch.Generator().manual_seed(seed)),
                                         dim=1)


def test_the_queue_equals_a_batch_holding_the_queued_descriptors_as_negatives():
    loss = InfoNCELoss(temperature=0.1, queue_size=8).train()
    earlier = [PairBatch(_unit(4, s), _unit(4, s + 10), torch.ones(4), torch.arange(4) + 100 * s,
                         torch.arange(4) + 100 * s) for s in (1, 2)]
    for batch in earlier:
        loss(batch)
    queued = torch.cat([b.a for b in earlier])
    queued_groups = torch.cat([b.group_a for b in earlier])
    a, b = _unit(4, 5).requires_grad_(), _unit(4, 6)
    with_queue = loss(PairBatch(a, b, torch.ones(4), torch.arange(4), torch.arange(4)))
    extended = PairBatch(torch.cat([a, queued]), torch.cat([b, queued]),
                         torch.cat([torch.ones(4), torch.zeros(8)]),
                         torch.cat([torch.arange(4), queued_groups]), torch.cat([torch.arange(4),
                                                                                 queued_groups]))
    assert with_queue.item() == pytest.approx(InfoNCELoss(temperature=0.1)(extended).item(), rel=1e-6)
    with_queue.backward()
    assert a.grad is not None and not loss.queue.descriptors.requires_grad
    assert torch.equal(loss.queue.contents()[1][:4], torch.arange(4))  # the oldest batch was replaced


def test_the_queue_is_left_alone_in_evaluation_and_checked_against_the_batch_size():
    loss = InfoNCELoss(queue_size=8).eval()
    loss(PairBatch(_unit(4, 1), _unit(4, 2), torch.ones(4), torch.arange(4), torch.arange(4)))
    assert loss.queue.filled == 0
    loss.check_batch_size(4)
    with pytest.raises(ConfigError, match="queue_size 8 is not a multiple of the batch size 3"):
        loss.check_batch_size(3)
    loss.check_batch_size(1, devices=8)  # one a device, seven negatives gathered from the others
    with pytest.raises(ConfigError, match="needs at least two instances a step"):
        InfoNCELoss(gather_across_devices=False).check_batch_size(1, devices=8)
    with pytest.raises(ConfigError, match="entropy_weight must be >= 0"):
        InfoNCELoss(entropy_weight=-1)


def test_infonce_soft_targets_of_a_mixed_view_by_hand():
    """b[0] is 0.6 of instance 0 and 0.4 of instance 1: row b[0] targets a[0] and a[1] by those
    shares; row a[1] targets b[1] and b[0] in proportion 1 : 0.4."""
    a = torch.eye(2)
    b = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    groups = torch.tensor([0, 1])
    batch = TwoViewBatch(a, b, torch.ones(2), groups, groups, other_b=torch.tensor([1, 1]),
                         own_share=torch.tensor([0.6, 1.0]))
    logits_ab, logits_ba = a @ b.T, b @ a.T
    log_p_ab, log_p_ba = logits_ab.log_softmax(1), logits_ba.log_softmax(1)
    loss_ab = torch.stack([-log_p_ab[0, 0], -(log_p_ab[1, 1] + 0.4 * log_p_ab[1, 0]) / 1.4])
    loss_ba = torch.stack([-(0.6 * log_p_ba[0, 0] + 0.4 * log_p_ba[0, 1]), -log_p_ba[1, 1]])
    expected = (0.5 * (loss_ab + loss_ba)).mean()
    assert InfoNCELoss(temperature=1.0)(batch).item() == pytest.approx(expected.item(), rel=1e-6)


def test_infonce_with_nothing_mixed_equals_the_plain_loss():
    torch.manual_seed(0)
    a, b = (torch.nn.functional.normalize(torch.randn(6, 4), dim=1) for _ in range(2))
    groups = torch.arange(6)
    plain = TwoViewBatch(a, b, torch.ones(6), groups, groups)
    unmixed = TwoViewBatch(a, b, torch.ones(6), groups, groups, other_b=groups, own_share=torch.ones(6))
    loss = InfoNCELoss(temperature=0.1, entropy_weight=1.0)
    assert loss(unmixed).item() == pytest.approx(loss(plain).item(), rel=1e-6)


def test_shared_content_by_hand():
    boxes = torch.tensor([[0.0, 0.0, 0.5, 0.5],    # image 0, top left quarter
                          [0.25, 0.0, 0.75, 0.5],  # image 0, half of it shared with the first
                          [0.0, 0.0, 0.2, 0.2],    # image 0, wholly inside the first
                          [0.0, 0.0, 0.5, 0.5]])   # image 1, the first's box
    images = torch.tensor([0, 0, 0, 1])
    expected = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.bool)
    assert torch.equal(shared_content(images, boxes, 0.4), expected)
    assert not shared_content(images, boxes, 0.5)[0, 1], "exactly half is not more than half"


def test_regions_sharing_content_are_left_out_as_known_matches_are():
    a, b = _unit(4, 1), _unit(4, 2)
    groups = torch.arange(4)
    boxes = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.1, 0.1, 0.6, 0.6], [0.5, 0.5, 1.0, 1.0],
                          [0.0, 0.0, 0.5, 0.5]])
    regions = TwoViewBatch(a, b, torch.ones(4), groups, groups, image_index=torch.tensor([0, 0, 0, 1]),
                           box=boxes)
    one_group = torch.tensor([0, 0, 2, 3])  # regions 0 and 1 share 0.64 of either
    as_one = TwoViewBatch(a, b, torch.ones(4), one_group, one_group)
    plain = TwoViewBatch(a, b, torch.ones(4), groups, groups)
    loss = InfoNCELoss(temperature=0.1, entropy_weight=1.0, region_overlap=0.5)
    assert loss(regions).item() == pytest.approx(loss(as_one).item(), rel=1e-6)
    assert loss(regions).item() != pytest.approx(loss(plain).item(), rel=1e-3)
    off = InfoNCELoss(temperature=0.1, entropy_weight=1.0)
    assert off(regions).item() == pytest.approx(off(plain).item(), rel=1e-6)
    with pytest.raises(ConfigError, match="region_overlap must be between 0 and 1"):
        InfoNCELoss(region_overlap=1.5)
