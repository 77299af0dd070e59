"""``EmbeddingJournal``: what an embedding run has finished, on disk, batch by batch.

It lives in ``INDEX/partial/`` while a run is under way: ``vectors.f32`` (raw float32 rows,
appended as each batch finishes), ``log.jsonl`` (one line per image, in order: its file and
either that it has a row or why it was skipped; paths relative to the index folder, as
``index_paths`` says) and ``journal.json`` (the encoder's
fingerprint and the embedding size). A batch's rows are written and flushed before its log
lines, so the log says what is done: a crash, a bad file or Ctrl-C loses at most the batch
in flight, whose surplus bytes the next run cuts off.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from siamkit.data.bad_images import BadImage
from siamkit.retrieval.index_paths import reached, stored

JOURNAL_DIR = "partial"
_VECTORS, _LOG, _META = "vectors.f32", "log.jsonl", "journal.json"


@dataclass
class EmbeddingJournal:
    folder: Path
    dim: int
    files: list[str] = field(default_factory=list)  # images with a row, in row order
    skipped: list[BadImage] = field(default_factory=list)

    @classmethod
    def open(cls, index_folder: Path, fingerprint: str, dim: int) -> "EmbeddingJournal":
        """The journal of an interrupted run by the same encoder, else a new one."""
        folder = index_folder / JOURNAL_DIR
        meta = {"fingerprint": fingerprint, "dim": dim}
        if folder.is_dir() and _read_json(folder / _META) == meta:
            return cls._resume(folder, dim)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / _META).write_text(json.dumps(meta))
        (folder / _VECTORS).touch()
        (folder / _LOG).touch()
        return cls(folder, dim)

    @classmethod
    def _resume(cls, folder: Path, dim: int) -> "EmbeddingJournal":
        """The log's longest prefix of whole, readable lines whose rows are all in vectors.f32;
        anything after it (a line cut off mid-write, a damaged line, rows never written) is
        dropped and embedded again."""
        journal = cls(folder, dim)
        rows = (folder / _VECTORS).stat().st_size // (dim * 4)
        kept = 0
        with open(folder / _LOG, "rb") as log:
            for line in log:
                entry = _log_entry(line)
                if entry is None or (isinstance(entry, str) and len(journal.files) == rows):
                    break
                if isinstance(entry, str):
                    journal.files.append(reached(entry, folder.parent))
                else:
                    journal.skipped.append(BadImage(reached(entry.file, folder.parent), entry.reason))
                kept += len(line)
        with open(folder / _LOG, "r+b") as log:
            log.truncate(kept)
        with open(folder / _VECTORS, "r+b") as vectors:
            vectors.truncate(len(journal.files) * dim * 4)  # rows of a batch whose log was never written
        return journal

    @property
    def done(self) -> set[str]:
        return set(self.files) | {bad.file for bad in self.skipped}

    def append(self, files: list[str], vectors: np.ndarray, skipped: Iterable[BadImage] = ()) -> None:
        """Records one finished batch: its rows first, then the log lines that make them count."""
        skipped = list(skipped)
        with open(self.folder / _VECTORS, "ab") as out:
            out.write(np.ascontiguousarray(vectors, np.float32).tobytes())
            out.flush()
            os.fsync(out.fileno())
        index = self.folder.parent
        lines = ([json.dumps({"file": stored(f, index)}) for f in files]
                 + [json.dumps({**bad.to_dict(), "file": stored(bad.file, index)}) for bad in skipped])
        with open(self.folder / _LOG, "a") as log:
            log.write("".join(line + "\n" for line in lines))
            log.flush()
            os.fsync(log.fileno())
        self.files += files
        self.skipped += skipped

    def vectors(self) -> np.ndarray:
        """(rows, dim) float32, memory-mapped."""
        if not self.files:
            return np.zeros((0, self.dim), np.float32)
        return np.memmap(self.folder / _VECTORS, np.float32, "r", shape=(len(self.files), self.dim))

    def remove(self) -> None:
        shutil.rmtree(self.folder)


def _log_entry(line: bytes) -> str | BadImage | None:
    """A whole log line's file with a row (``{"file"}``), or its ``BadImage`` (``{"file", "reason"}``,
    ``"error"`` before); None for a cut-off or damaged line."""
    try:
        entry = json.loads(line) if line.endswith(b"\n") else None
    except ValueError:
        return None
    if not (isinstance(entry, dict) and isinstance(entry.get("file"), str)):
        return None
    why = entry.get("reason", entry.get("error"))
    if why is None:
        return entry["file"]
    return BadImage(entry["file"], why) if isinstance(why, str) else None


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
