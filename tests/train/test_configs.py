"""Every bundled config parses and instantiates (hub weights swapped for none: no network)."""

from importlib import resources
from pathlib import Path

import pytest
import torch

from siamkit.data.datamodule import SiameseDataModule
from siamkit.train.lightning_cli import SiamkitCLI, resolve_config_arguments
from siamkit.train.module import SiameseModule
from siamkit.train.precision import native_precision

CONFIGS = sorted(p.name for p in resources.files("siamkit.configs").iterdir() if p.name.endswith(".yaml"))
NO_HUB_WEIGHTS = {
    "clip_siamese.yaml": ["--model.backbone.init_args.pretrained", "null"],
    "resnet_siamese.yaml": ["--model.backbone.init_args.weights", "null"],
    "resnet_triplet.yaml": ["--model.backbone.init_args.weights", "null"],
}


def test_the_expected_configs_ship():
    assert {"clip_siamese.yaml", "resnet_siamese.yaml", "demo_digits.yaml", "demo_photos.yaml",
            "demo_photos_scratch.yaml", "resnet_triplet.yaml"} <= set(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_instantiates(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "elsewhere"
    args = resolve_config_arguments(["--config", name, *NO_HUB_WEIGHTS.get(name, []),
                                     "--trainer.default_root_dir", str(run)])
    cli = SiamkitCLI(SiameseModule, SiameseDataModule, args=args, run=False, auto_configure_optimizers=False)
    model, data = cli.model, cli.datamodule
    # one run folder: checkpoints, metrics.csv and W&B all follow the overridden root
    assert [type(logger).__name__ for logger in cli.trainer.loggers] == ["CSVLogger", "QuietWandbLogger"]
    assert {Path(logger.save_dir) for logger in cli.trainer.loggers} == {run}
    assert Path(cli.trainer.checkpoint_callback.dirpath) == run / "checkpoints"
    assert data.image_config == model.backbone.image_config  # the link: data preprocesses for this backbone
    images = torch.zeros(2, 3, data.image_config.size, data.image_config.size)
    with torch.no_grad():
        embedding = model.eval()(images)
    assert embedding.shape == (2, model.head.out_dim)
    assert torch.allclose(embedding.norm(dim=1), torch.ones(2), atol=1e-5)


def test_clip_config_is_the_seed_articles_model():
    args = resolve_config_arguments(["--config", "clip_siamese.yaml", "--trainer.logger", "false",
                                     "--model.backbone.init_args.pretrained", "null"])
    cli = SiamkitCLI(SiameseModule, SiameseDataModule, args=args, run=False, auto_configure_optimizers=False)
    backbone = cli.config.model.backbone.init_args
    assert cli.config.trainer.precision == native_precision(uses_cuda=torch.cuda.is_available())  # left out
    assert backbone.model_name == "ViT-B-16-plus-240"
    assert cli.model.backbone.image_config.size == 240
    assert cli.model.backbone.image_config.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))


def test_the_photo_demo_fine_tunes_the_packaged_pretrained_network():
    def start_of(config: str):  # what `train evaluate` scores as NAME@start
        args = resolve_config_arguments(["--config", config, "--trainer.logger", "false"])
        model = SiamkitCLI(SiameseModule, SiameseDataModule, args=args, run=False,
                           auto_configure_optimizers=False).model
        return model.encoder.card.initialised_from

    assert start_of("demo_photos.yaml").init_args["pretrained"] == "efficientnet-lite0"
    assert start_of("demo_photos_scratch.yaml") is None
