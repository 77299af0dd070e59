"""Embedding a whole image collection with an Encoder: batches decoded in DataLoader workers
through the encoder's ``Preprocess``, a progress bar, every finished batch kept on disk
(``EmbeddingJournal``) so that a crash, a bad file or Ctrl-C loses at most the batch in
flight, and bad images stopping the run or skipped per the data policy.

A rerun continues where the last one stopped; a complete index made by the same encoder is
reused, and only images it lacks, or that changed since (``file_stamps``), are embedded.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from siamkit.data.bad_images import BadImage
from siamkit.data.datasets import fewer_workers
from siamkit.data.file_stamps import Stamp, file_stamp
from siamkit.data.images import url_hint
from siamkit.data.listing import IMAGE_SUFFIXES, find_image_files
from siamkit.data.preprocess import Preprocess
from siamkit.data.scan import BadImagePolicy
from siamkit.errors import ImageLoadError, SiamkitError
from siamkit.folders import holding
from siamkit.internals import workers_share_the_temp_folder
from siamkit.models.embedder import Embedder
from siamkit.progress import progress_bar
from siamkit.retrieval.index import (
    FORMAT,
    META,
    STAMPS,
    EmbeddingIndex,
    IndexFolderError,
    skipped_record,
    write_index,
    write_meta,
)
from siamkit.retrieval.index_paths import same_file
from siamkit.retrieval.journal import JOURNAL_DIR, EmbeddingJournal
from siamkit.wording import counted, none_could_be


@dataclass
class Listing:
    """The images found below a folder, and what was passed over while listing (symbolic-link
    loops, broken links, files of other types), each a ``BadImage``."""

    images: list[str]
    skipped: list[BadImage] = field(default_factory=list)


def list_images(folder: str | Path) -> Listing:
    folder = Path(folder)
    if not folder.is_dir():
        hint = url_hint(str(folder))
        raise SiamkitError(f"image folder {folder} does not exist (or is not a folder){hint}")
    images, skipped = find_image_files(folder)
    if not images:
        raise SiamkitError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
                           + (f"; {len(skipped)} other files were passed over" if skipped else ""))
    return Listing(images, skipped)


class _Images(Dataset):
    """Images through the encoder's ``Preprocess``; an unreadable one comes back as its error
    message."""

    def __init__(self, paths: list[str], preprocess: Preprocess):
        self.paths = paths
        self.preprocess = preprocess
        size = preprocess.config.size
        self.blank = torch.zeros(3, size, size, dtype=torch.uint8)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, Any]:
        try:
            return {"image": self.preprocess(self.paths[i]), "error": ""}
        except ImageLoadError as error:
            return {"image": self.blank, "error": str(error)}


def check_index_destination(out: Path) -> None:
    """An index goes into a new or empty folder, or one that holds an index (or its journal):
    its files.txt and embeddings.npy would overwrite other files of those names."""
    others = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if others and not ((out / META).is_file() or (out / JOURNAL_DIR).is_dir()):
        listed = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
        raise SiamkitError(f"--out {out} holds other files ({listed}) and no index: choose a new or empty "
                           "folder, or an index folder to extend")


def embed_collection(listing: Listing, encoder: Embedder, out: str | Path, encoder_source: str,
                     batch_size: int = 64, num_workers: int = 2,
                     on_bad_image: BadImagePolicy = "error") -> tuple[dict[str, Any], int]:
    """Embeds the listed images into the index folder ``out``; returns its index.json content and
    how many images this call embedded (the others were in the index or its journal already)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with holding(out, "index", f"{out} is being written by another command still running (a `train embed` or "
                               "`train duplicates` into the same index): wait for it to end, or give another "
                               "folder"):
        return _embed_into(out, listing, encoder, encoder_source, batch_size, num_workers, on_bad_image)


