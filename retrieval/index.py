"""Embeddings of an image collection on disk, and nearest-neighbour search over them.

An index folder holds ``embeddings.npy`` (N, E) float32 unit vectors, ``files.txt`` (one
image path per row), ``stamps.npy`` (N, 2) int64, each row's ``file_stamps`` stamp (-1 where
unknown; absent in indexes written before siamkit kept stamps) and ``index.json`` (the encoder's
folder and fingerprint, so queries embedded by another encoder are refused; the images passed
over, each with its stamp); ``index_paths`` says how the paths are stored.
``collection.embed_collection`` writes it in parts, so an interrupted run resumes where it
stopped.

Search is inner product (= cosine on unit vectors): exact, in chunks of the collection so
memory stays bounded, or approximate with a FAISS HNSW or IVF index for large collections.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from siamkit.data.bad_images import BadImage
from siamkit.data.file_stamps import Stamp, stamp_from
from siamkit.errors import SiamkitError
from siamkit.file_writes import save_npy, write_npy, write_whole
from siamkit.retrieval.index_paths import reached, stored
from siamkit.retrieval.journal import JOURNAL_DIR
from siamkit.runtimes import names_a_network
from siamkit.wording import counted

EMBEDDINGS, FILES, STAMPS, META = "embeddings.npy", "files.txt", "stamps.npy", "index.json"
FORMAT = "siamkit-index/2"
#: the format before paths were stored as ``index_paths`` says: they were as given to `train embed`
PATHS_AS_GIVEN = "siamkit-index/1"
Backend = Literal["auto", "exact", "hnsw", "ivf"]
#: collections at least this large use an approximate index with ``auto``
APPROXIMATE_FROM = 200_000
#: how ``data.image_config.resize_steps`` shrinks images, as each index records it: embeddings of
#: images shrunk before (by the config's interpolation, aliased) differ from today's
SHRINK = "area"


class IndexFolderError(SiamkitError):
    """An index folder that is missing, incomplete, or made by another encoder."""


@dataclass
class EmbeddingIndex:
    folder: Path
    embeddings: np.ndarray  # (N, E) float32, memory-mapped
    files: list[str]
    meta: dict[str, Any]

    @classmethod
    def load(cls, folder: str | Path) -> "EmbeddingIndex":
        folder = Path(folder)
        missing = [name for name in (EMBEDDINGS, FILES, META) if not (folder / name).is_file()]
        if missing:
            interrupted = (folder / JOURNAL_DIR).is_dir()
            hint = " (an interrupted `train embed`: run it again to finish)" if interrupted else ""
            raise IndexFolderError(f"{folder} is not a complete index: {', '.join(missing)} missing{hint}. "
                              "Make one with `train embed IMAGES_DIR --encoder DIR --out INDEX_DIR`.")
        rebuild = "rebuild it with `train embed IMAGES_DIR --encoder DIR --out INDEX_DIR`"
        try:
            meta = json.loads((folder / META).read_text())
            embeddings = np.load(folder / EMBEDDINGS, mmap_mode="r")
            files = (folder / FILES).read_text().splitlines()
        except (ValueError, OSError, UnicodeDecodeError) as error:  # truncated .npy, broken JSON
            raise IndexFolderError(f"{folder}: cannot read the index ({error}); {rebuild}") from None
        if (not isinstance(meta, dict) or meta.get("format") not in (FORMAT, PATHS_AS_GIVEN)
                or embeddings.ndim != 2 or len(files) != len(embeddings)
                or embeddings.shape[1] != meta.get("dim")):
            dim = meta.get("dim") if isinstance(meta, dict) else "?"
            raise IndexFolderError(f"{folder}: {EMBEDDINGS} {embeddings.shape}, {FILES} "
                                   f"({len(files)} rows) and {META} (dim {dim}) do "
                                   f"not agree, or it is not a siamkit index; {rebuild}")
        bad = _non_finite_rows(embeddings)
        if len(bad):
            raise IndexFolderError(f"{folder}: {EMBEDDINGS} holds numbers that are not finite in "
                                   f"{counted(len(bad), 'row')} "
                                   f"(NaN or infinity; first: {files[bad[0]]}), so search would pass them "
                                   f"over; {rebuild}")
        if meta["format"] == FORMAT:
            files = [reached(f, folder) for f in files]
            if meta.get("encoder") and not names_a_network(meta["encoder"]):
                meta["encoder"] = reached(meta["encoder"], folder)
        return cls(folder, embeddings, files, meta)

    def stamps(self, start: int = 0, stop: int | None = None) -> list[Stamp | None]:
        """The stamps of rows ``start:stop``, None where unknown (all of them in an index written
        before siamkit kept stamps, or with a damaged ``stamps.npy``)."""
        rows = range(len(self.files))[start:stop]
        try:
            stamps = np.load(self.folder / STAMPS, mmap_mode="r")
        except (OSError, ValueError):
            return [None] * len(rows)
        if stamps.shape != (len(self.files), 2) or stamps.dtype != np.int64:
            return [None] * len(rows)
        return [(size, time) if size >= 0 else None for size, time in stamps[rows.start:rows.stop].tolist()]

    @property
    def skipped(self) -> list[BadImage]:
        """The images the index was asked for and could not hold (an index written by an older
        siamkit may list plain strings: those are left out)."""
        return [bad for bad, _ in self.skipped_stamped]

    @property
    def skipped_stamped(self) -> list[tuple[BadImage, Stamp | None]]:
        """``skipped``, each with its stamp when it was listed (None where unknown)."""
        entries = [(BadImage.from_dict(e), stamp_from(e.get("stamp")))
                   for e in self.meta.get("skipped", []) if isinstance(e, dict)]
        if self.meta.get("format") != FORMAT:
            return entries
        return [(BadImage(reached(bad.file, self.folder), bad.reason), stamp) for bad, stamp in entries]

    @property
    def resized_as_today(self) -> bool:
        """Whether its images were shrunk as ``resize_steps`` shrinks them now (by area); an index
        written before holds the aliased embeddings of every image larger than the encoder's input."""
        return self.meta.get("shrink") == SHRINK

    def check_encoder(self, fingerprint: str | None, dim: int) -> None:
        """Queries must come from the encoder (and runtime, for int8) that made the index."""
        made_by = self.meta.get("fingerprint")
        if fingerprint != made_by and fingerprint and made_by and (
                fingerprint.removesuffix("+int8") == made_by.removesuffix("+int8")):
            raise IndexFolderError(
                f"the index {self.folder} was embedded with runtime {self.meta.get('runtime', 'torch')} and "
                f"its int8 embeddings differ from float ones: search with --runtime "
                f"{'int8' if made_by.endswith('+int8') else 'onnx (or torch)'}, or rebuild the index")
        if fingerprint != made_by or dim != self.embeddings.shape[1]:
            raise IndexFolderError(
                f"the index {self.folder} was built with encoder {self.meta.get('encoder')} "
                f"(fingerprint {self.meta.get('fingerprint')}), not with the "
                f"query's encoder (fingerprint {fingerprint}); embeddings of two encoders "
                "are not comparable. Use the index's encoder, or rebuild the index."
            )

    def search(self, queries: np.ndarray, k: int = 10, backend: Backend = "auto", **options: Any
               ) -> tuple[np.ndarray, np.ndarray]:
        """(Q, E) unit vectors -> (scores, ids), each (Q, k), best first."""
        queries = np.asarray(queries)
        if queries.ndim != 2 or queries.shape[1] != self.embeddings.shape[1]:
            raise ValueError(f"queries must be (Q, {self.embeddings.shape[1]}) embeddings, as the index "
                             f"holds (embed them with its encoder, {self.meta.get('encoder')}); got shape "
                             f"{queries.shape}")
        if not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"k is how many neighbours each query gets: a whole number >= 0, not {k!r}")
        k = min(int(k), len(self.files))
        if backend == "auto":
            backend = "hnsw" if len(self.files) >= APPROXIMATE_FROM else "exact"
        if backend == "exact":
            return exact_search(self.embeddings, queries, k)
        return approximate_index(self.embeddings, backend, self.folder, **options).search(
            np.ascontiguousarray(queries, np.float32), k)


