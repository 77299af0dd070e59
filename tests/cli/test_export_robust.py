"""Export variants: WiSE-FT interpolation toward the pretrained start (recorded in the card), the
pooled backbone features instead of the head's output, those joined by mid-level features,
embedding at several input sizes, and the choice among them on val pairs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import timm
import torch
from sklearn.metrics import roc_auc_score

from siamkit import progress
from siamkit.cli.program import main
from siamkit.errors import ConfigError
from siamkit.models import Encoder, TimmBackbone, quantization
from siamkit.models.export_variants import at_scales
from siamkit.models.runtime import load_encoder
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
    (["--features", "backbone+mid"], "--features backbone+mid: this TorchvisionBackbone has no mid-level "
                                     "features (a timm CNN has them); choose --features head or backbone"),
])
def test_bad_export_options_are_refused(args, message, tiny_checkpoint, tmp_path, capsys):
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "out"), *args]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_interpolating_a_model_trained_from_scratch_is_refused(tiny_checkpoint, tmp_path, capsys):
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "out"),
                 "--wise-ft", "0.5"]) == 2
    assert "was trained from scratch: there is no pretrained start" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_missing_start_file_is_named_with_the_way_round_it(pretrained_run, tmp_path, capsys):
    """A checkpoint taken to a machine without the start's weights file: WiSE-FT cannot read it."""
    checkpoint = torch.load(pretrained_run[1], weights_only=True)
    gone = tmp_path / "gone" / "start.pth"
    checkpoint["siamkit_encoder_spec"]["backbone"]["init_args"]["pretrained"] = str(gone)
    torch.save(checkpoint, tmp_path / "moved.ckpt")
    export = ["export", "--ckpt", str(tmp_path / "moved.ckpt"), "--choose-on-val", "--out"]
    assert main([*export, str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert (f"error: WiSE-FT interpolates toward the pretrained start, and weights file {gone} for timm "
            "test_efficientnet does not exist") in err
    assert err.rstrip().endswith("Make those weights available again, or leave the interpolation out "
                                 "(--wise-ft 1)")
    assert not (tmp_path / "out").exists()
    assert main([*export, str(tmp_path / "without"), "--wise-ft", "1"]) == 0


def test_the_export_is_chosen_on_val_pairs_and_recorded(pretrained_run, tmp_path, monkeypatch, capsys):
    _, checkpoint = pretrained_run
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)  # as on a val set that takes minutes
    assert main(["export", "--ckpt", str(checkpoint), "--out", str(tmp_path / "chosen"),
                 "--choose-on-val"]) == 0
    said = capsys.readouterr()
    assert "embedding the val images per WiSE-FT alpha: 100%" in said.err
    printed = [line.split() for line in said.out.splitlines() if line.startswith("  wise-ft")]
    assert len(printed) == 30 and sum(line[-1] == "chosen" for line in printed) == 1  # 5 alphas x 3 x 2
    figures = {(alpha, output, scales): float(line[5]) for line in printed
               for alpha, output, scales in [(line[1].rstrip(","), line[2], line[4])]}
    assert len(figures) == 30 and {key[2] for key in figures} == {"1", "0.707107,1,1.41421"}
    assert {key[1] for key in figures} == {"head", "backbone", "backbone+mid"}
    chosen = next(line for line in printed if line[-1] == "chosen")
    card = json.loads((tmp_path / "chosen" / "config.json").read_text())
    assert card["metrics"]["export choice val/roc_auc"] == pytest.approx(float(chosen[5]), abs=1e-4)
    assert card["metrics"]["export choice val/variants compared"] == 30
    assert "the export was chosen among 30 variants on these same val pairs, so its figure here reads high" \
        in said.err
    assert card["wise_ft_alpha"] == (None if chosen[1] == "1.00," else float(chosen[1].rstrip(",")))
    assert (card["architecture"]["head"] is None) == (chosen[2] != "head")
    assert card["architecture"]["mid_level"] == (chosen[2] == "backbone+mid")
    assert ",".join(f"{s:g}" for s in card["architecture"]["scales"]) == chosen[4]


def test_a_given_setting_narrows_the_choice(pretrained_run, tiny_checkpoint, tmp_path, capsys):
    _, checkpoint = pretrained_run
    assert main(["export", "--ckpt", str(checkpoint), "--out", str(tmp_path / "a"), "--choose-on-val",
                 "--features", "backbone", "--scales", "1"]) == 0
    assert sum(line.startswith("  wise-ft") for line in capsys.readouterr().out.splitlines()) == 5
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "b"),
                 "--choose-on-val"]) == 0
    assert sum(line.startswith("  wise-ft 1.00") for line in capsys.readouterr().out.splitlines()) == 4


