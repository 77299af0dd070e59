"""Encoder folders: the round trip, the card, and folders or checkpoints that cannot be used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from siamkit import progress
from siamkit.models.encoder import Encoder, EncoderFolderError


def test_folder_round_trip_gives_identical_embeddings(python_encoder: Path, photos):
    original = Encoder.load(python_encoder)
    config = json.loads((python_encoder / "config.json").read_text())
    assert config["embedding_dim"] == 16 and config["preprocessing"]["size"] == 32
    assert config["metrics"] == {"val/roc_auc": 0.9} and len(config["fingerprint"]) == 16
    assert config["format"] == "siamkit-encoder" and config["version"] == 2
    assert config["architecture"]["head"] == {"class_path": "siamkit.models.heads.ProjectionHead",
                                              "init_args": {"out_dim": 16, "hidden_dim": None,
                                                            "batch_norm": False}}
    again = Encoder.load(python_encoder)
    images = list(photos.values())
    np.testing.assert_array_equal(original.embed(images), again.embed(images))
    embeddings = again.embed(images)
    assert embeddings.dtype == np.float32 and embeddings.shape == (4, 16)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_the_weights_are_as_readable_as_the_card(python_encoder: Path):
    """safetensors writes its files for their writer alone; a folder shared with others must not
    hold weights only the exporter can read."""
    mode = (python_encoder / "config.json").stat().st_mode
    assert (python_encoder / "model.safetensors").stat().st_mode == mode


def test_broken_folders_say_what_is_wrong(python_encoder: Path, tmp_path: Path):
    with pytest.raises(EncoderFolderError, match="does not exist"):
        Encoder.load(tmp_path / "nowhere")
    (python_encoder / "model.safetensors").rename(tmp_path / "weights.safetensors")
    with pytest.raises(EncoderFolderError, match="has no model.safetensors"):
        Encoder.load(python_encoder)
    (tmp_path / "weights.safetensors").rename(python_encoder / "model.safetensors")
    config = json.loads((python_encoder / "config.json").read_text())
    config["architecture"]["head"]["init_args"]["out_dim"] = 8
    (python_encoder / "config.json").write_text(json.dumps(config))
    with pytest.raises(Exception, match="do not fit.*different shape: head.layers"):
        Encoder.load(python_encoder)
    (python_encoder / "config.json").write_text("{")
    with pytest.raises(EncoderFolderError, match="not valid JSON"):
        Encoder.load(python_encoder)


def test_an_edited_card_is_refused(python_encoder: Path):
    card = json.loads((python_encoder / "config.json").read_text())
    for field, value, message in (("embedding_dim", 32, "embedding_dim 32 does not match the weights' 16"),
                                  ("colour", "red", "unknown field.* colour"),
                                  ("version", 7, "expected 'siamkit-encoder' version 2")):
        (python_encoder / "config.json").write_text(json.dumps({**card, field: value}))
        with pytest.raises(EncoderFolderError, match=message):
            Encoder.load(python_encoder)


def test_a_card_edited_to_another_input_size_throughout_is_refused(python_encoder: Path, photos):
    """The weights fit any size, and the fingerprint covers only them: the size they were exported
    for is recorded in model.safetensors, so embeddings of another size never pass as theirs."""
    card = json.loads((python_encoder / "config.json").read_text())
    card["architecture"]["backbone"]["init_args"]["image_size"] = 48
    card["preprocessing"]["size"] = 48
    (python_encoder / "config.json").write_text(json.dumps(card))
    with pytest.raises(EncoderFolderError, match='"size": 48.* is not what model.safetensors was exported '
                                                 'with .*"size": 32.*; the folder was edited'):
        Encoder.load(python_encoder)


def test_a_version_1_folder_still_loads_with_its_threshold(python_encoder: Path):
    card = json.loads((python_encoder / "config.json").read_text())
    del card["version"], card["calibration"]
    old = {**card, "format": "siamkit-encoder/1", "threshold": 0.7, "threshold_rule": "best_f1",
           "calibrated_on": {"data": "demo:photos", "split": "val", "pairs": 72}, "checkpoint": "last.ckpt"}
    (python_encoder / "config.json").write_text(json.dumps(old))
    encoder = Encoder.load(python_encoder)
    assert encoder.threshold == 0.7 and encoder.card.source == "last.ckpt"


def test_a_file_that_is_not_a_siamkit_checkpoint_is_refused(tmp_path: Path):
    torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
    with pytest.raises(EncoderFolderError, match="not a siamkit checkpoint"):
        Encoder.load(tmp_path / "other.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(EncoderFolderError, match="cannot read checkpoint"):
        Encoder.load(tmp_path / "junk.ckpt")


def test_a_folder_with_mismatched_files_is_refused(encoder_folder, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(encoder_folder, folder)
    other = Encoder.from_spec(Encoder.load(encoder_folder).card.architecture).save(tmp_path / "other")
    shutil.copy(other / "model.safetensors", folder / "model.safetensors")
    with pytest.raises(EncoderFolderError, match="is not the file .* was written with"):
        Encoder.load(folder)


@pytest.mark.parametrize("device, message", [
    ("gpu", "unknown device 'gpu': use cpu, cuda, cuda:N or mps"),
    ("cuda:7", "cuda:7: this machine has" if torch.cuda.is_available() else "cuda:7: no CUDA GPU is"),
])
def test_a_device_this_machine_lacks_is_named_before_anything_loads(python_encoder: Path, device, message):
    """torch's own error for it came after the weights were read, and read as a crash."""
    from siamkit.errors import ConfigError
    from siamkit.scoring.registry import get_scorer

    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has that GPU")
    with pytest.raises(ConfigError, match=message):
        Encoder.load(python_encoder, device=device)
    with pytest.raises(ConfigError, match=message):
        get_scorer(str(python_encoder), device=device)


