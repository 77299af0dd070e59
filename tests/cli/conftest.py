"""The bad-input zoo: bad files, broken encoders and indexes that the bad-input tests share."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siamkit.cli.program import main
from siamkit.models.card import EncoderCard
from siamkit.models.encoder import Encoder
from siamkit.models.onnx_export import export_onnx, mark_onnx, sample_images


@pytest.fixture(scope="session")
def zoo(tmp_path_factory, encoder_folder, tiny_checkpoint) -> Path:
    root = tmp_path_factory.mktemp("zoo")
    _write_data_cases(root, np.random.default_rng(0))
    _write_model_cases(root, encoder_folder, tiny_checkpoint)
    _write_index_cases(root, encoder_folder)
    return root


def _write_data_cases(root: Path, rng: np.random.Generator) -> None:
    """Folders, tables, configs and files that are not what a command expects."""
    (root / "photos").mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / "photos" / f"{i}.png")
    (root / "photos_splits.json").write_text(json.dumps({"source": str(root / "photos"), "seed": 0,
                                                         "fractions": [0.8, 0.1, 0.1]}))  # as a run records
    (root / "empty").mkdir()
    with zipfile.ZipFile(root / "not_a_checkpoint.zip", "w") as archive:
        archive.writestr("notes.txt", "a zip, but not torch's")
    (root / "one_class_test.csv").write_text("path,label,split\n" + "".join(
        f"photos/{i}.png,{'a' if i else 'b'},{'test' if i else 'train'}\n" for i in range(3)))
    shutil.copytree(root / "photos", root / "mixed" / "one_class")  # images beside a sub-folder
    shutil.copytree(root / "photos", root / "classes" / "one_class")  # a class folder of one class
    for i in range(2):
        shutil.copy(root / "photos" / f"{i}.png", root / "mixed" / f"loose{i}.png")
    (root / "one").mkdir()
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / "one" / "only.png")
    (root / "bad_only").mkdir()
    (root / "bad_only" / "a.png").write_bytes(b"")
    (root / "bad_only" / "b.jpg").write_text("not an image")
    (root / "file.txt").write_text("an existing file where a folder should go")
    (root / "matches_only.csv").write_text("a,b,label,split\nphotos/0.png,photos/1.png,1,train\n")
    (root / "test_only.csv").write_text("a,b,label,split\nphotos/0.png,photos/1.png,1,test\n"
                                        "photos/0.png,photos/2.png,0,test\n")
    (root / "two_groups.csv").write_text("a,b,label\nphotos/0.png,photos/1.png,1\n"  # matches join 0 and 1
                                         "photos/0.png,photos/2.png,0\nphotos/1.png,photos/2.png,0\n")
    (root / "label_left_out.csv").write_text("a,b,label\nphotos/0.png,photos/1.png,1\n"
                                             "photos/0.png,photos/2.png,\n")
    (root / "own_files").mkdir()  # a user's folder holding names that reports write
    for name in ("metrics.json", "duplicates.csv", "leaks.html", "notes.txt"):
        (root / "own_files" / name).write_text("the user's own")
    (root / "no_data.yaml").write_text("trainer: {max_epochs: 1}\n")
    (root / "configs").mkdir()  # kept beside the data, naming it relative to itself
    (root / "configs" / "beside.yaml").write_text("data: {source: ../photos}\n")
    (root / "configs" / "leaks_yes.yaml").write_text("data: {check_leaks: yes}\n")  # YAML's true
    (root / "val_data_gone.yaml").write_text(f"data: {{source: {root / 'photos'}, "
                                             f"val_data: {root / 'nope.csv'}}}\n")
    (root / "splits.json").write_text('{"source": "demo:digits", "bogus": 1}')
    os.mkfifo(root / "pipe.jpg")
    (root / "empty.yaml").write_text("")
    (root / "tab.yaml").write_text("trainer:\n\tmax_epochs: 1\n")
    (root / "unclosed.yaml").write_text("trainer: {max_epochs: 1\n")
    (root / "latin1.yaml").write_bytes("data: {source: caf\u00e9}\n".encode("latin-1"))
    (root / "leaky").mkdir()
    rows = ["path,label,split"]
    for i in range(8):
        image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
        Image.fromarray(image).save(root / "leaky" / f"{i}.png")
        # val holds both classes twice (matches and non-matches to validate on); the leak is train / test
        rows.append(f"{i}.png,{i % 2},{('train', 'val', 'val', 'val', 'train', 'test', 'val', 'train')[i]}")
    shutil.copy(root / "leaky" / "0.png", root / "leaky" / "copy_of_0.png")
    (root / "leaky" / "labels.csv").write_text("\n".join([*rows, "copy_of_0.png,0,test"]) + "\n")
    (root / "stale_manifest.jsonl").write_text(
        '{"format": "siamkit-moves/1", "moves": 1}\n'
        + json.dumps({"source": str(root / "gone.png"),
                      "destination": str(root / "moved" / "gone.png")}) + "\n")


def _write_model_cases(root: Path, encoder_folder: Path, tiny_checkpoint: Path) -> None:
    """Checkpoints and encoder folders, whole, cut, stale or edited."""
    (root / "text.ckpt").write_text("not a checkpoint")
    (root / "truncated.ckpt").write_bytes(tiny_checkpoint.read_bytes()[:5000])
    (root / "cut_run" / "checkpoints").mkdir(parents=True)  # its last.ckpt cut off, after a whole one
    shutil.copy(tiny_checkpoint, root / "cut_run" / "checkpoints" / "best-epoch=0-step=1.ckpt")
    shutil.copy(root / "truncated.ckpt", root / "cut_run" / "checkpoints" / "last.ckpt")
    os.utime(root / "cut_run" / "checkpoints" / "best-epoch=0-step=1.ckpt", (1e9, 1e9))
    (root / "finished_run" / "checkpoints").mkdir(parents=True)  # one epoch of three steps, done
    shutil.copy(tiny_checkpoint, root / "finished_run" / "checkpoints" / "last.ckpt")
    (root / "finished_run" / "logs" / "version_0").mkdir(parents=True)
    (root / "finished_run" / "logs" / "version_0" / "config.yaml").write_text("seed_everything: 0\n")
    (root / "cut_best_run" / "checkpoints").mkdir(parents=True)  # its best checkpoint cut off
    shutil.copy(root / "truncated.ckpt", root / "cut_best_run" / "checkpoints" / "best-epoch=0-step=1.ckpt")
    shutil.copy(tiny_checkpoint, root / "cut_best_run" / "checkpoints" / "last.ckpt")
    shutil.copytree(encoder_folder, root / "encoder")
    shutil.copytree(encoder_folder, root / "stale_onnx")
    export_onnx(Encoder.load(encoder_folder), root / "stale_onnx", sample_images()[:2])
    shutil.copytree(root / "stale_onnx", root / "onnx_resized_otherwise")
    card = json.loads((root / "stale_onnx" / "config.json").read_text())
    card["preprocessing"]["resize"] = "squash"  # an edit that leaves the fingerprint as it was
    (root / "onnx_resized_otherwise" / "config.json").write_text(json.dumps(card))
    mark_onnx(root / "stale_onnx" / "model.onnx", "0123456789abcdef",  # as if from other weights
              EncoderCard.read(encoder_folder).preprocessing)
    shutil.copy(tiny_checkpoint, root / "tiny.ckpt")
    card = (root / "stale_onnx" / "config.json").read_text()
    shutil.copytree(root / "stale_onnx", root / "cut_card")
    (root / "cut_card" / "config.json").write_text(card[:300])
    shutil.copytree(root / "stale_onnx", root / "unknown_key")
    (root / "unknown_key" / "config.json").write_text(json.dumps({**json.loads(card), "bogus": 1}))
    shutil.copytree(encoder_folder, root / "cut_weights")
    weights = root / "cut_weights" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    shutil.copytree(encoder_folder, root / "edited_dim")
    card = json.loads((root / "edited_dim" / "config.json").read_text())
    (root / "edited_dim" / "config.json").write_text(json.dumps({**card, "embedding_dim": 32}))
    shutil.copytree(encoder_folder, root / "zero_scale")
    card["architecture"]["scales"] = [0, 1]
    (root / "zero_scale" / "config.json").write_text(json.dumps(card))
    head = card["architecture"]["head"]
    for name, mid_level, head in (("mid_level_text", "yes", head), ("mid_level_and_head", True, head),
                                  ("mid_level_resnet", True, None)):
        shutil.copytree(encoder_folder, root / name)
        card["architecture"] = {**card["architecture"], "scales": [1], "mid_level": mid_level, "head": head}
        (root / name / "config.json").write_text(json.dumps(card))


def _write_index_cases(root: Path, encoder_folder: Path) -> None:
    """An index of the photos, and copies of it cut, with a NaN, or of another width."""
    assert main(["embed", str(root / "photos"), "--encoder", str(encoder_folder), "--out",
                 str(root / "index"),
                 "--num-workers", "0"]) == 0
    shutil.copytree(root / "index", root / "cut_index")
    vectors = root / "cut_index" / "embeddings.npy"
    vectors.write_bytes(vectors.read_bytes()[:200])
    shutil.copytree(root / "index", root / "nan_index")
    vectors = np.load(root / "nan_index" / "embeddings.npy")
    vectors[1, 3] = np.nan
    np.save(root / "nan_index" / "embeddings.npy", vectors)
    shutil.copytree(root / "index", root / "other_dim")  # the same fingerprint, vectors of another size
    np.save(root / "other_dim" / "embeddings.npy", np.ones((3, 8), np.float32))
    meta = json.loads((root / "other_dim" / "index.json").read_text())
    (root / "other_dim" / "index.json").write_text(json.dumps({**meta, "dim": 8}))
