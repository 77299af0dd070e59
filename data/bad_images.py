"""One record of an image siamkit could not use, from every stage (listing a folder, checking
images before training or evaluation, embedding, hashing), written the same way to JSON, CSV
and HTML (the skipped-files list of every page, ``siamkit/templates/page.html``)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from siamkit.errors import ImageLoadError


@dataclass(frozen=True)
class BadImage:
    file: str
    reason: str

    @classmethod
    def of(cls, error: ImageLoadError) -> "BadImage":
        return cls(error.source, error.reason or str(error))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "BadImage":
        """Also reads the ``{"file", "error"}`` of indexes and journals written before this record."""
        return cls(str(values["file"]), str(values.get("reason", values.get("error", ""))))

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason}


def write_csv(path: Path, records: Iterable[BadImage]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "reason"])
        writer.writerows([record.file, record.reason] for record in records)
