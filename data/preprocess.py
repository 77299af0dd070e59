"""``Preprocess``: the one path from an image input to a model's input tensor at inference.

``Encoder.embed``, the collection DataLoader of ``train embed``, ONNX parity checks and the
sentence-transformers module all call it, so a JPEG goes through the same pixels whichever
of them embeds it. JPEGs are decoded at the smallest power-of-two reduction whose shorter
side still covers the model's size (``load_image``'s ``draft_size``): the same result for a
path, bytes, or a PIL image opened from a file and not yet loaded.
"""

from __future__ import annotations

from typing import Iterable

import torch

from siamkit.data.image_config import ImageConfig
from siamkit.data.images import ImageInput, load_image
from siamkit.data.transforms import build_transform


class Preprocess:
    """Image input (path, bytes, PIL image, array, tensor) -> (3, S, S) uint8 tensor, resized and
    centre-cropped per ``config``; ``batch`` stacks them to (B, 3, S, S)."""

    def __init__(self, config: ImageConfig):
        self.config = config
        self.resize = build_transform(config)

    def __call__(self, image: ImageInput) -> torch.Tensor:
        return self.resize(load_image(image, draft_size=self.config.size))

    def batch(self, images: Iterable[ImageInput]) -> torch.Tensor:
        tensors = [self(image) for image in images]
        if not tensors:
            return torch.zeros(0, 3, self.config.size, self.config.size, dtype=torch.uint8)
        return torch.stack(tensors)
