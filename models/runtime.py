"""Choosing what computes an encoder folder's embeddings: PyTorch (``Encoder``) or
onnxruntime (``OnnxEncoder``) on ``model.onnx`` or its int8 quantization ``model.int8.onnx``.

Each ONNX file carries the fingerprint of the weights it was exported from (ONNX metadata
``siamkit_fingerprint``), so a file left behind by an earlier export is never used for
weights it does not match, and the preprocessing its input images need
(``siamkit_preprocessing``, as ``model.safetensors`` does): the resize and crop happen before the
graph, as config.json says, so an edited config.json would otherwise change the embeddings under
the same fingerprint.

``auto`` takes onnxruntime on ``model.onnx`` when the folder has a matching one and the device
is the CPU (its embeddings agree with PyTorch's to 1e-4 in cosine), else PyTorch. int8 changes
the embeddings (by as much as ``train export --quantize int8`` recorded), so it is only used
when asked for; its fingerprint is the weights' with ``+int8``, so an index never mixes it
with float embeddings.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np
import torch

from siamkit.data.preprocess import Preprocess
from siamkit.errors import ConfigError
from siamkit.models.card import CONFIG_FILE, PREPROCESSING_MARK, EncoderCard, EncoderFolderError
from siamkit.models.embedder import Embedder
from siamkit.runtimes import (
    OPEN_CLIP_PREFIX,
    RUNTIMES,
    START_SUFFIX,
    TIMM_PREFIX,
    Runtime,
    names_a_network,
)

if TYPE_CHECKING:
    import onnxruntime

ONNX_FILES = {"onnx": "model.onnx", "int8": "model.int8.onnx"}
FINGERPRINT_KEY = "siamkit_fingerprint"


class OnnxEncoder(Embedder):
    """An encoder folder's ONNX model, run by onnxruntime on the CPU; embeds like ``Encoder``.

    Args:
        folder: the encoder folder (``train export --onnx`` / ``--quantize int8``).
        runtime: "onnx" (``model.onnx``) or "int8" (``model.int8.onnx``).
        threads: onnxruntime's intra-op threads (default: torch's thread count).
    """

    def __init__(self, folder: str | Path, runtime: str = "onnx", threads: Optional[int] = None):
        import onnxruntime

        folder = Path(folder)
        self.card = EncoderCard.read(folder)
        self.runtime = runtime
        self.path = folder / ONNX_FILES[runtime]
        again = f"export the folder again with {'--quantize int8' if runtime == 'int8' else '--onnx'}"
        if not self.path.is_file():
            other = "onnx" if (folder / ONNX_FILES["onnx"]).is_file() else "torch"
            hint = ("export writes it with --quantize int8 where int8 ranks the val pairs as float does (its "
                    f"note says when not); else use --runtime {other}" if runtime == "int8" else again)
            raise EncoderFolderError(f"{folder} has no {self.path.name}; {hint}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(str(self.path), options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own types for a damaged file
            raise EncoderFolderError(f"{self.path} cannot be read ({type(error).__name__}); "
                                     f"{again}") from None
        _check_fits_card(self.path, self.card, self.session, again)
        self.preprocess = Preprocess(self.card.preprocessing)

    @property
    def embedding_dim(self) -> int:
        return self.card.embedding_dim

    @property
    def fingerprint(self) -> str:
        return self.card.fingerprint + ("+int8" if self.runtime == "int8" else "")

    def embed_batch(self, images: torch.Tensor) -> np.ndarray:
        return self.session.run(["embeddings"], {"images": images.numpy()})[0]


def _check_fits_card(path: Path, card: EncoderCard, session: onnxruntime.InferenceSession,
                     again: str) -> None:
    """An ONNX file computes what its folder's config.json describes, or is refused."""
    marks = session.get_modelmeta().custom_metadata_map
    written_for = marks.get(FINGERPRINT_KEY)
    if written_for != card.fingerprint:
        raise EncoderFolderError(
            f"{path} was exported from other weights (fingerprint {written_for}, {CONFIG_FILE} "
            f"says {card.fingerprint}): it is stale; {again}" if written_for else
            f"{path} was written before siamkit recorded which weights an ONNX file computes; "
            f"{again}")
    written_with, described = marks.get(PREPROCESSING_MARK), card.preprocessing.to_json()
    if written_with != described:
        raise EncoderFolderError(
            f"{path.parent / CONFIG_FILE}: preprocessing {described} is not what "
            f"{path.name} was exported for ({written_with}); the folder was edited or mixes two "
            f"exports; {again}" if written_with else
            f"{path} was written before siamkit recorded which preprocessing an ONNX file "
            f"expects; {again}")
    width = session.get_outputs()[0].shape[-1]  # a name where the graph leaves the width open
    if isinstance(width, int) and width != card.embedding_dim:
        raise EncoderFolderError(f"{path.parent / CONFIG_FILE}: embedding_dim {card.embedding_dim} does not "
                                 f"match {path.name}'s {width}; the folder was edited or mixes two exports; "
                                 f"{again}")


