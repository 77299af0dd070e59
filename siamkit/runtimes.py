"""What can compute an encoder's embeddings, and how a fine-tuned model's start and a pretrained
network are named, once for the library (``siamkit.models.runtime``) and the command line, which
offers the names without importing torch."""

from pathlib import Path
from typing import Literal, get_args

Runtime = Literal["auto", "torch", "onnx", "int8"]
RUNTIMES: tuple[str, ...] = get_args(Runtime)
#: after a fine-tuned model's location: the pretrained network it started from, as it came
START_SUFFIX = "@start"
#: a pretrained network by name, as it came: ``open_clip:MODEL:TAG``, ``timm:MODEL[:WEIGHTS]``
OPEN_CLIP_PREFIX = "open_clip:"
TIMM_PREFIX = "timm:"


def names_a_network(source: str) -> bool:
    """Whether ``source`` names a pretrained network rather than where an encoder lies."""
    return str(source).startswith((OPEN_CLIP_PREFIX, TIMM_PREFIX))


def encoder_location(source: str) -> str:
    """How an index or a report records an encoder: a location as an absolute path, so it holds
    from any folder; a pretrained network by its name, with a local weights file's path made
    absolute the same way (a tag or a packaged short name stays as it is)."""
    source = str(source)
    if not names_a_network(source):
        return str(Path(source).resolve())
    prefix = OPEN_CLIP_PREFIX if source.startswith(OPEN_CLIP_PREFIX) else TIMM_PREFIX
    model, _, weights = source[len(prefix):].partition(":")
    return f"{prefix}{model}:{Path(weights).resolve()}" if weights and Path(weights).is_file() else source
