"""Which checkpoint a run folder gives, and what `--ckpt_path` with a config of another
architecture says differs."""

from siamkit.models.checkpoints import architecture_differences, run_checkpoint

RESNET = {"backbone": {"class_path": "siamkit.models.backbones.TorchvisionBackbone",
                       "init_args": {"name": "resnet18", "image_size": 32}},
          "head": {"class_path": "siamkit.models.heads.ProjectionHead", "init_args": {"out_dim": 64}},
          "scales": [1.0]}
TIMM = {**RESNET, "backbone": {"class_path": "siamkit.models.timm_backbone.TimmBackbone",
                               "init_args": {"name": "tf_efficientnet_lite0", "pooling": "gem"}}}


def test_a_part_of_another_class_differs_by_its_class_alone():
    assert architecture_differences(RESNET, TIMM) == [
        "backbone.class_path: 'siamkit.models.timm_backbone.TimmBackbone' in the config, "
        "'siamkit.models.backbones.TorchvisionBackbone' in the file"]


def test_arguments_of_the_same_class_are_named_and_equal_specs_have_none():
    ours = {**RESNET, "head": {**RESNET["head"], "init_args": {"out_dim": 32}}}
    assert architecture_differences(RESNET, ours) == ["head.out_dim: 32 in the config, 64 in the file"]
    assert architecture_differences(RESNET, RESNET) == []
    pretrained = {**RESNET, "backbone": {**RESNET["backbone"], "init_args": {
        **RESNET["backbone"]["init_args"], "weights": "IMAGENET1K_V1"}}}  # where its first weights came from
    assert architecture_differences(RESNET, pretrained) == []


def test_a_run_folder_without_a_best_checkpoint_says_its_last_is_used(tmp_path, capsys):
    """Export, scoring and evaluation took last.ckpt silently where one expects the best."""
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").touch()
    assert run_checkpoint(tmp_path) == tmp_path / "checkpoints" / "last.ckpt"
    assert f"run folder {tmp_path} has no best checkpoint (it did not validate, or its metric was " \
           "undefined), so its last.ckpt is used" in capsys.readouterr().err
    assert run_checkpoint(tmp_path).name == "last.ckpt" and not capsys.readouterr().err, "said once (@start)"
    (tmp_path / "checkpoints" / "best-epoch=0-step=2.ckpt").touch()
    assert run_checkpoint(tmp_path).name == "best-epoch=0-step=2.ckpt" and not capsys.readouterr().err