def test_variants_the_val_pairs_cannot_tell_apart_are_named(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    from siamkit.cli import export_choice

    def tied(encoder, pairs, alphas, features, scales):
        return encoder, [export_choice.Variant(1.0, output, (1.0,), 1.0) for output in features], None

    monkeypatch.setattr(export_choice, "choose_on_val", tied)
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "out"),
                 "--choose-on-val", "--check-data", "demo:photos"]) == 0
    assert "note: 2 of the 2 variants tie for the best val ROC-AUC (1.0000); the val pairs cannot tell " \
           "them apart, so the tie goes to the first of them in the list, and its output to the later one " \
           "that transfers better. More or harder val pairs (--check-data) would tell them apart\n" \
           in capsys.readouterr().err


def test_an_export_that_keeps_none_of_the_fine_tuning_says_so(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    from siamkit.cli import export_choice

    def the_start_won(encoder, pairs, alphas, features, scales):
        encoder = export_choice.without_head(encoder)
        encoder.card.wise_ft_alpha = 0.0
        return encoder, [export_choice.Variant(0.0, "backbone", (1.0,), 0.9)], None

    monkeypatch.setattr(export_choice, "choose_on_val", the_start_won)
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "out"),
                 "--choose-on-val", "--check-data", "demo:photos"]) == 0
    assert "note: fine-tuning did not pay off on these val pairs: WiSE-FT alpha 0 won, so the export " \
           "keeps none of the fine-tuned backbone weights (it is the start itself)" in capsys.readouterr().err


def test_each_output_is_kept_over_the_next_only_where_it_is_clearly_better():
    """One demo run kept the head's output for +0.003 on 288 val pairs, and fell below its start on
    other photographs where backbone features had held."""
    from siamkit.cli.export_choice import Variant, _unless_clearly_better

    labels = np.repeat([0, 1], 150)
    noise = np.random.default_rng(0).normal(0, 1, labels.size)
    middling = labels * 0.5 + noise
    clear = labels + 0.2 * noise
    tied = middling + 0.5 * np.random.default_rng(3).normal(0, 1, labels.size)  # +0.010 (-0.021 to +0.042)
    notes = {}
    for head, backbone, mid, expected in ((clear, middling, middling, "head"),
                                          (tied, middling, middling, "backbone+mid"),
                                          (clear, clear, middling, "backbone")):
        variants = [Variant(1.0, output, (1.0,), float(roc_auc_score(labels, scores)), scores)
                    for output, scores in (("head", head), ("backbone", backbone), ("backbone+mid", mid))]
        best = max(variants, key=lambda variant: variant.roc_auc)  # the first of equals
        chosen, notes[expected] = _unless_clearly_better(best, variants, labels)
        assert chosen.output == expected
    assert notes["head"] is None
    assert notes["backbone"].count("not clearly better") == 1
    assert notes["backbone+mid"].startswith("the head's output (0.5785) against the backbone features")
    assert notes["backbone+mid"].endswith("not clearly better, so the backbone features with mid-level ones, "
                                          "which transfer better, are exported")


def test_without_check_data_the_export_is_chosen_on_the_data_the_run_validated_on(tiny_checkpoint, tmp_path,
                                                                                 capsys):
    checkpoint = torch.load(tiny_checkpoint, weights_only=True)
    checkpoint["datamodule_hyper_parameters"]["val_data"] = "demo:photos"  # as `--data.val_data` records it
    torch.save(checkpoint, tmp_path / "validated.ckpt")
    assert main(["export", "--ckpt", str(tmp_path / "validated.ckpt"), "--out", str(tmp_path / "out"),
                 "--choose-on-val"]) == 0
    assert "val ROC-AUC of each variant (288 pairs)" in capsys.readouterr().out  # demo:photos' val pairs
    assert json.loads((tmp_path / "out" / "config.json").read_text())["validated_on"] == "demo:photos"


