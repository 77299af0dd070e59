"""Decode any image a user may bring into one format: an (H, W, 3) uint8 RGB array.

Pillow does the decoding; this module adds the policy: EXIF orientation applied, alpha
composited on white, grayscale / palette / 16-bit / float / CMYK converted to 8-bit RGB,
the first frame of animations, and a hard pixel limit against decompression bombs. Arrays are
(H, W[, C]) as Pillow and OpenCV lay them out; torch tensors (C, H, W) as torchvision does. Every
failure is an ``ImageLoadError`` naming the file and the reason.
"""

from __future__ import annotations

import io
import os
import re
import stat
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from siamkit.errors import ConfigError, ImageLoadError

if TYPE_CHECKING:
    import torch

ImageInput = Union[str, os.PathLike, bytes, Image.Image, np.ndarray, "torch.Tensor"]

#: Images with more pixels than this are refused, unless $SIAMKIT_MAX_PIXELS says otherwise
#: (Pillow's own default is 89 million; phones take photographs of 108 and 200 million).
MAX_PIXELS = 64_000_000
MAX_PIXELS_VARIABLE = "SIAMKIT_MAX_PIXELS"


def pixel_limit() -> int:
    """The most pixels an image may have: $SIAMKIT_MAX_PIXELS, else ``MAX_PIXELS``."""
    text = os.environ.get(MAX_PIXELS_VARIABLE)
    if text is None:
        return MAX_PIXELS
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ConfigError(f"{MAX_PIXELS_VARIABLE}={text!r}: give the most pixels an image may have, a whole "
                          f"number >= 1 (e.g. {200_000_000}), or unset it for the default {MAX_PIXELS:_}")
    return limit