def test_embed_takes_one_path_bytes_or_pil_image_as_one_image_and_refuses_a_batch_size_below_one(
        python_encoder: Path, tmp_path: Path, photos):
    from PIL import Image

    Image.fromarray(photos["coffee"]).save(tmp_path / "coffee.png")
    encoder = Encoder.load(python_encoder)
    one = encoder.embed(str(tmp_path / "coffee.png"))  # was read character by character
    np.testing.assert_array_equal(one, encoder.embed([tmp_path / "coffee.png"]))
    assert one.shape == (1, 16) and encoder.embed(tmp_path / "coffee.png").shape == (1, 16)
    as_bytes = (tmp_path / "coffee.png").read_bytes()
    np.testing.assert_array_equal(encoder.embed(as_bytes), one)  # was read byte by byte
    np.testing.assert_array_equal(encoder.embed(Image.open(tmp_path / "coffee.png")), one)  # was a TypeError
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1, not 0"):
        encoder.embed([photos["coffee"]], batch_size=0)  # was one batch of everything


def test_embed_takes_torch_tensors_as_torchvision_lays_them_out(python_encoder: Path, photos):
    encoder = Encoder.load(python_encoder)
    arrays = np.stack([photos["coffee"][:40, :40], photos["chelsea"][:40, :40]])  # (N, H, W, C)
    tensors = torch.from_numpy(arrays).permute(0, 3, 1, 2)  # (N, C, H, W) uint8, as decode_image gives
    expected = encoder.embed(list(arrays))
    np.testing.assert_array_equal(encoder.embed(tensors), expected)
    np.testing.assert_array_equal(encoder.embed(arrays), expected)
    np.testing.assert_allclose(encoder.embed(tensors.float() / 255), expected, atol=1e-6)  # ToTensor's 0-1


@pytest.mark.parametrize("one", ["array", "tensor"])
def test_embed_refuses_one_image_that_it_would_read_as_many(python_encoder: Path, photos, one):
    image = photos["coffee"][:50, :60]
    image = image if one == "array" else torch.from_numpy(image).permute(2, 0, 1)
    with pytest.raises(ValueError, match=rf"got one {one} of shape .*: pass a batch.*or \[image\]"):
        Encoder.load(python_encoder).embed(image)  # was 50 images of one row each (3 of one channel)


def test_embed_shows_progress_only_when_given_a_label(python_encoder: Path, photos, monkeypatch, capsys):
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)  # a log's line at once, as if it took minutes
    encoder = Encoder.load(python_encoder)
    images = [photos["coffee"]] * 5
    quiet = encoder.embed(images, batch_size=2)
    assert capsys.readouterr().err == ""
    shown = encoder.embed(images, batch_size=2, progress="embedding the queries")
    np.testing.assert_array_equal(shown, quiet)
    said = capsys.readouterr().err
    assert "embedding the queries: 100%" in said and "5/5" in said
