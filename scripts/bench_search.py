"""Nearest-neighbour search at scale: exact (chunked) vs FAISS approximate indexes, same run.

    python scripts/bench_search.py [--n 1000000] [--dim 256] [--queries 1000] [-k 10]

N random unit vectors (uniform,
                       or ``--data clustered``) are written to an index folder's embeddings.npy and '
                                                                             r'searched through a
memory map, as ``train search`` does. Exact search (the reference) reads the collection in
chunks; its peak memory is the growth of resident memory while it runs (mapped file pages
included). Then IVF and HNSW indexes are built and queried at a few settings each; for every
setting: build time, query time, recall@k against exact, speed-up. Random vectors are the
hardest case for approximate search (no clusters to exploit). Prints, last, one line with
the fastest setting that reaches recall@10 >= 0.95.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from siamkit.evaluation.peak_memory import PeakMemory
from siamkit.retrieval.index import EMBEDDINGS, approximate_index, exact_search


def unit_vectors(count: int, dim: int, rng: np.random.Generator,
                 centres: np.ndarray | None = None) -> np.ndarray:
    """Uniform on the sphere; or, with ``centres``, scattered around random ones (structure
    like real embeddings have: images of the same thing lie close together)."""
    vectors = rng.standard_normal((count, dim), dtype=np.float32)
    if centres is not None:
        vectors = centres[rng.integers(0, len(centres), count)] + 0.05 * vectors  # noise norm ~0.8 in 256-d
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def write_collection(count: int, dim: int, rng: np.random.Generator,
                     centres: np.ndarray | None) -> np.ndarray:
    """``count`` unit vectors written to a temporary file and memory-mapped, as an index holds them."""
    folder = Path(tempfile.mkdtemp(prefix="siamkit-bench-search-"))
    target = np.lib.format.open_memmap(folder / EMBEDDINGS, mode="w+", dtype=np.float32, shape=(count, dim))
    for start in range(0, count, 100_000):
        target[start:start + 100_000] = unit_vectors(min(100_000, count - start), dim, rng, centres)
    target.flush()
    del target
    return np.load(folder / EMBEDDINGS, mmap_mode="r")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--backends", default="ivf,hnsw", help="approximate indexes to try")
    parser.add_argument("--data", choices=("uniform", "clustered"), default="uniform",
                        help="uniform random unit vectors (the hardest "
                             "case), or clustered around 10,000 centres")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centres = (rng.standard_normal((10_000, args.dim), dtype=np.float32) / np.sqrt(args.dim)
               if args.data == "clustered" else None)
    database = write_collection(args.n, args.dim, rng, centres)
    queries = unit_vectors(args.queries, args.dim, rng, centres)

    with PeakMemory() as memory:
        start = time.perf_counter()
        _, truth = exact_search(database, queries, args.k)
        exact_seconds = time.perf_counter() - start
    print(f"{args.n:,} x {args.dim} {args.data} vectors, {args.queries} queries, top-{args.k}")
    print(f"exact (chunked): {exact_seconds:.2f} s, peak memory growth {memory.peak_mb:.0f} MB "
          f"(collection {database.nbytes / 2**20:.0f} MB on disk)")

    print(f"{'index':<8} {'setting':<20} {'build s':>8} {'query s':>8} {'recall@k':>9} {'speed-up':>9}")
    results = []
    grid = {"ivf": [{"nprobe": p} for p in (16, 64, 256)],
            "hnsw": [{"ef_search": e} for e in (64, 256, 1024)]}
    for backend, settings in ((b, grid[b]) for b in args.backends.split(",")):
        start = time.perf_counter()
        index = approximate_index(database, backend)
        build = time.perf_counter() - start
        for setting in settings:
            if backend == "ivf":
                index.nprobe = setting["nprobe"]
            else:
                index.hnsw.efSearch = setting["ef_search"]
            start = time.perf_counter()
            _, found = index.search(queries, args.k)
            seconds = time.perf_counter() - start
            row = (backend, str(setting), build, seconds, recall(found, truth), exact_seconds / seconds)
            results.append(row)
            print(f"{row[0]:<8} {row[1]:<20} {row[2]:8.1f} {row[3]:8.2f} {row[4]:9.3f} {row[5]:8.1f}x")
    good = [r for r in results if r[4] >= 0.95]
    best = max(good, key=lambda r: r[5]) if good else max(results, key=lambda r: r[4])
    print(f"exact {exact_seconds:.2f} s at {memory.peak_mb:.0f} MB; "
          + (f"fastest at recall@{args.k} >= 0.95: " if good else "no setting reached "
                                                                  "recall 0.95; best recall: ")
          + f"{best[0]} {best[1]}: recall {best[4]:.3f}, {best[5]:.1f}x exact, built in {best[2]:.0f} s")


if __name__ == "__main__":
    main()