def exact_search(database: np.ndarray, queries: np.ndarray, k: int, chunk: int = 65_536
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product, ``chunk`` database rows at a time: memory is
    O(chunk x (E + Q)) whatever the collection's size. FAISS's kernel when installed."""
    queries = np.ascontiguousarray(queries, np.float32)
    best_scores = np.full((len(queries), k), -np.inf, np.float32)
    best_ids = np.full((len(queries), k), -1, np.int64)
    for start in range(0, len(database), chunk):
        block = np.ascontiguousarray(database[start:start + chunk], np.float32)
        scores, ids = _block_top_k(block, queries, min(k, len(block)))
        merged_scores = np.concatenate([best_scores, scores], 1)
        merged_ids = np.concatenate([best_ids, ids + start], 1)
        keep = np.argsort(-merged_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(merged_scores, keep, 1)
        best_ids = np.take_along_axis(merged_ids, keep, 1)
    return best_scores, best_ids


def _block_top_k(block: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        import faiss
    except ImportError:
        scores = queries @ block.T
        ids = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        return np.take_along_axis(scores, ids, 1), ids
    return faiss.knn(queries, block, k, metric=faiss.METRIC_INNER_PRODUCT)


def approximate_index(embeddings: np.ndarray, backend: str, folder: Path | None = None, hnsw_m: int = 32,
                      ef_search: int = 256, nlist: int | None = None, nprobe: int = 64) -> Any:
    """A FAISS HNSW or IVF index over ``embeddings``, saved beside them (``index-BACKEND.faiss``)
    and reused while it is newer than the embeddings."""
    try:
        import faiss
    except ImportError:
        raise SiamkitError(f"the {backend} backend needs FAISS (pip install faiss-cpu); use --backend "
                           f"exact") from None
    cached = folder / f"index-{backend}.faiss" if folder else None
    index = _cached_index(cached, embeddings) if cached else None
    if index is None:
        index = _build_index(embeddings, backend, hnsw_m, nlist)
        if cached:
            partial = cached.with_name(f".{cached.name}.partial")
            faiss.write_index(index, str(partial))
            os.replace(partial, cached)  # whole or not there: an interrupted write leaves no cache
    if backend == "hnsw":
        index.hnsw.efSearch = ef_search
    else:
        index.nprobe = nprobe
    return index


def _cached_index(cached: Path, embeddings: np.ndarray) -> Any:
    """The index saved beside the embeddings, while it is newer than they are and whole; None
    when there is none to trust (a damaged one is said and rebuilt)."""
    import faiss

    if not cached.exists() or cached.stat().st_mtime < (cached.parent / EMBEDDINGS).stat().st_mtime:
        return None
    try:
        index = faiss.read_index(str(cached))
    except RuntimeError:
        index = None
    if index is None or index.ntotal != len(embeddings) or index.d != embeddings.shape[1]:
        print(f"{cached} is damaged or out of date: building it again", file=sys.stderr)
        return None
    return index


def _build_index(embeddings: np.ndarray, backend: str, hnsw_m: int, nlist: int | None) -> Any:
    import faiss

    dim = embeddings.shape[1]
    if backend == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    elif backend == "ivf":
        lists = nlist or max(1, int(4 * np.sqrt(len(embeddings))))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(len(embeddings), min(len(embeddings), 40 * lists),
                                                 replace=False)
        index.train(np.ascontiguousarray(embeddings[np.sort(sample)], np.float32))
    else:
        raise SiamkitError(f"unknown search backend {backend!r}; choose auto, exact, hnsw or ivf")
    for start in range(0, len(embeddings), 100_000):
        index.add(np.ascontiguousarray(embeddings[start:start + 100_000], np.float32))
    return index


def write_index(folder: Path, vectors: np.ndarray, files: list[str], stamps: list[Stamp | None],
                meta: dict[str, Any], rows: np.ndarray | None = None) -> None:
    """Writes the index files from ``vectors``, ``files`` and their ``stamps`` (or only their
    ``rows``), copying a chunk at a time (bounded memory). ``index.json`` goes last, and an
    earlier one is removed first, so a folder that has it is complete."""
    rows = np.arange(len(files)) if rows is None else rows
    meta = {**meta, "shrink": SHRINK}  # every row embedded as siamkit resizes today
    (folder / META).unlink(missing_ok=True)
    save_npy(folder / f".{STAMPS}", np.array([stamps[i] or (-1, -1) for i in rows], np.int64).reshape(-1, 2))
    os.replace(folder / f".{STAMPS}", folder / STAMPS)
    write_npy(folder / f".{EMBEDDINGS}", (len(rows), meta["dim"]), np.float32,
              (vectors[rows[start:start + 100_000]] for start in range(0, len(rows), 100_000)))
    os.replace(folder / f".{EMBEDDINGS}", folder / EMBEDDINGS)
    write_whole(folder / FILES, "".join(f"{stored(files[i], folder)}\n" for i in rows))
    write_meta(folder, meta, len(rows))


def write_meta(folder: Path, meta: dict[str, Any], count: int) -> None:
    """``index.json`` for ``count`` rows, its paths (skipped images, the encoder) stored as the
    index's files are; written aside, then moved into place."""
    skipped = [{**entry, "file": stored(entry["file"], folder)} for entry in meta.get("skipped", [])]
    on_disk = {key: value for key, value in meta.items() if key not in ("format", "count")}
    on_disk["skipped"] = skipped
    if meta.get("encoder") and not names_a_network(meta["encoder"]):
        on_disk["encoder"] = stored(meta["encoder"], folder)
    document = json.dumps({"format": FORMAT, "count": count, **on_disk}, indent=2) + "\n"
    write_whole(folder / META, document)


def skipped_record(bad: BadImage, stamp: Stamp | None) -> dict[str, Any]:
    """A passed-over image as ``index.json`` lists it: with its stamp where it was read and failed
    (a file of another type, passed over while listing, has none)."""
    return {**bad.to_dict(), "stamp": stamp} if stamp else bad.to_dict()


def _non_finite_rows(embeddings: np.ndarray, block: int = 65_536) -> np.ndarray:
    """Rows holding NaN or infinity, read a block at a time (the array may be memory-mapped)."""
    found = [start + np.flatnonzero(~np.isfinite(embeddings[start:start + block]).all(axis=1))
             for start in range(0, len(embeddings), block)]
    return np.concatenate(found) if found else np.zeros(0, np.int64)
