"""A sentence-transformers module around an Encoder, so that an encoder folder also loads as
``SentenceTransformer(DIR, trust_remote_code=True)`` and ``encode(images)`` gives siamkit's
embeddings (``util.cos_sim`` and ``util.semantic_search`` then work as in the seed article).

sentence-transformers >= 6 imports a module class from outside its own package only with
``trust_remote_code=True``, even when the package is installed locally: that flag is the
user's consent to run siamkit's code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Module

from siamkit.models.card import EncoderCard, EncoderFolderError
from siamkit.models.encoder import Encoder
from siamkit.models.folder_checks import WEIGHTS_FILE, fingerprint


class SiamkitImageModule(Module):
    """Images (paths, PIL, arrays) -> ``sentence_embedding`` (B, E), L2-normalised, through
    ``Encoder.preprocess``: the same pixels as ``Encoder.embed``."""

    modalities = ["image"]
    save_in_root = True

    def __init__(self, encoder: Encoder):
        super().__init__()
        self.encoder = encoder

    def preprocess(self, inputs: list[Any], **kwargs: Any) -> dict[str, torch.Tensor]:
        return {"pixel_values": self.encoder.preprocess.batch(inputs)}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        features["sentence_embedding"] = self.encoder(features["pixel_values"])
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return self.encoder.embedding_dim

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        """The encoder folder is the module's folder: written there (``SentenceTransformer.save``,
        ``push_to_hub``), unless it already holds these weights, as after ``train export``."""
        folder = Path(output_path)
        if not _holds(folder, self.encoder):
            self.encoder.save(folder)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any) -> "SiamkitImageModule":
        return cls(Encoder.load(Path(model_name_or_path) / subfolder))


def _holds(folder: Path, encoder: Encoder) -> bool:
    """Whether ``folder`` is an encoder folder of these very weights (computed afresh: weights
    trained further in sentence-transformers keep the fingerprint read with the folder)."""
    try:
        card = EncoderCard.read(folder)
    except EncoderFolderError:
        return False
    return (folder / WEIGHTS_FILE).is_file() and card.fingerprint == fingerprint(encoder)


MODEL_CARD = """\
---
library_name: sentence-transformers
pipeline_tag: image-feature-extraction
tags: [siamkit, image-similarity]
---

# siamkit image encoder

{description}.

An image encoder exported by siamkit (`train export`):
images in, L2-normalised embeddings out, compared by cosine. `config.json` is its card (what it
was trained on and started from, its preprocessing, a calibrated threshold where it has one).

```python
from sentence_transformers import SentenceTransformer, util

# trust_remote_code runs siamkit's image module, so siamkit must be installed
model = SentenceTransformer("{path}", trust_remote_code=True)
embeddings = model.encode(["a.jpg", "b.jpg"])  # paths, PIL images or arrays
print(util.cos_sim(embeddings[0], embeddings[1]))
```

sentence-transformers reads a string as an image path only when it names a file that exists and
ends in .jpg, .jpeg, .png, .gif, .bmp, .tiff or .webp; any other string is text, which this model
refuses ("Modality 'text' is not supported"). Pass other images (.tif, .jfif, .avif) as
`pathlib.Path` or PIL images.

With siamkit alone: `train score a.jpg b.jpg -m {path}`, or
`siamkit.load_encoder("{path}").embed(["a.jpg", "b.jpg"])`.
"""


def save_sentence_transformers_layout(encoder: Encoder, folder: str | Path, description: str,
                                      path: str) -> None:
    """Adds sentence-transformers' files (modules.json, its config) to a saved encoder folder, and
    a model card (README.md) of images, where sentence-transformers' own shows text; ``path`` is
    the folder's name in the card's examples."""
    SentenceTransformer(modules=[SiamkitImageModule(encoder)], device="cpu").save(str(folder),
                                                                                create_model_card=False)
    (Path(folder) / "README.md").write_text(MODEL_CARD.format(description=description, path=path))
