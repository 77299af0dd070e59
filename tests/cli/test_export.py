from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siamkit.cli.program import main
from siamkit.data.images import load_image
from siamkit.folders import holding
from siamkit.models import onnx_export
from siamkit.models.encoder import Encoder
from siamkit.models.onnx_export import ExportParityError, sample_images
from siamkit.retrieval.index import EmbeddingIndex


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


def test_export_calibrates_the_threshold_evaluate_would(tiny_checkpoint, tmp_path, capsys):
    """With --calibrate the exported folder answers same / different at once; `train evaluate
    --calibrate` on the run's val pairs sets the same threshold there."""
    folder = tmp_path / "encoder"

    def calibration() -> dict:
        return json.loads((folder / "config.json").read_text())["calibration"]

    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(folder), "--calibrate"]) == 0
    said = capsys.readouterr()
    assert "calibrated: threshold" in said.out and "decides these" not in said.err, "over 1,000 pairs pin it"
    exported = calibration()
    assert f"; {exported['false_match_rate']:.1%} of their non-matches at or above it)" in said.out
    assert main(["evaluate", "--data", "demo:digits", "--methods", str(folder),
                 "--out", str(tmp_path / "report"), "--calibrate", "--bootstrap", "0"]) == 0
    evaluated = calibration()
    assert exported["pairs"] == evaluated["pairs"] > 1000
    assert exported["threshold"] == pytest.approx(evaluated["threshold"], abs=1e-6)
    assert exported["false_match_rate"] == pytest.approx(evaluated["false_match_rate"], abs=1e-3)
    assert exported["false_match_rate"] > 0, "a best_f1 threshold lets some non-matches through"
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(folder), "--force", "--calibrate",
                 "--threshold", "fmr=0.001"]) == 0
    assert calibration()["rule"] == "fmr=0.001" and calibration()["threshold"] > exported["threshold"]
    assert "note: --threshold" not in capsys.readouterr().err, "over 1,000 non-matches measure 0.1%"


@pytest.fixture(scope="module")
def jpeg_folder(tmp_path_factory) -> Path:
    """Real JPEG files large enough that draft decoding matters, one of them EXIF-rotated."""
    from skimage import data

    folder = tmp_path_factory.mktemp("jpegs")
    for name, image, size in (("astronaut", data.astronaut(), (1200, 900)),
                              ("coffee", data.coffee(), (2400, 1600)),
                              ("chelsea", data.chelsea(), (640, 480)), ("rocket", data.rocket(), (333, 500))):
        Image.fromarray(image).resize(size).save(folder / f"{name}.jpg", quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to display
    Image.fromarray(data.astronaut()).resize((1000, 700)).save(folder / "turned.jpg", exif=exif)
    return folder


def test_every_inference_route_sees_the_same_pixels(tiny_checkpoint, jpeg_folder, tmp_path):
    """Encoder.embed, sentence-transformers (paths and opened files), ONNX on Encoder.preprocess
    and `train embed` all go through Encoder.preprocess."""
    import onnxruntime
    from sentence_transformers import SentenceTransformer, util

    out = tmp_path / "encoder"
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(out), "--onnx",
                 "--sentence-transformers"]) == 0
    encoder = Encoder.load(out)
    paths = sorted(str(p) for p in jpeg_folder.glob("*.jpg"))
    expected = encoder.embed(paths)

    model = SentenceTransformer(str(out), trust_remote_code=True, device="cpu")
    card = (out / "README.md").read_text()  # of images, not sentence-transformers' own card of text
    assert f'SentenceTransformer("{out}", trust_remote_code=True)' in card and "-d embeddings, 16 px" in card
    np.testing.assert_allclose(model.encode(paths), expected, atol=1e-5)
    np.testing.assert_allclose(model.encode([Image.open(p) for p in paths]), expected, atol=1e-5)
    tif = tmp_path / "astronaut.tif"  # a string would be text to sentence-transformers: a Path
    Image.open(paths[0]).save(tif)
    assert ".tif" in card and float(model.encode([tif])[0] @ encoder.embed([str(tif)])[0]) > 0.9999
    hits = util.semantic_search(model.encode(paths[:2]), expected, top_k=1)
    assert [h[0]["corpus_id"] for h in hits] == [0, 1]
    written = (out / "model.safetensors").stat().st_mtime_ns
    model.save(str(out))  # its own folder: the export's files stay as they are
    assert (out / "model.safetensors").stat().st_mtime_ns == written
    model.save(str(tmp_path / "saved"))  # elsewhere, as push_to_hub saves: the weights go too
    saved = SentenceTransformer(str(tmp_path / "saved"), trust_remote_code=True, device="cpu")
    np.testing.assert_allclose(saved.encode(paths), expected, atol=1e-5)

    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx = session.run(None, {"images": encoder.preprocess.batch(paths).numpy()})[0]
    np.testing.assert_allclose(onnx, expected, atol=1e-4)

    assert main(["embed", str(jpeg_folder), "--encoder", str(out), "--out", str(tmp_path / "index"),
                 "--num-workers", "0"]) == 0
    index = EmbeddingIndex.load(tmp_path / "index")
    assert index.files == paths
    np.testing.assert_allclose(index.embeddings, expected, atol=1e-5)

    full_decode = encoder(torch.stack([encoder.preprocess.resize(load_image(p)) for p in paths])).detach()
    full_decode = full_decode.numpy()
    assert np.abs(full_decode - expected).max() > 1e-4, "a route that skipped draft decoding would be caught"


