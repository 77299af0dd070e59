"""SiameseModule's optimisation set-up and options, without a Trainer where possible."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from siamkit.cli.program import main
from siamkit.data.batches import ClassBatch, PairBatch
from siamkit.errors import ConfigError
from siamkit.models import ContrastiveLoss, InfoNCELoss, TimmBackbone, TorchvisionBackbone
from siamkit.train.module import SiameseModule
from tests.helpers import TINY


def module(**options) -> SiameseModule:
    backbone = TorchvisionBackbone("resnet18", image_size=32, small_input=True)
    return SiameseModule(backbone, InfoNCELoss(), **options)


def group_of(groups, parameter):
    return next(g for g in groups if any(p is parameter for p in g["params"]))


def test_layer_wise_decay_backbone_scale_and_no_decay_on_one_dimensional_parameters():
    model = module(backbone_lr_scale=0.1, layer_decay=0.5)
    groups = model.parameter_groups()
    net = model.backbone.net
    # blocks from the top: layer4 (depth 0), layer3 (1), layer2 (2), layer1 (3), stem (4)
    assert group_of(groups, net.layer4[0].conv1.weight)["lr_scale"] == pytest.approx(0.1)
    assert group_of(groups, net.layer3[0].conv1.weight)["lr_scale"] == pytest.approx(0.05)
    assert group_of(groups, net.conv1.weight)["lr_scale"] == pytest.approx(0.1 * 0.5 ** 4)
    assert group_of(groups, model.head.layers.weight)["lr_scale"] == 1.0
    assert "weight_decay" not in group_of(groups, net.layer4[0].conv1.weight)
    for no_decay in (net.bn1.weight, net.bn1.bias, model.head.layers.bias, model.loss.logit_scale):
        assert group_of(groups, no_decay)["weight_decay"] == 0.0
    every = [p for g in groups for p in g["params"]]
    assert len(every) == len({id(p) for p in every}) == len(list(model.parameters()))


def test_locked_blocks_stay_out_of_the_optimizer():
    backbone = TorchvisionBackbone("resnet18", image_size=32, small_input=True, trainable_blocks=1)
    model = SiameseModule(backbone, ContrastiveLoss())
    optimised = {id(p) for g in model.parameter_groups() for p in g["params"]}
    assert all(id(p) in optimised for p in backbone.net.layer4.parameters())
    assert not any(id(p) in optimised for p in backbone.net.layer1.parameters())


def test_the_loss_stays_in_float32_under_mixed_precision():
    model = module()
    model.loss.logit_scale.data.fill_(math.log(100.0))  # CLIP's cap: where rounding shows most
    torch.manual_seed(0)
    a, b = F.normalize(torch.randn(2, 64, 16), dim=-1)

    class Embedded(PairBatch):  # a batch that is already embedded: the backbone is left out
        def map_images(self, function):
            return self

    embedded = Embedded(a, b, torch.ones(64), torch.arange(64), torch.arange(64))
    full_precision = model.compute_loss(embedded)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model.compute_loss(embedded)
        under_autocast = model.loss(embedded)
    assert mixed.dtype == torch.float32 and mixed.item() == full_precision.item()
    assert under_autocast.item() != full_precision.item()  # what the guard prevents


def test_channels_last_gives_the_same_embeddings():
    torch.manual_seed(0)
    plain = module().eval()
    fast = module(channels_last=True).eval()
    fast.load_state_dict(plain.state_dict())
    fast.configure_model()
    images = torch.randn(2, 3, 32, 32)
    assert fast.backbone.net.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(fast(images), plain(images), atol=1e-5, rtol=1e-4)


def test_compile_option_compiles_the_backbone():
    model = module(compile=True)
    model.configure_model()
    assert model.backbone._compiled_call_impl is not None
    assert model.example_input_array is None, "no compile for the model summary's sake"


def test_the_model_summary_shows_the_shapes_and_flops_of_one_image():
    from pytorch_lightning.utilities.model_summary import ModelSummary

    summary = ModelSummary(module(), max_depth=1)
    assert summary.in_sizes[0] == [1, 3, 32, 32] and summary.out_sizes[0] == [1, 128]
    assert summary.total_flops > 10**7  # a ResNet-18's multiply-adds at 32 px, not Lightning's 0


def test_timm_backbone_trains_through_the_module():
    backbone = TimmBackbone("test_resnet", trainable_blocks=2)
    assert backbone.image_config.mean == (0.5, 0.5, 0.5)  # timm's own preprocessing for this model
    model = SiameseModule(backbone, InfoNCELoss())
    images = torch.randn(4, 3, 64, 64)
    loss = model.loss(PairBatch(model(images[:2]), model(images[2:]), torch.ones(2), torch.arange(2),
                                torch.arange(2)))
    loss.backward()
    assert backbone.blocks()[-1].parameters().__next__().grad is not None
    assert next(backbone.blocks()[0].parameters()).grad is None


def test_a_loss_that_does_not_fit_the_data_fails_at_start_up(class_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["fit", "--config", "clip_siamese.yaml", "--model.backbone",
                 "siamkit.models.TorchvisionBackbone",
                 "--model.backbone.init_args.name", "resnet18", "--model.backbone.init_args.image_size", "32",
                 "--data.source", str(class_folder), "--trainer.logger", "false", "--trainer.precision", "32",
                 "--trainer.accelerator", "cpu", "--data.num_workers", "0"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "InfoNCELoss accepts PairBatch or TwoViewBatch batches" in err
    assert "gives ClassBatch batches" in err
    assert "use ContrastiveLoss or TripletLoss" in err
    assert not list(tmp_path.rglob("*.ckpt"))


def test_a_pair_loss_refuses_unlabelled_images_which_have_no_non_matches(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    code = main(["fit", *TINY, "--data.source", str(folder), "--data.split_fractions", "[0.5, 0.25, 0.25]"])
    err = capsys.readouterr().err
    assert code == 2 and "ContrastiveLoss accepts PairBatch or ClassBatch" in err and "use InfoNCELoss" in err


def test_the_model_normalises_uint8_images_by_its_backbones_statistics():
    model = module().eval()
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    mean = torch.tensor(model.image_config.mean).view(1, 3, 1, 1)
    std = torch.tensor(model.image_config.std).view(1, 3, 1, 1)
    torch.testing.assert_close(model.encoder.normalize(images), (images / 255.0 - mean) / std)
    assert not any("normalize" in key for key in model.state_dict())  # checkpoints hold weights only


def test_init_from_an_exported_encoder_gives_the_same_embeddings(tmp_path):
    import functools

    from siamkit.models import Encoder, ProjectionHead

    def build(**options) -> SiameseModule:
        backbone = TorchvisionBackbone("resnet18", image_size=16, small_input=True)
        return SiameseModule(backbone, InfoNCELoss(), head=functools.partial(ProjectionHead, out_dim=8),
                             **options)

    torch.manual_seed(0)
    trained = build().eval()
    Encoder(trained.backbone, trained.head).save(tmp_path / "encoder")
    torch.manual_seed(1)
    started = build(init_from=str(tmp_path / "encoder")).eval()
    images = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(started(images), trained(images))
        assert not torch.allclose(build().eval()(images), trained(images))  # not the same by chance


def test_init_from_an_encoder_exported_without_its_head_takes_its_backbone(tmp_path, caplog):
    """An export of the backbone's features (``--choose-on-val`` often keeps them): its backbone, and a
    new head; a config without a head leaves out a trained one."""
    import functools

    from siamkit.models import Encoder, ProjectionHead
    from siamkit.models.export_variants import with_mid_level

    def build(head=True, **options) -> SiameseModule:
        backbone = TimmBackbone("test_resnet", image_size=32)
        return SiameseModule(backbone, InfoNCELoss(), head=functools.partial(ProjectionHead, out_dim=8)
                             if head else None, **options)

    torch.manual_seed(0)
    trained = build()
    with_mid_level(Encoder(trained.backbone, None)).save(tmp_path / "features")
    Encoder(trained.backbone, trained.head).save(tmp_path / "whole")
    torch.manual_seed(1)
    fresh_head = build().head.state_dict()
    for source, head in (("features", True), ("whole", False)):
        torch.manual_seed(1)
        with caplog.at_level(logging.INFO):
            started = build(head, init_from=str(tmp_path / source))
        for key, value in trained.backbone.state_dict().items():
            torch.testing.assert_close(started.backbone.state_dict()[key], value)
        if head:
            for key, value in fresh_head.items():
                torch.testing.assert_close(started.head.state_dict()[key], value)
    assert "it has no projection head (an export of the backbone's features), so the config's head starts " \
           "anew" in caplog.text and "its head is left out: this config has none" in caplog.text


def test_a_run_started_from_an_earlier_model_records_that_models_start(tmp_path):
    """Whatever its own backbone's arguments name: pretrained weights they load are replaced, and a
    backbone without them was not trained from scratch. A resumed run keeps it."""
    import functools

    from siamkit.models import Encoder, ProjectionHead

    def build(weights=False, **options) -> SiameseModule:
        backbone = TimmBackbone("test_resnet", pretrained=weights)
        return SiameseModule(backbone, InfoNCELoss(), head=functools.partial(ProjectionHead, out_dim=8),
                             **options)

    def exported(model: SiameseModule, name: str) -> Encoder:
        checkpoint = {"state_dict": model.state_dict()}  # as Lightning writes one
        model.on_save_checkpoint(checkpoint)
        torch.save(checkpoint, tmp_path / f"{name}.ckpt")
        Encoder.from_checkpoint(tmp_path / f"{name}.ckpt").save(tmp_path / name)
        return Encoder.load(tmp_path / name)

    weights = str(tmp_path / "test_resnet.pth")
    torch.save(TimmBackbone("test_resnet").net.state_dict(), weights)
    pretrained = exported(build(weights), "yesterday").card.initialised_from
    assert pretrained.init_args["pretrained"] == weights
    assert exported(build(init_from=str(tmp_path / "yesterday")), "today").card.initialised_from == pretrained
    resumed = build()  # --ckpt_path last without init_from given again
    resumed.on_load_checkpoint(torch.load(tmp_path / "today.ckpt", weights_only=True))
    assert exported(resumed, "resumed").card.initialised_from == pretrained

    assert exported(build(), "scratch").card.initialised_from is None
    again = exported(build(weights, init_from=str(tmp_path / "scratch")), "scratch_again")
    assert again.card.initialised_from is None


def test_a_checkpoint_tests_without_the_model_its_run_started_from(tiny_checkpoint, tmp_path, monkeypatch):
    """The checkpoint brings the weights and the recorded start; the earlier model may have moved
    (so may a resumed run's: the same option)."""
    monkeypatch.chdir(tmp_path)
    assert main(["test", *TINY, "--model.init_from", str(tmp_path / "moved"), "--ckpt_path",
                 str(tiny_checkpoint), "--trainer.limit_test_batches", "1"]) == 0


def test_init_from_refuses_another_architecture_in_one_line(encoder_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["fit", *TINY, "--model.init_from", str(encoder_folder), "--model.head.init_args.out_dim",
                 "32"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"model.init_from {encoder_folder} was trained with another architecture than this config " \
           "builds (head.out_dim: 32 in the config, 64 in the file)" in err
    assert main(["fit", *TINY, "--model.init_from", str(encoder_folder), "--trainer.max_steps", "1",
                 "--trainer.limit_val_batches", "1"]) == 0  # the same architecture starts from it


def test_the_module_holds_one_encoder_whose_weights_its_checkpoints_carry(tiny_checkpoint, tmp_path):
    """Checkpoints keep the Encoder's weights under ``encoder.``; one written before the module
    held an Encoder (``backbone.`` / ``head.`` at the top, as up to 2026-12-03) still exports,
    tests and resumes."""
    from siamkit.models.checkpoints import read_checkpoint
    from siamkit.models.encoder import Encoder

    checkpoint = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    assert {key.split(".")[0] for key in checkpoint["state_dict"]} <= {"encoder", "loss"}
    legacy = dict(checkpoint, state_dict={key.removeprefix("encoder."): value
                                          for key, value in checkpoint["state_dict"].items()})
    torch.save(legacy, tmp_path / "legacy.ckpt")
    assert read_checkpoint(tmp_path / "legacy.ckpt").encoder_state.keys() == read_checkpoint(
        tiny_checkpoint).encoder_state.keys()
    assert Encoder.load(tmp_path / "legacy.ckpt").fingerprint == Encoder.load(tiny_checkpoint).fingerprint
    assert main(["test", *TINY, "--trainer.limit_test_batches", "1", "--ckpt_path",
                 str(tmp_path / "legacy.ckpt"), "--trainer.default_root_dir", str(tmp_path / "run")]) == 0


def test_validate_and_test_say_their_figures_are_the_model_as_trained(tiny_checkpoint, tmp_path, caplog):
    """Not what an export chose: `train test` gave 0.854 where the photo demo's export scored 0.911."""
    for command in ("validate", "test"):
        caplog.clear()
        assert main([command, *TINY, f"--trainer.limit_{'val' if command == 'validate' else 'test'}_batches",
                     "1", "--ckpt_path", str(tiny_checkpoint), "--trainer.default_root_dir",
                     str(tmp_path / command)]) == 0
        stage = "val" if command == "validate" else "test"
        assert (f"{stage}/ figures score the model as it trained: its projection head's output at 16 px"
                in caplog.text and "`train evaluate --methods ENCODER`" in caplog.text)


def test_no_head_means_the_backbones_features_in_training_and_in_the_encoder():
    model = module(head=None).eval()
    assert model.encoder.head is None and model.encoder.embedding_dim == 512
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        features = model.backbone(model.encoder.normalize(images))
        torch.testing.assert_close(model(images), F.normalize(features))


def test_a_backbone_torch_cannot_compile_is_one_line_at_the_first_step(class_folder, tmp_path):
    import pytorch_lightning as pl

    from siamkit.data.datamodule import SiameseDataModule

    def no_compiler(graph, inputs):
        raise RuntimeError("no C++ compiler here")

    backbone = TorchvisionBackbone("resnet18", image_size=16, small_input=True)
    backbone.compile = lambda: nn.Module.compile(backbone, backend=no_compiler)
    module = SiameseModule(backbone, ContrastiveLoss(), compile=True)
    data = SiameseDataModule(str(class_folder), image_config=backbone.image_config, batch_size=8,
                             num_workers=0, split_fractions=(0.5, 0.25, 0.25), check_leaks="off")
    trainer = pl.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path)
    expected = (r"^model.compile: torch.compile cannot compile TorchvisionBackbone here "
                r"\(BackendCompilerFailed: .*\); set model.compile false$")
    with pytest.raises(ConfigError, match=expected):
        trainer.fit(module, data)


def same_gradients_twice(model: SiameseModule, batch) -> bool:
    def gradients() -> torch.Tensor:
        model.zero_grad(set_to_none=True)
        model.compute_loss(batch).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    return torch.equal(gradients(), gradients())


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_a_class_batch_step_has_the_same_gradients_every_time(distance):
    """Two runs of one config and seed train one model: the contrastive loss over all pairs of a
    class batch once took its pairs as picked rows, whose gradients the CPU's threads add up in
    no set order (this test then failed)."""
    torch.manual_seed(0)
    model = SiameseModule(TorchvisionBackbone("resnet18", image_size=16, small_input=True),
                          ContrastiveLoss(distance=distance)).train()
    batch = ClassBatch(torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8),
                       torch.arange(16).repeat_interleave(4))
    assert same_gradients_twice(model, batch)


def test_an_infonce_step_with_the_koleo_term_has_the_same_gradients_every_time():
    """The photo demo's loss (InfoNCE on pairs, KoLeo's nearest-neighbour term) the same way."""
    torch.manual_seed(0)
    loss = InfoNCELoss(temperature=0.05, learnable_temperature=True, entropy_weight=10.0)
    model = SiameseModule(TorchvisionBackbone("resnet18", image_size=16, small_input=True), loss).train()
    images = torch.randint(0, 256, (2, 32, 3, 16, 16), dtype=torch.uint8)
    ids = torch.arange(32)
    assert same_gradients_twice(model, PairBatch(images[0], images[1], torch.ones(32), ids, ids))


def test_a_weights_file_named_from_the_runs_folder_is_found_from_any_other(tmp_path, monkeypatch):
    """`pretrained: start.pth` in a config means the file in the folder `train fit` ran in: the
    checkpoint names it by its absolute path, so its start is found from elsewhere."""
    from siamkit.models import Encoder
    from siamkit.models.checkpoints import ENCODER_SPEC_KEY

    monkeypatch.chdir(tmp_path)
    torch.save(TimmBackbone("test_resnet").net.state_dict(), "start.pth")
    model = SiameseModule(TimmBackbone("test_resnet", pretrained="start.pth"), InfoNCELoss())
    checkpoint = {"state_dict": model.state_dict()}
    model.on_save_checkpoint(checkpoint)
    assert checkpoint[ENCODER_SPEC_KEY]["backbone"]["init_args"]["pretrained"] == str(tmp_path / "start.pth")
    torch.save(checkpoint, "run.ckpt")
    monkeypatch.chdir(tmp_path.parent)
    start = Encoder.load(tmp_path / "run.ckpt").starting_point()
    assert start.card.architecture.backbone.init_args["pretrained"] == str(tmp_path / "start.pth")
