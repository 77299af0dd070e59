"""Hugging Face hub downloads (timm's and open_clip's pretrained weights) that give up at once
on a machine without a network."""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlparse

_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


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


def not_downloaded(error: Exception, online: bool) -> str:
    """Why weights missing from the hub cache could not be had, for an error message."""
    return f"downloading failed: {type(error).__name__}" if online else "no network to download them from"


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, 443)
    except (socket.gaierror, UnicodeError):
        return False
    return True
