"""Hub downloads (timm's and open_clip's pretrained weights from Hugging Face, torchvision's from
download.pytorch.org) that give up at once on a machine without a network."""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlparse

_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
NO_NETWORK = "no network to download them from"
#: the end of every message on hub weights that could not be had
OFFLINE_WEIGHTS = ("; ImageNet weights that need no network come with siamkit: TimmBackbone with "
                   "`name: tf_efficientnet_lite0, pretrained: efficientnet-lite0`")


@contextmanager
def hub_downloads() -> Iterator[bool]:
    """Within it, the hub is in offline mode (its cache only) where its host does not resolve;
    it gives whether requests may go out.

    huggingface_hub retries a failed request five times with back-off before it falls back to
    its cache or gives up: about a minute of "Retrying in 8s" lines per file on an offline
    machine, even for weights it has cached. Where the host name does not resolve there is no
    network to wait for. Behind a proxy the proxy resolves it, so nothing is checked there.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or any(os.environ.get(v) for v in _PROXY_VARIABLES) or _resolves(
            urlparse(constants.ENDPOINT).hostname or ""):
        yield not constants.HF_HUB_OFFLINE
        return
    constants.HF_HUB_OFFLINE = True  # read at each request by huggingface_hub's is_offline_mode()
    try:
        yield False
    finally:
        constants.HF_HUB_OFFLINE = False


def torch_hub_can_get(url: str) -> bool:
    """Whether torch.hub can give the file at ``url``: cached, or its host reachable. (torch.hub
    would otherwise print that it is downloading, then fail.)"""
    import torch

    cached = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urlparse(url).path))
    return (os.path.exists(cached) or any(os.environ.get(v) for v in _PROXY_VARIABLES)
            or _resolves(urlparse(url).hostname or ""))


def not_downloaded(error: Exception, online: bool) -> str:
    """Why weights missing from the hub cache could not be had, for an error message."""
    return f"downloading failed: {type(error).__name__}" if online else NO_NETWORK


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, 443)
    except (socket.gaierror, UnicodeError):
        return False
    return True