def test_a_multi_scale_export_embeds_the_mean_of_its_sizes_in_every_runtime(tiny_checkpoint, tmp_path,
                                                                            photos, capsys):
    for name, scales in (("single", []), ("multi", ["--scales", "0.75,1"])):
        assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / name), "--onnx",
                     *scales]) == 0
    assert "-d embeddings, 16 px x 0.75,1; fingerprint" in capsys.readouterr().out
    card = json.loads((tmp_path / "multi" / "config.json").read_text())
    assert card["architecture"]["scales"] == [0.75, 1.0]
    single, multi = Encoder.load(tmp_path / "single"), Encoder.load(tmp_path / "multi")
    assert multi.scales == (0.75, 1.0) and multi.fingerprint != single.fingerprint  # indexes tell them apart
    batch = multi.preprocess.batch(list(photos.values()))
    with torch.no_grad():
        normalized = single.normalize(batch)
        smaller = torch.nn.functional.interpolate(normalized, size=(12, 12), mode="bilinear")  # 0.75 x 16 px
        each = [single.output(single.backbone(images)) for images in (smaller, normalized)]
    torch.testing.assert_close(multi(batch), torch.nn.functional.normalize(each[0] + each[1], dim=-1))
    assert not torch.allclose(multi(batch), single(batch), atol=1e-3)
    onnx = load_encoder(tmp_path / "multi", runtime="onnx")
    np.testing.assert_allclose(onnx.embed_batch(batch), multi.embed_batch(batch), atol=1e-5)


def test_mid_level_features_join_the_pooled_ones_in_every_runtime(pretrained_run, tmp_path, photos, capsys):
    _, checkpoint = pretrained_run
    for name, features in (("plain", "backbone"), ("mid", "backbone+mid")):
        assert main(["export", "--ckpt", str(checkpoint), "--out", str(tmp_path / name), "--onnx",
                     "--features", features]) == 0
    assert "TimmBackbone with mid-level features -> 304-d embeddings" in capsys.readouterr().out  # 256 + 48
    assert json.loads((tmp_path / "mid" / "config.json").read_text())["architecture"]["mid_level"] is True
    plain, mid = Encoder.load(tmp_path / "plain"), Encoder.load(tmp_path / "mid")
    assert mid.fingerprint != plain.fingerprint
    net = plain.backbone.net
    stage = dict(net.named_modules())[net.feature_info[3]["module"]]  # at stride 16, the final map's 32
    maps = []
    stage.register_forward_hook(lambda module, inputs, output: maps.append(output))
    batch = mid.preprocess.batch(list(photos.values()))
    with torch.no_grad():
        pooled = torch.nn.functional.normalize(plain.backbone(plain.normalize(batch)), dim=-1)
        average = torch.nn.functional.normalize(maps[0].mean(dim=(-2, -1)), dim=-1)
    expected = torch.nn.functional.normalize(torch.cat([pooled, 0.5 * average], dim=-1), dim=-1)
    torch.testing.assert_close(mid(batch), expected)
    onnx = load_encoder(tmp_path / "mid", runtime="onnx")
    np.testing.assert_allclose(onnx.embed_batch(batch), mid.embed_batch(batch), atol=1e-5)


def test_a_multi_scale_mid_level_fine_tune_compares_with_its_start_as_it_embeds_and_quantizes(pretrained_run,
                                                                                       tmp_path, monkeypatch):
    _, checkpoint = pretrained_run
    # a 3-step network's ROC-AUC on the digits moves by thousandths with the
    # CPU's rounding (0.0063 lost on one CI machine, 0.0009 gained here); the allowed drop has its
    # own test, this one asks that int8 follows the float multi-scale graph
    monkeypatch.setattr(quantization, "MAX_ROC_AUC_DROP", 1.0)
    assert main(["export", "--ckpt", str(checkpoint), "--out", str(tmp_path / "multi"), "--scales", "0.75,1",
                 "--features", "backbone+mid", "--quantize", "int8", "--check-data", "demo:digits",
                 "--calibration-images", "16"]) == 0
    card = json.loads((tmp_path / "multi" / "config.json").read_text())
    assert card["quantization"]["cosine_mean"] > 0.99
    start = Encoder.load(tmp_path / "multi").starting_point()
    assert start.scales == (0.75, 1.0) and start.mid_level


def test_a_backbone_of_one_input_size_cannot_embed_at_several():
    vit = Encoder(TimmBackbone("test_vit"), None)
    with pytest.raises(ConfigError, match=r"TimmBackbone takes only its own input size \(160 px\), so it "
                                          r"cannot embed at scales \[0.75, 1.0\]"):
        at_scales(vit, (0.75, 1.0))
