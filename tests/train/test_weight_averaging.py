"""An exponential moving average of the weights (Lightning's ``EMAWeightAveraging``, named on the
command line): checkpoints hold the average, and ``train export`` exports it, not the last
weights."""

from __future__ import annotations

import torch

from siamkit.cli.program import main
from siamkit.models.encoder import Encoder
from tests.helpers import TINY

EMA = ["--trainer.callbacks+=pytorch_lightning.callbacks.EMAWeightAveraging",
       "--trainer.callbacks.decay", "0.5"]


def _encoder_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}


def test_with_an_ema_of_the_weights_the_export_holds_the_average(tmp_path, recwarn):
    assert main(["fit", *TINY, "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
                 "--trainer.limit_val_batches", "1", "--trainer.default_root_dir", str(tmp_path), *EMA]) == 0
    assert main(["export", "--ckpt", str(tmp_path / "checkpoints" / "last.ckpt"),
                 "--out", str(tmp_path / "encoder")]) == 0
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    averaged = _encoder_weights(checkpoint["state_dict"])
    trained = _encoder_weights(checkpoint["current_model_state"])  # where Lightning keeps the last weights
    exported = Encoder.load(tmp_path / "encoder").state_dict()
    assert averaged.keys() == exported.keys()
    for key, value in averaged.items():
        torch.testing.assert_close(exported[key], value)
    assert any(not torch.equal(averaged[k], trained[k]) for k in averaged if averaged[k].is_floating_point())
    assert not [w for w in recwarn if "configure_model" in str(w.message)], "siamkit shards nothing"