def load_encoder(source: str | Path, runtime: Runtime = "auto", device: str = "cpu",
                 threads: Optional[int] = None) -> Embedder:
    """An encoder folder, run folder or ``.ckpt`` with the chosen runtime (see the module's
    docstring for ``auto``). onnx and int8 need an encoder folder and the CPU."""
    from siamkit.models.encoder import Encoder

    if runtime not in RUNTIMES:
        raise EncoderFolderError(f"unknown runtime {runtime!r}: use one of {', '.join(RUNTIMES)}")
    if threads:
        torch.set_num_threads(threads)
    if str(source).endswith(START_SUFFIX):
        return _starting_point(str(source), runtime, device)
    if names_a_network(str(source)):
        return _pretrained_network(str(source), runtime, device)
    folder = Path(source)
    is_folder = (folder / CONFIG_FILE).is_file()
    if runtime in ONNX_FILES:
        if device != "cpu":
            raise EncoderFolderError(f"--runtime {runtime} runs on the CPU; use --runtime torch for {device}")
        if not is_folder:
            raise EncoderFolderError(f"--runtime {runtime} needs an encoder folder from `train export` "
                                     f"(with model.onnx); {source} is not one")
        return OnnxEncoder(folder, runtime, threads)
    if runtime == "auto" and device == "cpu" and is_folder and (folder / ONNX_FILES["onnx"]).is_file():
        EncoderCard.read(folder)  # a broken card is the error itself, not a reason to fall back
        try:
            return OnnxEncoder(folder, "onnx", threads)
        except EncoderFolderError as problem:
            print(f"note: {problem}; using PyTorch meanwhile", file=sys.stderr)
    return Encoder.load(source, device=device)


def _pretrained_network(name: str, runtime: Runtime, device: str) -> Embedder:
    """``open_clip:MODEL:TAG`` or ``timm:MODEL[:WEIGHTS]``: the network as it came (its pooled
    features, or CLIP's image embedding), in PyTorch: it has no ONNX file."""
    from siamkit.models.encoder import Encoder

    if runtime in ONNX_FILES:
        raise EncoderFolderError(f"--runtime {runtime}: {name} is a pretrained network as it came, with no "
                                 "ONNX file; use --runtime auto or torch")
    if name.startswith(OPEN_CLIP_PREFIX):
        model_name, _, tag = name[len(OPEN_CLIP_PREFIX):].partition(":")
        if not tag:
            import open_clip

            from siamkit.models.backbones import check_open_clip_model

            check_open_clip_model(model_name)
            tags = ", ".join(open_clip.list_pretrained_tags_by_model(model_name)) or "none"
            raise ConfigError(f"{name} names no pretrained weights, and an untrained CLIP scores nothing: "
                              f"write open_clip:{model_name}:TAG with one of its tags ({tags}) or a local "
                              "weights file")
        return Encoder.from_open_clip(model_name, tag).to(device)
    from siamkit.models.timm_backbone import TimmBackbone

    model_name, _, weights = name[len(TIMM_PREFIX):].partition(":")
    return Encoder(TimmBackbone(model_name, pretrained=weights or True), None).to(device)


def _starting_point(source: str, runtime: Runtime, device: str) -> Embedder:
    """``FOLDER@start``, in PyTorch: a start has no ONNX file of its own."""
    from siamkit.models.encoder import Encoder

    if runtime in ONNX_FILES:
        raise EncoderFolderError(f"--runtime {runtime}: {source} is a pretrained network as it came, with no "
                                 "ONNX file; use --runtime auto or torch")
    return Encoder.load(source, device=device)


def describe(encoder: Embedder) -> str:
    """One line for the log: which runtime embeds, and with how many threads."""
    if isinstance(encoder, OnnxEncoder):
        return (f"runtime: onnxruntime on {encoder.path.name}, "
                f"{encoder.session.get_session_options().intra_op_num_threads} threads")
    return f"runtime: PyTorch, {torch.get_num_threads()} threads (cores here: {os.cpu_count()})"
