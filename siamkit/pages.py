"""The self-contained HTML pages siamkit writes (evaluation reports, duplicate groups, matches,
leaks): Jinja2 templates in ``templates/`` on one skeleton (``page.html``), autoescaped, with
images inlined as data URIs so a page makes no external requests."""

from __future__ import annotations

import base64
import functools
import io
from pathlib import Path
from typing import Any

import jinja2
from PIL import Image

from siamkit.data.images import load_image


def write_page(path: Path, template: str, **context: Any) -> None:
    """Renders ``templates/TEMPLATE`` (which extends ``page.html``: it takes ``heading`` and an
    optional ``skipped`` list of ``BadImage``) into ``path``."""
    path.write_text(_environment().get_template(template).render(**context))


def thumbnail_uri(image_path: str, size: int = 96) -> str:
    """The image at most ``size`` px a side, as a PNG data URI."""
    image = Image.fromarray(load_image(image_path))
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return png_uri(buffer.getvalue())


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.PackageLoader("siamkit", "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(thumbnail=thumbnail_uri, png=lambda path: png_uri(Path(path).read_bytes()),
                               file_name=lambda path: Path(path).name)
    return environment
