"""ONNX export of an Encoder, checked against PyTorch before it is kept.

The graph takes ``images`` (B, 3, S, S) uint8, RGB, resized and centre-cropped as the
folder's config.json says (by ``Encoder.preprocess``, as ``Encoder.embed`` does; the mean / std normalisation
is inside the graph; the file's ``siamkit_input`` says how in words), and returns ``embeddings``
(B, E), L2-normalised; the batch size is dynamic.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from siamkit.data.image_config import ImageConfig, input_description
from siamkit.data.images import ImageInput
from siamkit.errors import SiamkitError
from siamkit.models.card import PREPROCESSING_MARK
from siamkit.models.encoder import Encoder
from siamkit.models.runtime import FINGERPRINT_KEY, ONNX_FILES

ONNX_FILE = ONNX_FILES["onnx"]
MAX_COSINE_DIFFERENCE = 1e-4
INPUT_KEY = "siamkit_input"


class ExportParityError(SiamkitError):
    """The exported ONNX model does not reproduce PyTorch's embeddings."""


def export_onnx(encoder: Encoder, folder: str | Path, images: Sequence[ImageInput]) -> float:
    """Writes ``folder/model.onnx`` and returns the largest cosine difference between
    onnxruntime's and PyTorch's embeddings of ``images``; above 1e-4 the file is removed
    and ``ExportParityError`` raised."""
    path = Path(folder) / ONNX_FILE
    encoder = encoder.cpu().eval()
    size = encoder.image_config.size
    with warnings.catch_warnings():
        # the TorchScript exporter: torch's newer dynamo exporter needs onnxscript, not a dependency
        warnings.simplefilter("ignore")
        torch.onnx.export(encoder, (torch.zeros(2, 3, size, size, dtype=torch.uint8),), str(path),
                          input_names=["images"],
                          output_names=["embeddings"], opset_version=17, dynamo=False,
                          dynamic_axes={"images": {0: "batch"}, "embeddings": {0: "batch"}})
    mark_onnx(path, encoder.fingerprint, encoder.image_config)
    difference = onnx_parity(encoder, path, images)
    if not difference <= MAX_COSINE_DIFFERENCE:
        path.unlink()
        raise ExportParityError(
            f"the ONNX export of this encoder does not match PyTorch: cosine difference {difference:.2e} > "
            f"{MAX_COSINE_DIFFERENCE:.0e} on sample images, so {path.name} was not kept. Export without "
            "--onnx, or report the backbone (an operator onnxruntime computes differently)."
        )
    return difference


def mark_onnx(path: Path, fingerprint: str, preprocessing: ImageConfig) -> None:
    """Records in the ONNX file which weights it computes and how its input images were resized
    (``OnnxEncoder`` checks both against the folder's config.json), and that resize in words
    (``siamkit_input``) for those who run the file without siamkit."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    model.metadata_props.add(key=FINGERPRINT_KEY, value=fingerprint)
    model.metadata_props.add(key=PREPROCESSING_MARK, value=preprocessing.to_json())
    model.metadata_props.add(key=INPUT_KEY, value=input_description(preprocessing))
    onnx.save(model, str(path))


def onnx_parity(encoder: Encoder, path: str | Path, images: Sequence[ImageInput]) -> float:
    """Largest 1 - cos(onnxruntime embedding, PyTorch embedding) over ``images``."""
    import onnxruntime

    batch = encoder.preprocess.batch(images)
    with torch.inference_mode():
        expected = encoder(batch).numpy().astype(np.float64)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    actual = session.run(["embeddings"], {"images": batch.numpy()})[0].astype(np.float64)
    cosine = (expected * actual).sum(1) / (np.linalg.norm(expected, axis=1) * np.linalg.norm(actual, axis=1))
    return float(np.max(1.0 - cosine))


def sample_images() -> list[np.ndarray]:
    """Real photographs that ship with scikit-image, plus flat and noise images: what
    export checks parity on."""
    from skimage import data

    rng = np.random.default_rng(0)
    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(),
            np.full((64, 64, 3), 200, np.uint8), rng.integers(0, 256, (96, 80, 3), dtype=np.uint8)]
