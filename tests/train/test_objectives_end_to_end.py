"""One tiny ``fast_dev_run`` per objective, each through its bundled config: contrastive on
labelled pairs, InfoNCE on the copy-detection photos, triplet on class-labelled images."""

from __future__ import annotations

import json

import open_clip
import pytest

from siamkit.train.lightning_cli import run_trainer_command

TINY_VIT = "siamkit-test-tiny-vit-e2e"
QUICK = ["--trainer.fast_dev_run", "true", "--trainer.logger", "false", "--trainer.precision", "32",
         "--trainer.accelerator", "cpu", "--trainer.devices", "1", "--data.num_workers", "0",
         "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
SMALL_RESNET = ["--model.backbone.init_args.name", "resnet18", "--model.backbone.init_args.weights", "null",
                "--model.backbone.init_args.image_size", "32"]


@pytest.fixture(scope="module", autouse=True)
def tiny_open_clip_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("open_clip_configs")
    (folder / f"{TINY_VIT}.json").write_text(json.dumps({
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 8, "head_width": 16},
        "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 16, "heads": 2, "layers": 1},
    }))
    open_clip.add_model_config(folder)


def losses(cli) -> dict[str, float]:
    return {k: float(v) for k, v in cli.trainer.callback_metrics.items()}


def test_contrastive_on_labelled_pairs(pairs_table, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = run_trainer_command("fit", ["--config", "resnet_siamese.yaml", *SMALL_RESNET, *QUICK,
                                      "--data.source", str(pairs_table), "--data.batch_size", "4",
                                      "--data.augment", "null"])
    assert type(cli.model.loss).__name__ == "ContrastiveLoss"
    assert "train/loss" in losses(cli) and cli.datamodule.batch_kind == "pairs"


def test_infonce_on_copy_detection_photos(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = run_trainer_command("fit", ["--config", "clip_siamese.yaml", *QUICK, "--data.batch_size", "8",
                                      "--model.backbone.init_args.model_name", TINY_VIT,
                                      "--model.backbone.init_args.pretrained", "null"])
    assert type(cli.model.loss).__name__ == "InfoNCELoss"
    assert "train/loss" in losses(cli) and "val/roc_auc" in losses(cli)


def test_triplet_on_class_labelled_images(class_folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = run_trainer_command("fit", ["--config", "resnet_triplet.yaml", *SMALL_RESNET, *QUICK,
                                      "--data.source", str(class_folder), "--data.batch_size", "8"])
    assert type(cli.model.loss).__name__ == "TripletLoss"
    assert "train/loss" in losses(cli) and "val/recall@1" in losses(cli)
