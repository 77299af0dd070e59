"""ROC-AUC and EER of a stage's pairs: their values, and NaN with a reason where pairs of one kind
give them no meaning (torchmetrics would say 0 for both, an EER of 0 reading as perfect), and no
best checkpoint on such a value."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from siamkit.train.lightning_cli import run_trainer_command
from siamkit.train.pair_metrics import PairMetrics
from tests.conftest import write_image
from tests.helpers import QUIET_CPU_FIT, SMALL_RESNET


def test_the_metrics_of_pairs_of_both_kinds_then_of_one_kind_after_a_reset():
    metrics = PairMetrics("val")
    metrics.update(torch.tensor([0.9, 0.4, 0.6, 0.1]), torch.tensor([1.0, 1.0, 0.0, 0.0]))
    values = metrics.compute()
    assert float(values["roc_auc"]) == pytest.approx(0.75) and float(values["eer"]) == pytest.approx(0.5)
    metrics.update(torch.tensor([0.9, 0.4]), torch.tensor([0.0, 0.0]))
    assert all(math.isnan(value) for value in metrics.compute().values())


def test_val_recall_at_1_leaves_out_an_image_alone_in_its_class():
    """As `train evaluate`'s recall@1: counted as a miss, it took a perfect ranking to 0.8."""
    from siamkit.train.pair_metrics import recall_at_1

    points = torch.tensor([[1.0, 0], [1, 0.01], [0, 1], [0.01, 1], [-1, 0]])
    embeddings = torch.nn.functional.normalize(points, dim=1)
    assert float(recall_at_1(embeddings, torch.tensor([0, 0, 1, 1, 2]))) == 1.0
    assert math.isnan(float(recall_at_1(embeddings[:1], torch.tensor([0]))))


MATCHES = ["img6.png,img7.png,1,val", "img8.png,img9.png,1,val"]
#: val pairs of both kinds, matches first: a batch of 2 holds matches alone
VAL_ROWS = [*MATCHES, "img6.png,img8.png,0,val", "img7.png,img9.png,0,val"]


@pytest.mark.parametrize("val_batches", ["all", "the first only"])
def test_val_batches_of_one_kind_log_nan_say_why_once_and_keep_no_best(val_batches, tmp_path, monkeypatch,
                                                                        caplog):
    """(A val split that holds one kind of pair is refused before training: test_datamodule.py.)"""
    rng = np.random.default_rng(0)
    for i in range(12):
        write_image(tmp_path / f"img{i}.png", rng)
    rows = ["a,b,label,split", *(f"img{i}.png,img{(i + 1) % 6}.png,{i % 2},train" for i in range(6)),
            *VAL_ROWS, "img10.png,img11.png,1,test"]
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.chdir(tmp_path)
    cli = run_trainer_command("fit", ["--config", "resnet_siamese.yaml", *SMALL_RESNET, *QUIET_CPU_FIT,
                                      "--data.source", "pairs.csv", "--data.batch_size", "2",
                                      "--data.check_leaks", "off", "--data.augment", "null",
                                      "--trainer.max_epochs", "2", "--trainer.num_sanity_val_steps", "1",
                                      "--trainer.limit_val_batches", "1.0" if val_batches == "all" else "1"])
    roc_auc, eer = (float(cli.trainer.callback_metrics[f"val/{name}"]) for name in ("roc_auc", "eer"))
    said = [record.getMessage() for record in caplog.records if "undefined" in record.getMessage()]
    best = list(tmp_path.rglob("best-*.ckpt"))
    if val_batches == "all":  # the sanity check's one batch held matches alone; the split has both
        assert not math.isnan(roc_auc) and not math.isnan(eer) and said == [] and len(best) == 1
    else:
        assert math.isnan(roc_auc) and math.isnan(eer)
        assert best == [] and list(tmp_path.rglob("last.ckpt")), "no epoch is the best on an undefined metric"
        assert said == ["val/roc_auc and val/eer are undefined on the val pairs, which hold no non-matches: "
                        "logged as nan. Give the val split pairs of both kinds, or more of its batches "
                        "(trainer.limit_val_batches)"]
