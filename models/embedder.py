"""``Embedder``: what every runtime of an encoder shares (PyTorch ``Encoder``, onnxruntime
``OnnxEncoder``): the one ``Preprocess`` and batching from image inputs to embeddings."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Iterable, Optional

import numpy as np
import torch
from PIL import Image

from siamkit.data.image_config import ImageConfig
from siamkit.data.images import ImageInput, is_one_image, refuse_one_image
from siamkit.data.preprocess import Preprocess
from siamkit.progress import progress_bar


class Embedder(ABC):
    """Subclasses set ``preprocess`` and ``card`` and compute ``embed_batch``."""

    #: which runtime computes the embeddings: "torch", "onnx" or "int8"
    runtime: str
    preprocess: Preprocess

    @property
    @abstractmethod
    def embedding_dim(self) -> int: ...

    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """Which weights (and runtime, where it changes the numbers) made an embedding."""

    @abstractmethod
    def embed_batch(self, images: torch.Tensor) -> np.ndarray:
        """(B, 3, S, S) uint8 from ``preprocess`` -> (B, E) float32 unit vectors."""

    @property
    def image_config(self) -> ImageConfig:
        return self.preprocess.config

    @property
    def threshold(self) -> Optional[float]:
        """The calibrated same / different decision threshold on cosine similarity, if set."""
        return self.card.calibration.threshold if self.card.calibration else None

    def embed(self, images: Iterable[ImageInput] | str | os.PathLike | bytes | Image.Image,
              batch_size: int = 64, progress: Optional[str] = None) -> np.ndarray:
        """Images (paths, bytes, PIL images, (H, W, C) arrays, (C, H, W) tensors) -> (N, E) float32
        unit vectors; also an (N, H, W, C) array or (N, C, H, W) tensor; one path, bytes or PIL
        image -> (1, E).
        ``progress``: a progress bar's label (none without one)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be a whole number >= 1, not {batch_size}")
        if is_one_image(images):  # not its characters, each read as a file name
            images = [images]
        refuse_one_image(images, "embed")
        rows, batch = [], []
        total = len(images) if hasattr(images, "__len__") else None
        with progress_bar(total=total, desc=progress, unit="img", disable=progress is None) as bar:
            for image in images:
                batch.append(image)
                if len(batch) == batch_size:
                    rows.append(self.embed_batch(self.preprocess.batch(batch)))
                    bar.update(len(batch))
                    batch = []
            if batch:
                rows.append(self.embed_batch(self.preprocess.batch(batch)))
                bar.update(len(batch))
        if not rows:
            return np.zeros((0, self.embedding_dim), np.float32)
        return np.concatenate(rows)
