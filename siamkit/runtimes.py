"""What can compute an encoder's embeddings, named once for the library (``siamkit.models.runtime``)
and the command line, which offers the names without importing torch."""

from typing import Literal, get_args

Runtime = Literal["auto", "torch", "onnx", "int8"]
RUNTIMES: tuple[str, ...] = get_args(Runtime)
