from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from siamkit.models.encoder import Encoder, EncoderFolderError
from siamkit.scoring.embedding import EmbeddingScorer
from siamkit.scoring.registry import get_scorer

TINY_SPEC = {
    "backbone": {"class_path": "siamkit.models.TorchvisionBackbone",
                 "init_args": {"name": "resnet18", "weights": None, "image_size": 32, "small_input": True}},
    "head": {"class_path": "siamkit.models.ProjectionHead", "init_args": {"out_dim": 16}},
}


@pytest.fixture
def encoder_folder(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return Encoder.from_spec(TINY_SPEC, info={"metrics": {"val/roc_auc": 0.9}}).save(tmp_path / "encoder")


def test_embedding_scorer_from_an_encoder_folder(encoder_folder: Path, photos):
    scorer = get_scorer(str(encoder_folder))
    assert isinstance(scorer, EmbeddingScorer)
    images = list(photos.values())
    matrix = scorer.score_matrix(images)
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-5)
    pairs = scorer.score_pairs(list(itertools.product(images, repeat=2)))
    np.testing.assert_allclose(matrix.ravel(), pairs, atol=1e-5)
    assert scorer.score(images[0], images[1]) == pytest.approx(matrix[0, 1], abs=1e-5)


def test_folder_round_trip_gives_identical_embeddings(encoder_folder: Path, photos):
    original = Encoder.load(encoder_folder)
    config = json.loads((encoder_folder / "config.json").read_text())
    assert config["embedding_dim"] == 16 and config["preprocessing"]["size"] == 32
    assert config["metrics"] == {"val/roc_auc": 0.9} and len(config["fingerprint"]) == 16
    again = Encoder.load(encoder_folder)
    images = list(photos.values())
    np.testing.assert_array_equal(original.embed(images), again.embed(images))
    embeddings = again.embed(images)
    assert embeddings.dtype == np.float32 and embeddings.shape == (4, 16)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_broken_folders_say_what_is_wrong(encoder_folder: Path, tmp_path: Path):
    with pytest.raises(EncoderFolderError, match="does not exist"):
        Encoder.load(tmp_path / "nowhere")
    (encoder_folder / "model.safetensors").rename(tmp_path / "weights.safetensors")
    with pytest.raises(EncoderFolderError, match="has no model.safetensors"):
        Encoder.load(encoder_folder)
    (tmp_path / "weights.safetensors").rename(encoder_folder / "model.safetensors")
    config = json.loads((encoder_folder / "config.json").read_text())
    config["architecture"]["head"]["init_args"]["out_dim"] = 8
    (encoder_folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(Exception, match="do not fit.*different shape: head.layers"):
        Encoder.load(encoder_folder)
    (encoder_folder / "config.json").write_text("{")
    with pytest.raises(EncoderFolderError, match="not valid JSON"):
        Encoder.load(encoder_folder)


def test_a_file_that_is_not_a_siamkit_checkpoint_is_refused(tmp_path: Path):
    torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
    with pytest.raises(EncoderFolderError, match="not a siamkit checkpoint"):
        Encoder.load(tmp_path / "other.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(EncoderFolderError, match="cannot read checkpoint"):
        Encoder.load(tmp_path / "junk.ckpt")
