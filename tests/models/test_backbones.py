import open_clip
import pytest
import torch
from safetensors.torch import save_file

from siamkit.errors import ConfigError, WeightsNotFoundError
from siamkit.models import GeM, OpenClipBackbone, ProjectionHead, TimmBackbone, TorchvisionBackbone
from tests.conftest import TINY_CLIP_RESNET, TINY_CLIP_TIMM, TINY_VIT


def test_open_clip_image_tower_only_with_its_own_preprocessing():
    backbone = OpenClipBackbone(TINY_VIT)
    assert backbone(torch.randn(2, 3, 32, 32)).shape == (2, 16)
    assert backbone.image_config.size == 32 and backbone.image_config.interpolation == "bicubic"
    assert backbone.image_config.mean == pytest.approx(open_clip.OPENAI_DATASET_MEAN)
    assert not any("transformer.resblocks" in k and "text" in k for k in backbone.state_dict())
    assert not hasattr(backbone, "token_embedding")


@pytest.mark.parametrize("whole_clip", [True, False])
def test_open_clip_loads_a_local_weights_file_with_identical_outputs(tmp_path, whole_clip):
    torch.manual_seed(0)
    reference = open_clip.create_model(TINY_VIT)
    state = reference.state_dict() if whole_clip else reference.visual.state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "w.safetensors")
    loaded = OpenClipBackbone(TINY_VIT, pretrained=str(tmp_path / "w.safetensors")).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(images), reference.visual.eval()(images))


@pytest.mark.parametrize("small_input", [False, True])
def test_torchvision_loads_a_local_weights_file_with_identical_outputs(tmp_path, small_input):
    torch.manual_seed(0)
    reference = TorchvisionBackbone("resnet18", image_size=32, small_input=small_input).eval()
    torch.save(reference.net.state_dict(), tmp_path / "r18.pt")
    loaded = TorchvisionBackbone("resnet18", weights=str(tmp_path / "r18.pt"), image_size=32,
                                 small_input=small_input).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(images), reference(images))


def test_weights_that_do_not_fit_name_the_differing_keys(tmp_path):
    torch.save(TorchvisionBackbone("resnet34").net.state_dict(), tmp_path / "r34.pt")
    with pytest.raises(ConfigError, match="do not fit.*unexpected: layer1.2"):
        TorchvisionBackbone("resnet18", weights=str(tmp_path / "r34.pt"))


@pytest.mark.parametrize("make", [lambda path: TorchvisionBackbone("resnet18", weights=path),
                                  lambda path: OpenClipBackbone(TINY_VIT, pretrained=path)])
def test_every_backbone_says_a_cut_weights_file_in_one_line(tmp_path, make):
    torch.save(TorchvisionBackbone("resnet18").net.state_dict(), tmp_path / "whole.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "whole.pt").read_bytes()[:5000])
    with pytest.raises(ConfigError, match="cannot read weights file .*cut.pt .*: it is truncated"):
        make(str(tmp_path / "cut.pt"))


def test_missing_weights_file():
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        TorchvisionBackbone("resnet18", weights="/nowhere/r18.pt")


@pytest.mark.parametrize("make,message", [
    (lambda: TorchvisionBackbone("resnet19"), "did you mean resnet18"),
    (lambda: OpenClipBackbone("ViT-B-16-plus-24"), "Close matches: ViT-B-16-plus-240"),
    (lambda: OpenClipBackbone(TINY_VIT, trainable_blocks=9), "beyond OpenClipBackbone's depth: it has 4"),
    (lambda: TorchvisionBackbone("resnet18", weights="IMAGENET2K"), "no torchvision weights 'IMAGENET2K'"),
])
def test_bad_names_and_depths_are_explained(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_unlocking_only_the_last_blocks():
    backbone = OpenClipBackbone(TINY_VIT, trainable_blocks=1)
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("visual.ln_post", "visual.proj")) for n in trainable)
    locked = OpenClipBackbone(TINY_VIT, trainable_blocks=0)
    assert not any(p.requires_grad for p in locked.parameters())