def load_image(
    source: ImageInput, *, max_pixels: int | None = None, draft_size: int | None = None
) -> np.ndarray:
    """Decode ``source`` (path, bytes, PIL image, array or torch tensor) to an (H, W, 3) uint8 RGB
    array; ``max_pixels``: ``pixel_limit()`` unless given.

    ``draft_size`` lets JPEG decoding skip detail it would throw away: the image is
    decoded at the smallest power-of-two reduction whose shorter side stays >= draft_size.
    A path, bytes, and a PIL image opened from a JPEG file but not yet loaded decode alike.
    """
    name = _describe(source)
    if is_tensor(source):
        return _array_to_rgb(_tensor_to_array(source, name), name)
    if not isinstance(source, (str, os.PathLike, bytes, Image.Image, np.ndarray)):
        raise TypeError(f"an image is a path, bytes, a PIL image, an array or a torch tensor, not "
                        f"{type(source).__name__}")
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source, name)
    if isinstance(source, (str, os.PathLike)):
        _check_regular_file(Path(source), name)
    max_pixels = pixel_limit() if max_pixels is None else max_pixels
    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > 2 * Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow refuses twice its limit as it opens: ours is asked for
    try:
        with warnings.catch_warnings():
            # max_pixels is the limit (64 M by default, below Pillow's warning at 89 M), said in one line
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = _open(source, draft_size)
        if image is source:  # the caller's image: leave it as it was, and open
            return _decoded(image, max_pixels, draft_size, name, in_place=False)
        with image:  # ours: closed also when it is refused
            return _decoded(image, max_pixels, draft_size, name, in_place=True)
    except ImageLoadError:
        raise
    except FileNotFoundError:
        raise ImageLoadError(name, "file not found") from None
    except IsADirectoryError:
        raise ImageLoadError(name, "is a folder, not an image file") from None
    except UnidentifiedImageError:
        raise ImageLoadError(name, _unidentified_reason(source)) from None
    except Image.DecompressionBombError as error:  # twice Pillow's limit: refused as it opens
        pixels = re.search(r"\((\d+) pixels\)", str(error))
        raise ImageLoadError(name, _too_many_pixels(int(pixels[1]) if pixels else None, max_pixels)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageLoadError(name, f"corrupt or truncated ({error})") from None


def _decoded(image: Image.Image, max_pixels: int, draft_size: int | None, name: str,
             in_place: bool) -> np.ndarray:
    """``image`` as RGB, upright; ``in_place``: it may be turned where it is (it is not the caller's)."""
    _check_size(image, max_pixels, name)
    if draft_size and image.format == "JPEG":
        image.draft("RGB", _draft_target(image.size, draft_size))
    image.seek(0)
    if in_place:
        ImageOps.exif_transpose(image, in_place=True)  # no copy when there is nothing to turn
    else:
        image = ImageOps.exif_transpose(image)
    return _to_rgb(image)


def _check_regular_file(path: Path, name: str) -> None:
    """Refuses what is not a regular file without opening it: reading a named pipe would wait
    forever, a device would never end."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ImageLoadError(name, "file not found" + (url_hint(name) or _windows_path_hint(name))) from None
    except OSError as error:  # a symbolic-link loop, a name too long, no permission ...
        raise ImageLoadError(name, error.strerror or type(error).__name__) from None
    if stat.S_ISDIR(mode):
        raise ImageLoadError(name, "is a folder, not an image file")
    if not stat.S_ISREG(mode):
        kind = "a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise ImageLoadError(name, f"is {kind}, not an image file")


def is_url(text: str) -> bool:
    """``https://...``, ``s3://...``; also as ``Path`` keeps it (``https:/...``), but not ``C:/...``."""
    return re.match(r"[a-z][a-z0-9+.-]+:/", text, re.IGNORECASE) is not None


def url_hint(name: str) -> str:
    """For a URL given where a file or folder goes."""
    if not is_url(name):
        return ""
    return " (a URL: siamkit reads local files and downloads nothing; download it first)"


def _windows_path_hint(name: str) -> str:
    """For a table written on Windows: ``photos\\a.jpg`` names no file here, ``photos/a.jpg`` may."""
    forward = name.replace("\\", "/")
    if forward != name and Path(forward).exists():
        return f" ({forward} is: write / between folders, not \\)"
    return ""


def _open(source: ImageInput, draft_size: int | None) -> Image.Image:
    if isinstance(source, Image.Image):
        if draft_size and source.format == "JPEG" and getattr(source, "tile", None) and source.filename:
            # opened from a file and not decoded yet: open it anew so that drafting (which
            # changes how an image decodes) leaves the caller's image as it was
            return Image.open(source.filename)
        return source
    if isinstance(source, bytes):
        return Image.open(io.BytesIO(source))
    return Image.open(Path(source))


def is_tensor(source: Any) -> bool:
    """Whether ``source`` is a torch tensor, without importing torch (which the classical methods
    never need): a caller that holds a tensor has imported it."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(source, torch.Tensor)


def is_one_image(images: Any) -> bool:
    """Whether ``images``, given where many are taken, is one path, file's bytes or PIL image:
    iterating it would take its characters or bytes for images."""
    return isinstance(images, (str, os.PathLike, bytes, Image.Image))


def refuse_one_image(images: Any, taker: str) -> None:
    """Raises ValueError where ``images``, given to ``taker`` as many images, is one image: one
    path, bytes or PIL image, or an array or tensor that is not a batch (iterating it would take
    its rows, or channels, for images of their own)."""
    if is_one_image(images):
        raise ValueError(f"{taker} takes a sequence of images; got one, {_describe(images)}: pass "
                         "[image, ...]")
    if (isinstance(images, np.ndarray) or is_tensor(images)) and images.ndim != 4:
        kind = "array" if isinstance(images, np.ndarray) else "tensor"
        raise ValueError(f"{taker} takes a sequence of images; got one {kind} of shape "
                         f"{tuple(images.shape)}: pass a batch, (N, H, W, C) as an array or (N, C, H, W) as "
                         "a tensor, or [image]")


def _describe(source: ImageInput) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {source.shape} {source.dtype}>"
    if is_tensor(source):
        return f"<tensor {tuple(source.shape)} {source.dtype}>"
    if isinstance(source, Image.Image):
        return f"<PIL image {source.mode} {source.size}>"
    return f"<{type(source).__name__}>"


def _unidentified_reason(source: ImageInput) -> str:
    if isinstance(source, (str, os.PathLike)) and Path(source).stat().st_size == 0:
        return "empty file (0 bytes)"
    if isinstance(source, bytes) and not source:
        return "empty input (0 bytes)"
    return "not an image Pillow can decode"


def _check_size(image: Image.Image, max_pixels: int, name: str) -> None:
    width, height = image.size
    if width * height == 0:
        raise ImageLoadError(name, f"{width}x{height} pixels: the image has none")
    if width * height > max_pixels:
        raise ImageLoadError(name, _too_many_pixels(width * height, max_pixels, f"{width}x{height} pixels"))


def _too_many_pixels(pixels: int | None, max_pixels: int, size: str | None = None) -> str:
    size = size or (f"{pixels:,} pixels" if pixels else "more pixels than Pillow opens")
    return (f"{size} exceeds the limit of {max_pixels:,} (a decompression bomb? For photographs this large: "
            f"{MAX_PIXELS_VARIABLE}={pixels or 2 * max_pixels})")


def _draft_target(size: tuple[int, int], draft_size: int) -> tuple[int, int]:
    width, height = size
    scale = draft_size / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _array_to_rgb(np.asarray(image), "")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.array(image)  # writable, unlike np.asarray's view of Pillow's buffer


def _tensor_to_array(tensor: "torch.Tensor", name: str) -> np.ndarray:
    """(C, H, W) with 1, 3 or 4 channels, or (H, W), on any device -> the (H, W[, C]) array."""
    if tensor.ndim == 3 and tensor.shape[0] in (1, 3, 4):
        tensor = tensor.permute(1, 2, 0)
    elif tensor.ndim != 2:
        raise ImageLoadError(name, f"tensor of shape {tuple(tensor.shape)} is not an image ((C, H, W) with "
                                   "1, 3 or 4 channels, or (H, W))")
    tensor = tensor.detach().cpu()
    if tensor.is_floating_point() and tensor.element_size() < 4:  # numpy has no bfloat16
        tensor = tensor.float()
    return tensor.numpy()


def _array_to_rgb(array: np.ndarray, name: str) -> np.ndarray:
    """(H, W), (H, W, 1|3|4) of any numeric dtype -> (H, W, 3) uint8."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        channels_first = array.ndim == 3 and array.shape[0] in (1, 3, 4)
        hint = (" (channels first? a torch tensor is read as (C, H, W), an array as (H, W, C))"
                * channels_first)
        raise ImageLoadError(name, f"array of shape {array.shape} is not an image (H, W[, 3|4]){hint}")
    if array.size == 0:
        raise ImageLoadError(name, f"array of shape {array.shape} has no pixels")
    if not (array.dtype == bool or np.issubdtype(array.dtype, np.integer)
            or np.issubdtype(array.dtype, np.floating)):
        raise ImageLoadError(name, f"array of dtype {array.dtype} is not an image (integers, floats "
                                   "or booleans expected)")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise ImageLoadError(name, "array holds NaN or infinite values")
    if np.issubdtype(array.dtype, np.floating) and array.min(initial=0) < 0:
        raise ImageLoadError(name, "holds negative values, as a normalised input would: pass the image as it "
                                   "was before normalisation (0-1 or 0-255); a model normalises it itself")
    if array.dtype != np.uint8:
        array = _rescale_to_uint8(array)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float32) / 255.0
        array = (array[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(array)


def _rescale_to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        top = 1.0 if array.max(initial=0) <= 1.0 else float(array.max())
        return np.clip(array / top * 255.0, 0, 255).round().astype(np.uint8)
    if array.dtype == np.uint16 or array.max(initial=0) > 255:
        return (array.astype(np.float64) / 65535.0 * 255.0).round().clip(0, 255).astype(np.uint8)
    return array.clip(0, 255).astype(np.uint8)
