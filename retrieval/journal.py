"""``EmbeddingJournal``: what an embedding run has finished, on disk, batch by batch.

It lives in ``INDEX/partial/`` while a run is under way: ``vectors.f32`` (raw float32 rows,
appended as each batch finishes), ``log.jsonl`` (one line per image, in order: its file, its
``file_stamps`` stamp, and either that it has a row or why it was skipped; paths relative to the
index folder, as ``index_paths`` says) and ``journal.json`` (the encoder's fingerprint and the
embedding size). A file changed since its line was written is embedded again, and its later line
is the one that counts. A batch's rows are written and flushed before its log
lines, so the log says what is done: a crash, a bad file or Ctrl-C loses at most the batch
in flight, whose surplus bytes the next run cuts off.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from siamkit.data.bad_images import BadImage
from siamkit.data.file_stamps import Stamp, stamp_from
from siamkit.retrieval.index_paths import reached, same_file, stored

JOURNAL_DIR = "partial"
_VECTORS, _LOG, _META = "vectors.f32", "log.jsonl", "journal.json"


@dataclass(frozen=True)
class Entry:
    """A file's latest line: its row, or why it was passed over; and its stamp when it was listed
    (None in a line written before siamkit kept stamps)."""

    stamp: Stamp | None
    row: int | None = None
    bad: BadImage | None = None


@dataclass
class EmbeddingJournal:
    folder: Path
    dim: int
    files: list[str] = field(default_factory=list)  # the file of each row, in row order
    row_stamps: list[Stamp | None] = field(default_factory=list)
    latest: dict[str, Entry] = field(default_factory=dict)  # by ``same_file``

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
                if entry is None or (entry[2] is None and len(journal.files) == rows):
                    break
                file, stamp, reason = entry
                file = reached(file, folder.parent)
                if reason is None:
                    journal._add_row(file, stamp)
                else:
                    journal.latest[same_file(file)] = Entry(stamp, bad=BadImage(file, reason))
                kept += len(line)
        with open(folder / _LOG, "r+b") as log:
            log.truncate(kept)
        with open(folder / _VECTORS, "r+b") as vectors:
            vectors.truncate(len(journal.files) * dim * 4)  # rows of a batch whose log was never written
        return journal

    def holds(self, path: str, stamp: Stamp | None) -> bool:
        """Whether the file at ``path``, as stamped now, needs no embedding: it was embedded or
        passed over unchanged since (a line without a stamp is taken as unchanged)."""
        entry = self.latest.get(same_file(path))
        return entry is not None and entry.stamp in (None, stamp)

    def append(self, files: list[str], vectors: np.ndarray, skipped: Iterable[BadImage] = (),
               stamps: Mapping[str, Stamp | None] | None = None) -> None:
        """Records one finished batch: its rows first, then the log lines that make them count.
        ``stamps`` are the files' stamps when they were listed, by ``same_file``."""
        skipped, stamps = list(skipped), stamps or {}
        with open(self.folder / _VECTORS, "ab") as out:
            out.write(np.ascontiguousarray(vectors, np.float32).tobytes())
            out.flush()
            os.fsync(out.fileno())
        index = self.folder.parent
        lines = ([{"file": stored(f, index), "stamp": stamps.get(same_file(f))} for f in files]
                 + [{**bad.to_dict(), "file": stored(bad.file, index),
                     "stamp": stamps.get(same_file(bad.file))} for bad in skipped])
        with open(self.folder / _LOG, "a") as log:
            log.write("".join(json.dumps(line) + "\n" for line in lines))
            log.flush()
            os.fsync(log.fileno())
        for file in files:
            self._add_row(file, stamps.get(same_file(file)))
        for bad in skipped:
            self.latest[same_file(bad.file)] = Entry(stamps.get(same_file(bad.file)), bad=bad)

    def _add_row(self, file: str, stamp: Stamp | None) -> None:
        self.latest[same_file(file)] = Entry(stamp, row=len(self.files))
        self.files.append(file)
        self.row_stamps.append(stamp)

    def vectors(self) -> np.ndarray:
        """(rows, dim) float32, memory-mapped."""
        if not self.files:
            return np.zeros((0, self.dim), np.float32)
        return np.memmap(self.folder / _VECTORS, np.float32, "r", shape=(len(self.files), self.dim))

    def remove(self) -> None:
        shutil.rmtree(self.folder)


def _log_entry(line: bytes) -> tuple[str, Stamp | None, str | None] | None:
    """A whole log line's file, stamp, and why it was passed over (``"reason"``, ``"error"`` before;
    None for a file with a row); None for a cut-off or damaged line."""
    try:
        entry = json.loads(line) if line.endswith(b"\n") else None
    except ValueError:
        return None
    if not (isinstance(entry, dict) and isinstance(entry.get("file"), str)):
        return None
    why = entry.get("reason", entry.get("error"))
    if why is not None and not isinstance(why, str):
        return None
    return entry["file"], stamp_from(entry.get("stamp")), why


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
