"""One tiny ``fast_dev_run`` per objective, each through its bundled config: contrastive on
labelled pairs, InfoNCE on the copy-detection photos, triplet on class-labelled images."""

from __future__ import annotations

from siamkit.data.batches import PairBatch, TwoViewBatch
from siamkit.data.view_mix import ViewMix
from siamkit.train.lightning_cli import run_trainer_command
from tests.conftest import TINY_VIT
from tests.helpers import ONE_BATCH_FIT, SMALL_RESNET


def losses(cli) -> dict[str, float]:
    return {k: float(v) for k, v in cli.trainer.callback_metrics.items()}


def test_contrastive_on_labelled_pairs(pairs_table, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # groups 4 and 5 validate: a random split of six groups leaves val without a non-match
    rows = [row.split(",") for row in pairs_table.read_text().split()[1:]]
    split = {f"img{i}.png": "train" if i < 8 else "val" for i in range(12)}
    kept = [f"{a},{b},{label},{split[a]}\n" for a, b, label in rows if split[a] == split[b]]
    pairs_table.write_text("a,b,label,split\n" + "".join(kept))
    cli = run_trainer_command("fit", ["--config", "resnet_siamese.yaml", *SMALL_RESNET, *ONE_BATCH_FIT,
                                      "--data.source", str(pairs_table), "--data.batch_size", "4",
                                      "--data.augment", "null"])
    assert type(cli.model.loss).__name__ == "ContrastiveLoss"
    assert "train/loss" in losses(cli) and cli.datamodule.train_batch_type is PairBatch


def test_infonce_on_copy_detection_photos(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = run_trainer_command("fit", ["--config", "clip_siamese.yaml", *ONE_BATCH_FIT,
                                      "--data.batch_size", "8",
                                      "--model.backbone.init_args.model_name", TINY_VIT,
                                      "--model.backbone.init_args.pretrained", "null"])
    assert type(cli.model.loss).__name__ == "InfoNCELoss"
    assert "train/loss" in losses(cli) and "val/roc_auc" in losses(cli)


def test_triplet_on_class_labelled_images(class_folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = run_trainer_command("fit", ["--config", "resnet_triplet.yaml", *SMALL_RESNET, *ONE_BATCH_FIT,
                                      "--data.source", str(class_folder), "--data.batch_size", "8",
                                      "--data.split_fractions", "[0.5, 0.25, 0.25]"])  # 2 val images a class
    assert type(cli.model.loss).__name__ == "TripletLoss"
    assert "train/loss" in losses(cli) and "val/recall@1" in losses(cli)


def test_copy_detection_on_regions_of_unlabelled_photographs(tmp_path, monkeypatch):
    """The photo demos' recipe (demo_photos_scratch.yaml): regions of whole photographs, two views
    each, InfoNCE with the KoLeo term, GeM pooling; here with a quarter of the second views mixed."""
    monkeypatch.chdir(tmp_path)
    mixed = []
    mix = ViewMix.__call__
    monkeypatch.setattr(ViewMix, "__call__", lambda self, batch: mixed.append(len(batch)) or mix(self, batch))
    cli = run_trainer_command("fit", ["--config", "demo_photos_scratch.yaml", *ONE_BATCH_FIT,
                                      "--data.batch_size", "8", "--model.backbone.init_args.image_size", "32",
                                      "--data.crops_per_image", "4", "--data.mix_views", "0.25"])
    assert cli.datamodule.train_batch_type is TwoViewBatch and mixed and set(mixed) == {8}
    assert len(cli.datamodule.train_dataloader().dataset) == 12 * 4  # the training photographs' regions
    assert len(cli.datamodule.val_dataloader().dataset) == 288  # demo:photos' val pairs (data.val_data)
    assert type(cli.model.backbone.net.avgpool).__name__ == "GeM" and cli.model.loss.entropy_weight > 0
    assert "train/loss" in losses(cli) and "val/roc_auc" in losses(cli)