def _embed_into(out: Path, listing: Listing, encoder: Embedder, encoder_source: str, batch_size: int,
                num_workers: int, on_bad_image: BadImagePolicy) -> tuple[dict[str, Any], int]:
    complete = _complete_index(out, encoder)
    if complete is not None and not complete.resized_as_today:
        print(f"note: {out} was embedded before siamkit shrank images by area, and its images larger than "
              "the encoder's input embedded aliased: all are embedded again; the old index is kept if you "
              "stop before (Ctrl-C)", file=sys.stderr)
        complete = None
    elif complete is None and (out / META).is_file():
        print(f"note: {out} holds {_other_index(out, encoder)}; it is replaced once this one is complete, "
              "and kept if you stop before (Ctrl-C)", file=sys.stderr)
    stamps = {same_file(path): file_stamp(path) for path in listing.images}
    if complete is not None and not (out / JOURNAL_DIR).exists() and _unchanged(complete, stamps):
        return _with_encoder_at(complete, encoder_source), 0
    journal = EmbeddingJournal.open(out, encoder.fingerprint, encoder.embedding_dim)
    if complete is not None and not journal.latest:  # an existing index to extend or bring up to date
        _take_into(journal, complete)
    _note_unstamped(out, journal, stamps)
    todo = [path for path in listing.images if not journal.holds(path, stamps[same_file(path)])]
    before = len(journal.files)
    try:
        _embed(todo, encoder, journal, batch_size, num_workers, on_bad_image, len(listing.images), stamps)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {counted(len(journal.files), 'embedded image')} kept in {journal.folder}; "
              "run the same command again to continue", file=sys.stderr)
        raise
    _note_left_out(out, journal, stamps)
    rows = np.array(sorted(entry.row for key, entry in journal.latest.items()
                           if key in stamps and entry.row is not None), dtype=np.int64)
    bad = [(entry.bad, entry.stamp or stamps[key]) for key, entry in journal.latest.items()
           if key in stamps and entry.bad is not None]
    if not len(rows):
        first = bad[0][0].reason if bad else "?"
        raise SiamkitError(f"{none_could_be(len(listing.images), 'image', 'read')} ({first}); nothing to "
                           "index")
    meta = {"encoder": encoder_source, "fingerprint": encoder.fingerprint, "runtime": encoder.runtime,
            "dim": encoder.embedding_dim,
            "skipped": [skipped_record(b, None) for b in listing.skipped] + [skipped_record(*b) for b in bad]}
    row_stamps = [stamp or stamps.get(same_file(file))  # a row from before stamps: taken as unchanged
                  for file, stamp in zip(journal.files, journal.row_stamps)]
    write_index(out, journal.vectors(), journal.files, row_stamps, meta, rows)
    embedded = len(journal.files) - before
    journal.remove()
    return json.loads((out / META).read_text()), embedded


def _unchanged(index: EmbeddingIndex, stamps: dict[str, Stamp | None]) -> bool:
    """Whether ``index`` holds, or passed over, exactly the listed images, each as stamped now."""
    held = list(zip(index.files, index.stamps())) + [(bad.file, stamp) for bad, stamp in index.skipped_stamped
                                                      if stamp]  # the others were passed over when listed
    return len(held) == len(stamps) and all(stamp is not None and stamps.get(same_file(file), ()) == stamp
                                            for file, stamp in held)


def _take_into(journal: EmbeddingJournal, index: EmbeddingIndex) -> None:
    """The index's rows and passed-over images, with their stamps, as the journal's first lines."""
    for start in range(0, len(index.files), 100_000):
        files = index.files[start:start + 100_000]
        journal.append(files, index.embeddings[start:start + 100_000],
                       stamps=dict(zip(map(same_file, files), index.stamps(start, start + 100_000))))
    skipped = index.skipped_stamped
    journal.append([], np.zeros((0, journal.dim), np.float32), [bad for bad, _ in skipped],
                   {same_file(bad.file): stamp for bad, stamp in skipped})


