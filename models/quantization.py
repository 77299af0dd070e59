"""int8 encoders: onnxruntime's static quantization of ``model.onnx`` into ``model.int8.onnx``,
kept only when it ranks labelled pairs as well as the float model.

Static quantization (QDQ format, int8 weights per output channel, uint8 activations) is the
form onnxruntime runs fastest on CPUs with integer dot-product instructions. The weights use 7 of
the 8 bits (``reduce_range``): CPUs without VNNI (AVX2, early AVX-512) add pairs of uint8 x int8
products in 16 bits, which saturate at full range; a fine-tuned EfficientNet-Lite0 quantized on
an AVX2 machine then embedded some images at cosine 0.37 to float and lost 0.0065 of val
ROC-AUC (0.0039 with 7 bits, at the same speed; docs/benchmarks.md). A file made on one machine
runs on others, so every file gets the 7 bits. Activation ranges
come from the calibration images' 99.999th percentiles, which follow the float model more
closely than min / max (measured in docs/benchmarks.md); the projection head stays in float (a
few thousandths of the compute, and its error lands directly on the embedding), and so does
the arithmetic on tensor shapes (e.g. the padding timm's "same"-padded convolutions work out at
run time, which int8 would round into wrong pad widths: a fine-tuned EfficientNet-Lite0 lost
0.19 of val ROC-AUC that way, none without it; docs/benchmarks.md). The int8
model is then checked against the float one: cosine between their embeddings of the
calibration and check images, and ROC-AUC of both on the check pairs. A drop of more than
``MAX_ROC_AUC_DROP`` removes the file (``Int8RanksWorse``).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

from siamkit.data.images import ImageInput
from siamkit.errors import SiamkitError
from siamkit.models.card import EncoderFolderError, Quantization
from siamkit.models.onnx_export import mark_onnx
from siamkit.models.runtime import ONNX_FILES, OnnxEncoder

MAX_ROC_AUC_DROP = 0.005
#: the operators whose int8 kernels make the speed
INT8_OPERATORS = {"Conv", "ConvTranspose", "Gemm", "MatMul"}
CALIBRATION_BATCH = 16


class QuantizationError(SiamkitError):
    """The encoder cannot be quantized, or its int8 model ranks pairs worse than allowed."""


class Int8RanksWorse(QuantizationError):
    """The int8 model was made, and ranks the check pairs worse than allowed: it is not kept."""


def quantize_int8(folder: str | Path, calibration: Sequence[ImageInput], calibration_data: str,
                  pairs: tuple[Sequence[str], Sequence[str], np.ndarray], check_data: str,
                  max_roc_auc_drop: float | None = None) -> Quantization:
    """Writes ``folder/model.int8.onnx`` from ``folder/model.onnx`` and records the comparison in
    ``config.json``. ``pairs``: (a paths, b paths, labels) of labelled validation pairs;
    ``max_roc_auc_drop``: ``MAX_ROC_AUC_DROP`` unless given."""
    allowed = MAX_ROC_AUC_DROP if max_roc_auc_drop is None else max_roc_auc_drop
    folder = Path(folder)
    if not calibration:
        raise QuantizationError(f"no calibration images from {calibration_data}")
    try:
        float_encoder = OnnxEncoder(folder, "onnx")
    except EncoderFolderError as problem:
        raise QuantizationError(f"int8 starts from the float model: {problem}") from None
    # onnxruntime's calibrator stacks the batches' outputs, so every batch must be the same size
    calibration = calibration[:max(len(calibration) // CALIBRATION_BATCH, 1) * CALIBRATION_BATCH]
    card = float_encoder.card
    target = folder / ONNX_FILES["int8"]
    _quantize(folder / ONNX_FILES["onnx"], target, float_encoder, calibration)
    mark_onnx(target, card.fingerprint, card.preprocessing)
    int8_encoder = OnnxEncoder(folder, "int8")
    a, b, labels = pairs
    images = list(dict.fromkeys([*a, *b]))
    position = {image: i for i, image in enumerate(images)}
    rows = [position[image] for image in a], [position[image] for image in b]
    checked = [*calibration, *images]
    reference = float_encoder.embed(checked, progress="checking int8: the float model")
    quantized = int8_encoder.embed(checked, progress="checking int8: the int8 model")
    cosine = (reference * quantized).sum(1)
    roc = [_roc_auc(embeddings[len(calibration):], rows, labels) for embeddings in (reference, quantized)]
    record = Quantization(target.name, "static", len(calibration), calibration_data, float(cosine.min()),
                          float(cosine.mean()), check_data, len(labels), *roc)
    if roc[0] - roc[1] > allowed:
        target.unlink()
        raise Int8RanksWorse(
            f"the int8 model's ROC-AUC on {len(labels):,} val pairs of {check_data} is {roc[1]:.4f}, "
            f"{roc[0] - roc[1]:.4f} below the float model's {roc[0]:.4f} (allowed: {allowed}), so "
            f"{target.name} was not kept: use the float model")
    card.quantization = record
    card.write(folder)
    return record


def _quantize(source: Path, target: Path, float_encoder: OnnxEncoder,
              calibration: Sequence[ImageInput]) -> None:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = (float_encoder.preprocess.batch(calibration[start:start + CALIBRATION_BATCH])
                            for start in range(0, len(calibration), CALIBRATION_BATCH))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"images": batch.numpy()}

    source = source.resolve()  # before the working directory changes below
    with tempfile.TemporaryDirectory(prefix="siamkit-quantize-") as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        try:
            # auto_merge: a multi-scale encoder's resize sizes come from its input's shape, which
            # symbolic shape inference cannot follow without merging the dimensions it names. In the
            # scratch folder: on a graph it cannot finish, it saves a copy into the working directory
            with contextlib.chdir(scratch):
                quant_pre_process(str(source), str(prepared), auto_merge=True)
        except Exception as error:  # onnxruntime raises many types for a graph it cannot handle
            raise QuantizationError(f"onnxruntime cannot prepare this encoder's graph for quantization "
                                    f"({type(error).__name__}: {error}); export without --quantize") from None
        graph = onnx.load(str(prepared)).graph
        nodes = graph.node
        in_float = [node.name for node in nodes if node.name.startswith("/head/")] + _shape_arithmetic(graph)
        if not any(node.op_type in INT8_OPERATORS and node.name not in in_float for node in nodes):
            raise QuantizationError("this encoder's backbone has no operator onnxruntime computes in int8 "
                                    f"({', '.join(sorted(INT8_OPERATORS))}), so int8 would gain nothing; "
                                    "export without --quantize")
        try:  # its percentile calibrator prints its settings to stdout: not for the user
            with contextlib.redirect_stdout(io.StringIO()):
                quantize_static(str(prepared), str(target), Reader(), quant_format=QuantFormat.QDQ,
                                per_channel=True, reduce_range=True,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                calibrate_method=CalibrationMethod.Percentile, nodes_to_exclude=in_float)
        except Exception as error:
            target.unlink(missing_ok=True)
            raise QuantizationError(f"onnxruntime cannot quantize this encoder's graph "
                                    f"({type(error).__name__}: {error}); export without --quantize") from None


def _roc_auc(embeddings: np.ndarray, rows: tuple[list[int], list[int]], labels: np.ndarray) -> float:
    scores = (embeddings[rows[0]] * embeddings[rows[1]]).sum(1)
    return float(roc_auc_score(labels, scores))


def _shape_arithmetic(graph) -> list[str]:
    """The nodes that compute from tensor shapes only (``Shape`` and what follows from it and
    constants), in graph order: quantizing them would round sizes, not activations."""
    constant = {tensor.name for tensor in graph.initializer}
    from_shapes: set[str] = set()
    names = []
    for node in graph.node:  # ONNX lists nodes in topological order
        if node.op_type == "Constant":
            constant.update(node.output)
            continue
        data = [name for name in node.input if name and name not in constant]
        if node.op_type == "Shape" or (data and all(name in from_shapes for name in data)):
            from_shapes.update(node.output)
            names.append(node.name)
    return names