def test_an_onnx_export_that_fails_parity_is_not_kept(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(onnx_export, "onnx_parity", lambda *args: 3e-3)
    out = tmp_path / "encoder"
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(out), "--onnx"]) == 2
    assert "does not match PyTorch: cosine difference 3.00e-03" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [], "no folder, complete-looking or not"
    with pytest.raises(ExportParityError):
        onnx_export.export_onnx(Encoder.from_checkpoint(tiny_checkpoint), tmp_path, sample_images())
    assert not (tmp_path / "model.onnx").exists()


def test_bad_export_requests(tiny_checkpoint, tmp_path, capsys):
    assert main(["export", "--ckpt", str(tmp_path / "none.ckpt"), "--out", str(tmp_path / "e")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "e")]) == 0
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "e")]) == 2
    assert "--force" in capsys.readouterr().err


def test_a_second_export_to_an_out_still_being_written_is_refused(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "e"
    staging = tmp_path / ".e.partial"  # the first export's files, half written
    staging.mkdir()
    (staging / "model.safetensors").write_bytes(b"half")
    with holding(out, "export", "the first"):  # as a `train export` still running holds it
        assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(out)]) == 2
        assert (staging / "model.safetensors").read_bytes() == b"half"
    assert capsys.readouterr().err.strip() == (f"error: {out} is being written by another `train export` "
                                               "still running: wait for it to end, or give another --out")
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(out)]) == 0
    assert not staging.exists()


def test_a_module_built_in_python_exports(class_folder, tmp_path):
    """No LightningCLI, no class_path dicts: the module records its encoder's architecture itself."""
    import functools

    import pytorch_lightning as pl

    from siamkit.data.datamodule import SiameseDataModule
    from siamkit.models import ContrastiveLoss, ProjectionHead, TorchvisionBackbone
    from siamkit.train.module import SiameseModule

    torch.manual_seed(0)
    backbone = TorchvisionBackbone("resnet18", image_size=16, small_input=True)
    module = SiameseModule(backbone, ContrastiveLoss(), head=functools.partial(ProjectionHead, out_dim=8))
    data = SiameseDataModule(str(class_folder), image_config=backbone.image_config, batch_size=8,
                             m_per_class=4,
                             num_workers=0, split_fractions=(0.5, 0.25, 0.25))
    trainer = pl.Trainer(max_steps=1, limit_val_batches=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                         default_root_dir=tmp_path)
    trainer.fit(module, data)
    trainer.save_checkpoint(tmp_path / "python.ckpt")
    assert main(["export", "--ckpt", str(tmp_path / "python.ckpt"), "--out", str(tmp_path / "encoder")]) == 0
    encoder = Encoder.load(tmp_path / "encoder")
    images = sample_images()
    with torch.no_grad():
        expected = module.eval()(encoder.preprocess.batch(images)).numpy()
    np.testing.assert_allclose(encoder.embed(images), expected, atol=1e-6)
    assert encoder.card.trained_on.source == str(class_folder)