@pytest.mark.parametrize("name", [TINY_VIT, TINY_CLIP_RESNET, TINY_CLIP_TIMM])
def test_open_clip_layer_groups_hold_every_parameter_once_and_unlock_from_the_top(name):
    # the groups are what layer-wise rates and unlock depths act on; open_clip's ResNet has a
    # `stem` method beside its stem's modules, which once broke every RN50 fine-tune here
    backbone = OpenClipBackbone(name)
    assert backbone(torch.rand(2, 3, backbone.image_config.size, backbone.image_config.size)).shape == (2, 16)
    grouped = [id(p) for group in backbone.blocks() for p in group.parameters()]
    assert sorted(grouped) == sorted(id(p) for p in backbone.parameters())
    top = OpenClipBackbone(name, trainable_blocks=1)
    trainable = {id(p) for p in top.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in top.blocks()[-1].parameters()}


@pytest.mark.parametrize("hidden_dim,batch_norm", [(None, False), (32, True)])
def test_projection_head_shapes_and_unit_length(hidden_dim, batch_norm):
    head = ProjectionHead(16, out_dim=8, hidden_dim=hidden_dim, batch_norm=batch_norm)
    out = head(torch.randn(4, 16))
    assert out.shape == (4, 8) and torch.allclose(out.norm(dim=1), torch.ones(4), atol=1e-5)


def test_gem_at_p_1_is_average_pooling_and_learns_p():
    features = torch.rand(2, 5, 4, 3)
    gem = GeM(p=1.0)
    torch.testing.assert_close(gem(features), features.mean(dim=(2, 3)), atol=1e-6, rtol=1e-5)
    assert GeM()(features).shape == (2, 5) and [name for name, _ in GeM().named_parameters()] == ["p"]
    assert torch.all(GeM(p=3.0)(features) >= features.mean(dim=(2, 3)) - 1e-6)  # power means grow with p


def test_gem_pooling_for_cnn_backbones_and_a_clear_refusal_for_a_transformer():
    resnet = TorchvisionBackbone("resnet18", image_size=32, small_input=True, pooling="gem")
    assert resnet(torch.rand(2, 3, 32, 32)).shape == (2, 512)
    assert any(p is resnet.net.avgpool.p for p in resnet.blocks()[-1].parameters())
    timm_cnn = TimmBackbone("test_resnet", pooling="gem")
    assert timm_cnn(torch.rand(1, 3, 64, 64)).shape == (1, timm_cnn.feature_dim)
    with pytest.raises(ConfigError, match="pooling: gem needs a CNN's feature maps"):
        TimmBackbone("test_vit", pooling="gem")
    with pytest.raises(ConfigError, match="pooling 'max'"):
        TorchvisionBackbone("resnet18", pooling="max")


def test_timm_layer_groups_are_its_stages_and_hold_every_parameter_once():
    # layer-wise rates and unlock depths act per stage, as timm's own group_matcher splits the model
    efficientnet = TimmBackbone("test_efficientnet", pooling="gem")
    groups = efficientnet.blocks()
    assert len(groups) == 1 + len(efficientnet.net.blocks) + 1  # stem, each stage (head with the last), GeM
    grouped = [id(p) for group in groups for p in group.parameters()]
    assert sorted(grouped) == sorted(id(p) for p in efficientnet.parameters())
    vit = TimmBackbone("test_vit")  # the position embedding and class token sit in the first group
    assert {id(vit.net.pos_embed), id(vit.net.cls_token)} <= {id(p) for p in vit.blocks()[0].parameters()}


@pytest.mark.parametrize("name", ["test_convnext", "test_efficientnet"])
def test_mid_level_features_come_with_the_backbones_own_pooled_features(name):
    """ConvNeXt normalises its final map in its head: the pooled features beside the mid-level
    ones are still exactly forward's."""
    backbone = TimmBackbone(name, pooling="gem", image_size=64).eval()
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        pooled, mid_level = backbone.with_mid_level(images)
        torch.testing.assert_close(pooled, backbone(images))
    assert mid_level.shape == (2, backbone.mid_level_dim) and backbone.mid_level_dim < backbone.feature_dim
    assert TimmBackbone("test_vit").mid_level_dim is None  # its stages share one resolution
