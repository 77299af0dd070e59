"""``EncoderCard``: an encoder folder's ``config.json``, read and written as one typed record.

It says how to rebuild the architecture (``EncoderSpec``), how images are preprocessed, the
embedding size, which weights these are (a fingerprint that indexes store, so a query
embedded by another encoder is refused), where they came from and what they were trained
on, their training metrics, once ``train evaluate --calibrate`` has run the decision
threshold, and after ``train export --quantize int8`` how the int8 model compares.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from siamkit.data.image_config import ImageConfig
from siamkit.data.splits import SplitRecord
from siamkit.errors import SiamkitError
from siamkit.file_writes import write_whole
from siamkit.models.spec import EncoderSpec, ModuleSpec
from siamkit.wording import number

CONFIG_FILE = "config.json"
#: metadata of the exported weights files (model.safetensors, the ONNX files): the preprocessing
#: their input needs, which an edited config.json could otherwise change under the same fingerprint
PREPROCESSING_MARK = "siamkit_preprocessing"
FORMAT = "siamkit-encoder"
VERSION = 2
#: version 1 wrote ``"format": "siamkit-encoder/1"`` and kept a flat threshold; read, never written
_VERSION_1 = "siamkit-encoder/1"


class EncoderFolderError(SiamkitError):
    """An encoder folder or checkpoint that cannot be used."""


@dataclass(frozen=True)
class Calibration:
    """A same / different decision threshold on cosine similarity, and how it was chosen."""

    threshold: float
    rule: str
    data: str
    split: str
    pairs: int
    #: the share of those pairs' non-matches at or above the threshold (None on cards from before
    #: siamkit recorded it)
    false_match_rate: Optional[float] = None


@dataclass(frozen=True)
class Quantization:
    """How ``model.int8.onnx`` was made and how closely it follows the float model: cosine
    between their embeddings, and ROC-AUC of both on labelled validation pairs."""

    file: str
    method: str
    calibration_images: int
    calibration_data: str
    cosine_min: float
    cosine_mean: float
    check_data: str
    check_pairs: int
    roc_auc_float: float
    roc_auc_int8: float


@dataclass
class EncoderCard:
    architecture: EncoderSpec
    preprocessing: ImageConfig
    embedding_dim: int
    fingerprint: Optional[str] = None
    source: Optional[str] = None
    global_step: Optional[int] = None
    #: the data and splits training used (commands that read that data reproduce them)
    trained_on: Optional[SplitRecord] = None
    #: the run's ``data.val_data``, whose val split its validation metrics (and its best
    #: checkpoint) were measured on; None: the val split of ``trained_on``
    validated_on: Optional[str] = None
    metrics: dict[str, float] = field(default_factory=dict)
    calibration: Optional[Calibration] = None
    quantization: Optional[Quantization] = None
    #: the pretrained backbone training started from (its class and arguments, weights named in
    #: them); None for a model trained from scratch
    initialised_from: Optional[ModuleSpec] = None
    #: WiSE-FT: the backbone is (1 - alpha) * start + alpha * fine-tuned (None: not interpolated)
    wise_ft_alpha: Optional[float] = None
    format: str = FORMAT
    version: int = VERSION

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["architecture"] = self.architecture.to_dict()
        values["preprocessing"] = self.preprocessing.to_dict()
        values["initialised_from"] = self.initialised_from.to_dict() if self.initialised_from else None
        values["trained_on"] = self.trained_on.to_dict() if self.trained_on else None
        for name in ("calibration", "quantization"):
            values[name] = dataclasses.asdict(values[name]) if values[name] is not None else None
        return {"format": self.format, "version": self.version,
                **{k: v for k, v in values.items() if k not in ("format", "version")}}

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = CONFIG_FILE) -> "EncoderCard":
        values = dict(values)
        if values.get("format") == _VERSION_1:
            values = _upgrade_version_1(values)
        if values.get("format") != FORMAT or values.get("version") != VERSION or "architecture" not in values:
            raise EncoderFolderError(f"{where} is not a siamkit encoder card (format "
                                     f"{values.get('format')!r} version {values.get('version')!r}, expected "
                                     f"{FORMAT!r} version {VERSION}); export it again with `train export`")
        known = {f.name for f in dataclasses.fields(cls)}
        if unknown := sorted(set(values) - known):
            raise EncoderFolderError(f"{where} has unknown {number(len(unknown), 'field')} "
                                     f"{', '.join(unknown)}; it takes {', '.join(sorted(known))}")
        try:
            values["architecture"] = EncoderSpec.from_dict(values["architecture"], f"{where}: architecture")
            values["preprocessing"] = ImageConfig.from_dict(values["preprocessing"])
            if values.get("initialised_from") is not None:
                values["initialised_from"] = ModuleSpec.from_dict(values["initialised_from"],
                                                                  f"{where}: initialised_from")
            trained = values.get("trained_on")  # cards of checkpoints that named no source: all null
            values["trained_on"] = (SplitRecord.from_dict(trained) if trained and trained.get("source")
                                    else None)
            if values.get("calibration") is not None:
                values["calibration"] = Calibration(**values["calibration"])
            if values.get("quantization") is not None:
                values["quantization"] = Quantization(**values["quantization"])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as error:
            raise EncoderFolderError(f"{where} has a malformed field ({type(error).__name__}: {error}); "
                                     "export the folder again with `train export`") from None

    @classmethod
    def read(cls, folder: Path) -> "EncoderCard":
        path = folder / CONFIG_FILE
        if not path.is_file():
            raise EncoderFolderError(f"{folder} is not an encoder folder: it has no {CONFIG_FILE} "
                                     "(make one with `train export --ckpt CKPT --out DIR`)")
        try:
            values = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise EncoderFolderError(f"{path} is not valid JSON: {error}") from None
        if not isinstance(values, dict):
            raise EncoderFolderError(f"{path} is not a siamkit encoder card (a JSON object); export it again")
        return cls.from_dict(values, str(path))

    def write(self, folder: Path) -> None:
        write_whole(folder / CONFIG_FILE, json.dumps(self.to_dict(), indent=2) + "\n")


def _upgrade_version_1(values: dict[str, Any]) -> dict[str, Any]:
    threshold = values.pop("threshold", None)
    rule = values.pop("threshold_rule", None)
    calibrated = values.pop("calibrated_on", None) or {}
    values["source"] = values.pop("checkpoint", values.get("source"))
    values["calibration"] = None if threshold is None else {
        "threshold": threshold, "rule": rule or "best_f1", "data": calibrated.get("data", "?"),
        "split": calibrated.get("split", "val"), "pairs": calibrated.get("pairs", 0)}
    return {**values, "format": FORMAT, "version": VERSION}
