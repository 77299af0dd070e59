"""What can compute an encoder's embeddings, and how a fine-tuned model's start is named, once for
the library (``siamkit.models.runtime``) and the command line, which offers the names without
importing torch."""

from typing import Literal, get_args

Runtime = Literal["auto", "torch", "onnx", "int8"]
RUNTIMES: tuple[str, ...] = get_args(Runtime)
#: after a fine-tuned model's location: the pretrained network it started from, as it came
START_SUFFIX = "@start"
