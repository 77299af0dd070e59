from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from siamkit.models import onnx_export
from siamkit.models.encoder import Encoder
from siamkit.models.onnx_export import ExportParityError, sample_images
from siamkit.train.cli import main


def test_export_writes_a_self_describing_folder(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "encoder"
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"model.safetensors", "config.json"}
    config = json.loads((out / "config.json").read_text())
    assert config["embedding_dim"] == 64 and config["preprocessing"]["size"] == 16
    assert config["trained_on"]["source"] == "demo:digits" and "best val/roc_auc" in config["metrics"]
    assert config["architecture"]["backbone"]["init_args"]["weights"] is None
    images = sample_images()
    from_checkpoint = Encoder.from_checkpoint(tiny_checkpoint).embed(images)
    np.testing.assert_allclose(Encoder.load(out).embed(images), from_checkpoint, atol=1e-6)
    assert "64-d embeddings" in capsys.readouterr().out


def test_onnx_and_sentence_transformers_give_the_same_embeddings(tiny_checkpoint, tmp_path):
    import onnxruntime
    from sentence_transformers import SentenceTransformer, util

    out = tmp_path / "encoder"
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(out), "--onnx", "--sentence-transformers"]) == 0
    encoder = Encoder.load(out)
    images = [Image.fromarray(image) for image in sample_images()]
    expected = encoder.embed(images)

    from siamkit.data.transforms import build_transform
    transform = build_transform(encoder.image_config)
    batch = np.stack([transform(np.asarray(image.convert("RGB"))).numpy() for image in images])
    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"images": batch})[0], expected, atol=1e-5)  # any batch size

    model = SentenceTransformer(str(out), trust_remote_code=True, device="cpu")
    embeddings = model.encode(images)
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)
    hits = util.semantic_search(embeddings[:2], embeddings, top_k=1)
    assert [h[0]["corpus_id"] for h in hits] == [0, 1]


def test_an_onnx_export_that_fails_parity_is_not_kept(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(onnx_export, "onnx_parity", lambda *args: 3e-3)
    out = tmp_path / "encoder"
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(out), "--onnx"]) == 2
    assert "does not match PyTorch: cosine difference 3.00e-03" in capsys.readouterr().err
    assert not (out / "model.onnx").exists()
    with pytest.raises(ExportParityError):
        onnx_export.export_onnx(Encoder.load(out), out, sample_images())


def test_bad_export_requests(tiny_checkpoint, tmp_path, capsys):
    assert main(["export", "--ckpt", str(tmp_path / "none.ckpt"), "--out", str(tmp_path / "e")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "e")]) == 0
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "e")]) == 2
    assert "--force" in capsys.readouterr().err
