"""Checkpoints and encoder folders written by siamkit at 343d3a5 (tests/fixtures/343d3a5: weights at
the top of the module as backbone. / head., a card whose trained_on has no digest) still load,
embed as they did then, and export."""

from pathlib import Path

import numpy as np
import torch

from siamkit.cli.program import main
from siamkit.data.splits import SplitRecord
from siamkit.models import Encoder

OLD = Path(__file__).resolve().parents[1] / "fixtures" / "343d3a5"
IMAGES = (torch.arange(2 * 3 * 160 * 160) % 251).reshape(2, 3, 160, 160).to(torch.uint8)


def embeddings(encoder: Encoder) -> np.ndarray:
    with torch.no_grad():
        return encoder.eval()(IMAGES).numpy()


def test_the_old_folder_and_checkpoint_embed_as_they_did(tmp_path):
    expected = np.load(OLD / "embeddings.npy")
    folder, checkpoint = Encoder.load(OLD / "encoder"), Encoder.load(OLD / "run.ckpt")
    for encoder in (folder, checkpoint):
        np.testing.assert_allclose(embeddings(encoder), expected, atol=1e-5)
        assert encoder.card.trained_on == SplitRecord("/tmp/old_out/classes", fractions=(0.5, 0.25, 0.25),
                                                      copies_together=False)  # a record from before
    assert folder.fingerprint == checkpoint.fingerprint == "93e63fde715192fc"
    assert main(["export", "--ckpt", str(OLD / "run.ckpt"), "--out", str(tmp_path / "again")]) == 0
    np.testing.assert_allclose(embeddings(Encoder.load(tmp_path / "again")), expected, atol=1e-5)
