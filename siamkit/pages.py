"""Pieces of the self-contained HTML pages siamkit writes (evaluation reports, duplicate
groups): images inlined as data URIs, so a page makes no external requests."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from PIL import Image

from siamkit.data.images import load_image


def thumbnail(image_path: str, size: int = 96) -> str:
    """An ``<img>`` of the image at most ``size`` px a side, inlined as PNG."""
    image = Image.fromarray(load_image(image_path))
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return (f"<img alt='{html.escape(Path(image_path).name)}' title='{html.escape(image_path)}' "
            f"src='data:image/png;base64,{base64_text(buffer.getvalue())}'>")


def base64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