def _note_unstamped(out: Path, journal: EmbeddingJournal, stamps: dict[str, Stamp | None]) -> None:
    count = sum(entry.stamp is None for key, entry in journal.latest.items() if key in stamps)
    if count:
        were, are = ("was", "is") if count == 1 else ("were", "are")
        print(f"note: {counted(count, 'image')} in {out} {were} embedded with no readable record of file "
              f"sizes and times (an index from an older siamkit, or a damaged {STAMPS}), and {are} taken as "
              f"unchanged since; from now on a file changed in place is embedded again (remove {out} to "
              "embed them all again now)", file=sys.stderr)


def _note_left_out(out: Path, journal: EmbeddingJournal, stamps: dict[str, Stamp | None]) -> None:
    count = sum(entry.row is not None for key, entry in journal.latest.items() if key not in stamps)
    if count:
        print(f"note: {counted(count, 'image')} in {out} {'is' if count == 1 else 'are'} not among the "
              "images listed now (removed since, or the index was made from another folder) and left out: "
              "an index holds the images of the folder it is made from", file=sys.stderr)


def _with_encoder_at(index: EmbeddingIndex, encoder_source: str) -> dict[str, Any]:
    """The index's meta, naming the encoder where it was given now: the same weights moved to
    another folder would otherwise leave a path that `train search` can no longer follow."""
    unchanged = not index.meta.get("encoder") or same_file(index.meta["encoder"]) == same_file(encoder_source)
    if unchanged or index.meta.get("format") != FORMAT:  # an older index's files.txt is another format
        return index.meta
    meta = {**index.meta, "encoder": encoder_source,
            "skipped": [skipped_record(*entry) for entry in index.skipped_stamped]}
    write_meta(index.folder, meta, len(index.files))
    return json.loads((index.folder / META).read_text())


def _other_index(out: Path, encoder: Embedder) -> str:
    """What the index in ``out`` that this encoder cannot extend was embedded with, in words."""
    try:
        meta = json.loads((out / META).read_text())
        weights, runtime = str(meta["fingerprint"]).split("+")[0], meta["runtime"]
    except (OSError, ValueError, TypeError, KeyError):
        return "an index that cannot be read"
    if weights == encoder.fingerprint.split("+")[0]:  # int8's fingerprint is the weights' + "+int8"
        return f"this encoder's embeddings by runtime {runtime}, which int8 and float embeddings cannot share"
    return "an index of another encoder"


def _complete_index(out: Path, encoder: Embedder) -> EmbeddingIndex | None:
    if not (out / META).is_file():
        return None
    try:
        index = EmbeddingIndex.load(out)
    except IndexFolderError:
        return None  # unreadable: made anew
    same = index.meta.get("fingerprint") == encoder.fingerprint
    return index if same and index.embeddings.shape[1] == encoder.embedding_dim else None


def _embed(paths: list[str], encoder: Embedder, journal: EmbeddingJournal, batch_size: int, num_workers: int,
           on_bad_image: BadImagePolicy, total: int, stamps: dict[str, Stamp | None]) -> None:
    num_workers = fewer_workers(num_workers, "--num-workers")
    if num_workers:
        workers_share_the_temp_folder()
    loader = DataLoader(_Images(paths, encoder.preprocess), batch_size=batch_size, num_workers=num_workers)
    offset = 0
    progress = progress_bar(total=total, initial=total - len(paths), desc="embedding", unit="img")
    with progress as bar:
        for batch in loader:
            names = paths[offset:offset + len(batch["error"])]
            offset += len(names)
            good = [i for i, error in enumerate(batch["error"]) if not error]
            bad = [BadImage(names[i], error) for i, error in enumerate(batch["error"]) if error]
            vectors = (encoder.embed_batch(batch["image"][good]) if good
                       else np.zeros((0, encoder.embedding_dim), np.float32))
            journal.append([names[i] for i in good], vectors, bad if on_bad_image == "skip" else (), stamps)
            bar.update(len(names))
            if bad and on_bad_image == "error":
                raise ImageLoadError(f"{bad[0].reason} ({counted(len(journal.files), 'image')} embedded "
                                     "so far are kept: fix or remove it and run the same "
                                     "command again to continue, or pass --on-bad-image skip)")
