"""Inference outside training: embed (resumable), search, duplicates, and predict's writer."""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from siamkit.cli.program import main
from siamkit.models.encoder import Encoder
from siamkit.retrieval.index import EmbeddingIndex


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


def test_embed_into_a_folder_of_other_files_is_refused_before_any_work(encoder_folder, photo_folder, tmp_path,
                                                                        capsys):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "files.txt").write_text("my own list\n")
    assert main(["embed", str(photo_folder), "--encoder", str(encoder_folder), "--out",
                 str(tmp_path / "notes")]) == 2
    assert "holds other files (files.txt) and no index: choose a new" in capsys.readouterr().err
    assert (tmp_path / "notes" / "files.txt").read_text() == "my own list\n"


def test_search_takes_a_folder_of_queries_and_reads_them_all_before_loading_anything(
        encoder_folder, photo_folder, tmp_path, capsys):
    index_dir = tmp_path / "index"
    assert main(["embed", str(photo_folder), "--encoder", str(encoder_folder), "--out", str(index_dir),
                 "--num-workers", "0"]) == 0
    capsys.readouterr()
    assert main(["search", str(photo_folder / "more"), "--index", str(index_dir), "-k", "1", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(Path(r["query"]).name, Path(r["neighbours"][0]["file"]).parent.name) for r in rows] \
        == [("p0_copy.png", "more")]

    (photo_folder / "more" / "broken.png").write_bytes(b"\x89PNG cut")
    assert main(["search", str(photo_folder / "more"), "--index", str(tmp_path / "no_index")]) == 2
    error = capsys.readouterr().err  # the queries are read first: the missing index is not reached
    assert "1 of 2 images cannot be read" in error and "broken.png" in error
    assert "--on-bad-image skip" in error
    assert main(["search", str(photo_folder / "more"), "--index", str(index_dir), "--on-bad-image", "skip",
                 "--json"]) == 0
    assert [Path(json.loads(line)["query"]).name for line in capsys.readouterr().out.splitlines()] \
        == ["p0_copy.png"]
    assert main(["search", str(photo_folder / "more" / "broken.png"), "--index", str(index_dir),
                 "--on-bad-image", "skip"]) == 2
    assert "the one query image could not be read" in capsys.readouterr().err


def test_search_refuses_an_index_of_another_encoder(encoder_folder, photo_folder, tmp_path, capsys):
    main(["embed", str(photo_folder), "--encoder", str(encoder_folder), "--out", str(tmp_path / "index"),
          "--num-workers", "0"])
    other = Encoder.from_spec(Encoder.load(encoder_folder).card.architecture).save(tmp_path / "other")
    assert main(["search", str(photo_folder / "p1.png"), "--index", str(tmp_path / "index"),
                 "--encoder", str(other)]) == 2
    assert "not with the query's encoder" in capsys.readouterr().err


def test_predict_writes_a_searchable_index(tiny_checkpoint, tmp_path, monkeypatch, capsys, caplog):
    """It says where, and no leak check: predict embeds every image, whichever split it is in."""
    caplog.set_level(logging.INFO)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_checkpoint.parent.parent, tmp_path / "run")
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        assert main(["predict", "--config", "demo_digits.yaml", "--model.backbone.init_args.image_size", "16",
                     "--data.num_workers", "0", "--trainer.logger", "false",
                     "--trainer.enable_progress_bar", "false",
                     "--trainer.default_root_dir", "run", "--trainer.limit_predict_batches", "2",
                     "--ckpt_path", "run/checkpoints/last.ckpt"]) == 0
    assert not [w for w in warned if "dirpath has changed" in str(w.message)], "bookkeeping of a fit"
    index = EmbeddingIndex.load(tmp_path / "run" / "predictions")
    assert index.embeddings.shape == (128, 64) and len(set(index.files)) == 128  # 2 batches of 64
    said = capsys.readouterr().err + caplog.text
    assert "embedded 128 images (64-d) into run/predictions: train search QUERY --index" in said
    assert "in two splits (" not in said  # demo:digits holds five such pairs
    encoder = Encoder.from_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    index.check_encoder(encoder.fingerprint, encoder.embedding_dim)
    capsys.readouterr()
    assert main(["search", index.files[0], "--index", str(tmp_path / "run" / "predictions"), "-k", "1"]) == 0
    assert index.files[0] in capsys.readouterr().out


def test_train_embed_extends_what_train_predict_wrote_skipped_images_and_all(tiny_checkpoint, class_folder,
                                                                            tmp_path, monkeypatch):
    """Both write the index's skipped images as {"file", "reason"}: embed reads predict's. The fit's
    record in the run folder stays as it was: predicting on other data, without a logger, had
    replaced its config.yaml and splits.json (which `train leaks --splits-of RUN` reads)."""
    monkeypatch.chdir(tmp_path)
    (class_folder / "class0" / "broken.png").write_bytes(b"\x89PNG truncated")
    shutil.copytree(tiny_checkpoint.parent.parent, tmp_path / "run")
    record = {name: (tmp_path / "run" / name).read_text() for name in ("config.yaml", "splits.json")}
    assert main(["predict", "--config", "demo_digits.yaml", "--model.backbone.init_args.image_size", "16",
                 "--data.source", str(class_folder), "--data.on_bad_image", "skip", "--data.num_workers", "0",
                 "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                 "--trainer.default_root_dir", "run", "--ckpt_path", "run/checkpoints/last.ckpt"]) == 0
    assert {name: (tmp_path / "run" / name).read_text() for name in record} == record
    skipped = EmbeddingIndex.load(tmp_path / "run" / "predictions").meta["skipped"]
    assert [(Path(e["file"]).name, "Pillow" in e["reason"]) for e in skipped] == [("broken.png", True)]
    (class_folder / "class0" / "new.png").write_bytes((class_folder / "class0" / "0.png").read_bytes())
    assert main(["embed", str(class_folder), "--encoder", "run/checkpoints/last.ckpt",
                 "--out", "run/predictions", "--num-workers", "0", "--on-bad-image", "skip"]) == 0
    assert any(Path(f).name == "new.png" for f in EmbeddingIndex.load(tmp_path / "run" / "predictions").files)
