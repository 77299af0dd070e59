"""Inference outside training: embed (resumable), search, duplicates, and predict's writer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from siamkit.models.encoder import Encoder, EncoderFolderError
from siamkit.scoring import collection
from siamkit.scoring.index import EmbeddingIndex, exact_search
from siamkit.train.cli import main


@pytest.fixture(scope="module")
def encoder_folder(tiny_checkpoint, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("encoder") / "encoder"
    Encoder.from_checkpoint(tiny_checkpoint).save(folder)
    return folder


@pytest.fixture
def photo_folder(tmp_path) -> Path:
    """Six photographs and an exact copy of the first; one sub-folder."""
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    for i, image in enumerate([data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.camera()]):
        Image.fromarray(image).resize((64, 64)).save(folder / f"p{i}.png")
    shutil.copy(folder / "p0.png", folder / "more" / "p0_copy.png")
    return folder


def test_embed_then_search_finds_the_copy(encoder_folder, photo_folder, tmp_path, capsys):
    index_dir = tmp_path / "index"
    assert main(["embed", str(photo_folder), "--encoder", str(encoder_folder), "--out", str(index_dir),
                 "--num-workers", "0"]) == 0
    index = EmbeddingIndex.load(index_dir)
    assert index.embeddings.shape == (6, 64) and index.embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(index.embeddings, axis=1), 1, atol=1e-5)
    capsys.readouterr()
    assert main(["search", str(photo_folder / "p0.png"), "--index", str(index_dir), "-k", "2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["neighbours"]
    assert {Path(h["file"]).name for h in hits} == {"p0.png", "p0_copy.png"}
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-5)


def test_an_interrupted_embed_resumes_and_bad_images_follow_the_policy(encoder_folder, photo_folder, tmp_path,
                                                                         monkeypatch, capsys):
    (photo_folder / "zz_broken.jpg").write_bytes(b"\xff\xd8 truncated")
    encoder = Encoder.load(encoder_folder)
    images = collection.list_images(photo_folder)
    out = tmp_path / "index"
    with pytest.raises(Exception, match="zz_broken.jpg.*rerun to resume"):
        collection.embed_collection(images, encoder, out, str(encoder_folder), part_size=2, num_workers=0)
    finished = sorted((out / "parts").glob("*.json"))
    assert len(finished) == 3  # the parts before the bad image's are kept
    calls = []
    original = collection._embed_part
    monkeypatch.setattr(collection, "_embed_part", lambda names, *a: calls.append(names) or original(names, *a))
    meta = collection.embed_collection(images, encoder, out, str(encoder_folder), part_size=2, num_workers=0,
                                       on_bad_image="skip")
    assert len(calls) == 1  # only the unfinished part is embedded
    assert [Path(s["file"]).name for s in meta["skipped"]] == ["zz_broken.jpg"]
    assert len(EmbeddingIndex.load(out).files) == 6
    assert main(["embed", str(photo_folder), "--encoder", str(encoder_folder), "--out", str(tmp_path / "i2"),
                 "--num-workers", "0"]) == 2
    assert "zz_broken.jpg" in capsys.readouterr().err


def test_exact_search_in_chunks_equals_brute_force():
    rng = np.random.default_rng(0)
    database = rng.normal(size=(1000, 16)).astype(np.float32)
    queries = rng.normal(size=(7, 16)).astype(np.float32)
    scores, ids = exact_search(database, queries, k=5, chunk=128)
    expected = np.argsort(-(queries @ database.T), axis=1)[:, :5]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ database.T, expected, 1), rtol=1e-5)


def test_search_refuses_an_index_of_another_encoder(encoder_folder, photo_folder, tmp_path, capsys):
    main(["embed", str(photo_folder), "--encoder", str(encoder_folder), "--out", str(tmp_path / "index"),
          "--num-workers", "0"])
    other = Encoder.from_spec(Encoder.load(encoder_folder).spec).save(tmp_path / "other")
    assert main(["search", str(photo_folder / "p1.png"), "--index", str(tmp_path / "index"),
                 "--encoder", str(other)]) == 2
    assert "not with the query's encoder" in capsys.readouterr().err


def test_duplicates_groups_the_copy(encoder_folder, photo_folder, tmp_path, capsys):
    out = tmp_path / "dups"
    assert main(["duplicates", str(photo_folder), "--encoder", str(encoder_folder), "--out", str(out),
                 "--threshold", "0.9999", "--recheck-sift", "--num-workers", "0"]) == 0
    rows = (out / "duplicates.csv").read_text().splitlines()
    assert rows[0] == "group,file" and len(rows) == 3
    assert {Path(r.split(",")[1]).name for r in rows[1:]} == {"p0.png", "p0_copy.png"}
    assert "p0_copy.png" in (out / "duplicates.html").read_text()
    uncalibrated = main(["duplicates", str(photo_folder), "--encoder", str(encoder_folder), "--out", str(out)])
    assert uncalibrated == 2 and "no calibrated threshold" in capsys.readouterr().err


def test_a_folder_with_mismatched_files_is_refused(encoder_folder, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(encoder_folder, folder)
    other = Encoder.from_spec(Encoder.load(encoder_folder).spec).save(tmp_path / "other")
    shutil.copy(other / "model.safetensors", folder / "model.safetensors")
    with pytest.raises(EncoderFolderError, match="is not the file .* was written with"):
        Encoder.load(folder)


def test_predict_writes_a_searchable_index(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_checkpoint.parent.parent, tmp_path / "run")
    assert main(["predict", "--config", "demo_digits.yaml", "--model.backbone.init_args.image_size", "16",
                 "--data.num_workers", "0", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                 "--trainer.default_root_dir", "run", "--trainer.limit_predict_batches", "2",
                 "--ckpt_path", "run/checkpoints/last.ckpt"]) == 0
    index = EmbeddingIndex.load(tmp_path / "run" / "predictions")
    assert index.embeddings.shape == (128, 64) and len(set(index.files)) == 128  # 2 batches of 64
    index.check_encoder(Encoder.from_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt").info["fingerprint"])
    capsys.readouterr()
    assert main(["search", index.files[0], "--index", str(tmp_path / "run" / "predictions"), "-k", "1"]) == 0
    assert index.files[0] in capsys.readouterr().out
