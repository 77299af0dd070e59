"""Hub weights on a machine without a network: cached ones load, missing ones fail, both at once."""

import socket

import pytest
import torch
from huggingface_hub import constants
from safetensors.torch import save_file

from siamkit.errors import WeightsNotFoundError
from siamkit.models import OpenClipBackbone, TimmBackbone, TorchvisionBackbone


@pytest.fixture
def no_network(monkeypatch):
    """HF_HUB_OFFLINE unset (as for a user), and no host name resolves; a request that still went
    out would sleep through huggingface_hub's retries, so a sleep fails the test."""
    def unresolvable(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    def no_retries(seconds):
        raise AssertionError(f"waited {seconds}s for a network that is not there")

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(socket, "getaddrinfo", unresolvable)
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", no_retries)


def test_weights_the_hub_cache_holds_load_without_a_network(no_network, monkeypatch, tmp_path):
    import timm

    weights = timm.create_model("test_resnet", num_classes=0).state_dict()
    weights["conv1.0.weight"] = torch.full_like(weights["conv1.0.weight"], 0.25)
    snapshot = tmp_path / "models--timm--test_resnet.r160_in1k" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    save_file(weights, snapshot / "model.safetensors")
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))

    backbone = TimmBackbone("test_resnet", pretrained=True)

    assert torch.all(backbone.net.conv1[0].weight == 0.25)
    assert constants.HF_HUB_OFFLINE is False


@pytest.mark.parametrize("make", [lambda: TimmBackbone("test_resnet", pretrained=True),
                                  lambda: OpenClipBackbone("RN50", pretrained="openai")],
                         ids=["timm", "open_clip"])
def test_weights_missing_from_the_cache_fail_at_once_without_a_network(no_network, monkeypatch, tmp_path,
                                                                        make):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))

    with pytest.raises(WeightsNotFoundError, match="not in the hub cache, and no network to download them"
                                                   r".*in a config `pretrained: FILE`.* by name \w+:"
                                                   ".*need no network.*pretrained: efficientnet-lite0"):
        make()
    assert constants.HF_HUB_OFFLINE is False


def test_torchvision_weights_missing_from_the_cache_fail_at_once_without_a_network(no_network, monkeypatch,
                                                                                    tmp_path, capsys):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    with pytest.raises(WeightsNotFoundError, match="not in the torch hub cache .*, and no network to "
                                                   r"download them from\). Give a local weights file: in a "
                                                   "config `weights: FILE`.*pretrained: efficientnet-lite0"):
        TorchvisionBackbone("resnet18", weights="IMAGENET1K_V1")
    assert "Downloading" not in capsys.readouterr().err, "torch.hub never started"
