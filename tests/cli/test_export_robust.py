"""Export options that keep what the pretrained start knew: WiSE-FT interpolation toward the
start (recorded in the card) and the pooled backbone features instead of the head's output."""

from __future__ import annotations

import json

import pytest
import timm
import torch

from siamkit.cli.program import main
from siamkit.models import Encoder
from tests.helpers import TINY


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory):
    """A tiny timm network 'pretrained' (its initial weights saved as a file), fine-tuned for a
    few steps on the digits: the start file and the checkpoint."""
    root = tmp_path_factory.mktemp("fine_tune")
    torch.manual_seed(0)
    torch.save(timm.create_model("test_efficientnet", num_classes=0).state_dict(), root / "start.pth")
    assert main(["fit", *TINY, "--model.backbone", "siamkit.models.TimmBackbone",
                 "--model.backbone.init_args.name", "test_efficientnet",
                 "--model.backbone.init_args.pretrained", str(root / "start.pth"),
                 "--model.backbone.init_args.image_size", "32",
                 "--trainer.max_steps", "3", "--trainer.limit_val_batches", "1",
                 "--trainer.default_root_dir", str(root / "run")]) == 0
    return root / "start.pth", root / "run" / "checkpoints" / "last.ckpt"


def _backbone(folder) -> dict[str, torch.Tensor]:
    return {k.removeprefix("backbone.net."): v for k, v in Encoder.load(folder).state_dict().items()
            if k.startswith("backbone.net.") and v.is_floating_point()}


def test_wise_ft_moves_the_backbone_toward_its_start(pretrained_run, tmp_path):
    start_file, checkpoint = pretrained_run
    for alpha in ("0", "0.5", "1"):
        assert main(["export", "--ckpt", str(checkpoint), "--out", str(tmp_path / alpha),
                     "--wise-ft", alpha]) == 0
    start = {k: v for k, v in torch.load(start_file, weights_only=True).items() if v.is_floating_point()}
    ends = {alpha: _backbone(tmp_path / alpha) for alpha in ("0", "0.5", "1")}
    moved = [k for k in start if not torch.allclose(ends["1"][k], start[k])]
    assert moved, "fine-tuning changed the backbone"
    for key in start:
        torch.testing.assert_close(ends["0"][key], start[key])
        halfway = (start[key] + ends["1"][key]) / 2
        torch.testing.assert_close(ends["0.5"][key], halfway, rtol=1e-5, atol=1e-6)
    card = json.loads((tmp_path / "0.5" / "config.json").read_text())
    assert card["wise_ft_alpha"] == 0.5
    assert card["initialised_from"]["init_args"]["name"] == "test_efficientnet"


def test_the_backbone_features_export_without_the_head(pretrained_run, tmp_path):
    _, checkpoint = pretrained_run
    assert main(["export", "--ckpt", str(checkpoint), "--out", str(tmp_path / "features"),
                 "--features", "backbone"]) == 0
    encoder = Encoder.load(tmp_path / "features")
    assert encoder.head is None and encoder.embedding_dim == encoder.backbone.feature_dim
    assert json.loads((tmp_path / "features" / "config.json").read_text())["architecture"]["head"] is None


@pytest.mark.parametrize("args, message", [
    (["--wise-ft", "1.5"], "--wise-ft: '1.5' is not an interpolation weight between 0 and 1"),
    (["--wise-ft", "-0.1"], "is not an interpolation weight between 0 and 1"),
    (["--features", "neck"], "invalid choice: 'neck'"),
])
def test_bad_export_options_are_refused(args, message, tiny_checkpoint, tmp_path, capsys):
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "out"), *args]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_interpolating_a_model_trained_from_scratch_is_refused(tiny_checkpoint, tmp_path, capsys):
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "out"),
                 "--wise-ft", "0.5"]) == 2
    assert "was trained from scratch: there is no pretrained start" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_export_is_chosen_on_val_pairs_and_recorded(pretrained_run, tmp_path, capsys):
    _, checkpoint = pretrained_run
    assert main(["export", "--ckpt", str(checkpoint), "--out", str(tmp_path / "chosen"),
                 "--choose-on-val"]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  wise-ft")]
    assert len(printed) == 10 and sum(line.endswith("<- chosen") for line in printed) == 1
    figures = {tuple(line.split()[1:3]): float(line.split()[3]) for line in printed}
    chosen = next(line for line in printed if line.endswith("<- chosen"))
    assert float(chosen.split()[3]) == max(figures.values())
    card = json.loads((tmp_path / "chosen" / "config.json").read_text())
    assert card["metrics"]["export choice val/roc_auc"] == pytest.approx(max(figures.values()), abs=1e-4)
    alpha, output = chosen.split()[1].rstrip(","), chosen.split()[2]
    assert card["wise_ft_alpha"] == (None if alpha == "1.00" else float(alpha))
    assert (card["architecture"]["head"] is None) == (output == "backbone")


def test_a_given_setting_narrows_the_choice(pretrained_run, tiny_checkpoint, tmp_path, capsys):
    _, checkpoint = pretrained_run
    assert main(["export", "--ckpt", str(checkpoint), "--out", str(tmp_path / "a"), "--choose-on-val",
                 "--features", "backbone"]) == 0
    assert sum(line.startswith("  wise-ft") for line in capsys.readouterr().out.splitlines()) == 5
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "b"),
                 "--choose-on-val"]) == 0
    assert sum(line.startswith("  wise-ft 1.00") for line in capsys.readouterr().out.splitlines()) == 2


def test_without_check_data_the_export_is_chosen_on_the_data_the_run_validated_on(tiny_checkpoint, tmp_path,
                                                                                 capsys):
    checkpoint = torch.load(tiny_checkpoint, weights_only=True)
    checkpoint["datamodule_hyper_parameters"]["val_data"] = "demo:photos"  # as `--data.val_data` records it
    torch.save(checkpoint, tmp_path / "validated.ckpt")
    assert main(["export", "--ckpt", str(tmp_path / "validated.ckpt"), "--out", str(tmp_path / "out"),
                 "--choose-on-val"]) == 0
    assert "val ROC-AUC of each variant (288 pairs)" in capsys.readouterr().out  # demo:photos' val pairs
    assert json.loads((tmp_path / "out" / "config.json").read_text())["validated_on"] == "demo:photos"
