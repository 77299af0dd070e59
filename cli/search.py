"""``train search QUERY_IMAGE... --index INDEX_DIR -k 10``: nearest neighbours with scores."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import get_args

from siamkit.cli.arguments import (
    BACKGROUND_K,
    ArgumentParser,
    add_background_arguments,
    add_on_bad_image_argument,
    add_runtime_arguments,
    check_background_k,
    load_encoder_for,
    positive_int,
)
from siamkit.retrieval.index import Backend
from siamkit.runtimes import START_SUFFIX, names_a_network
from siamkit.wording import counted, none_could_be

#: with --background, results are re-ranked from this many times k cosine neighbours
RERANK_DEPTH = 4


def main(argv: list[str]) -> int:
    parser = ArgumentParser(
        prog="train search",
        description="Find the images of an index (train embed) "
                    "nearest to each query image, by cosine similarity.")
    parser.add_argument("queries", nargs="+", help="query images, or folders whose images are all queries")
    parser.add_argument("--index", required=True, help="index folder from `train embed`")
    parser.add_argument("-k", type=positive_int, default=10, help="neighbours per query")
    parser.add_argument("--encoder",
                        help="encoder for the queries (default: the index's own; must be the same)")
    parser.add_argument("--backend", choices=get_args(Backend), default="auto",
                        help="exact (chunked), or a FAISS approximate "
                             "index (auto: exact below 200,000 images)")
    parser.add_argument("--json", action="store_true", help="one JSON object per query")
    add_runtime_arguments(parser)
    add_background_arguments(parser)
    add_on_bad_image_argument(parser)
    args = parser.parse_args(argv)
    check_background_k(args)
    background_k = args.background_k or BACKGROUND_K

    from siamkit.retrieval.index import EmbeddingIndex
    from siamkit.retrieval.score_normalization import background_images, rerank

    queries = _query_images(args.queries, args.on_bad_image)
    index = EmbeddingIndex.load(args.index)
    background = (background_images(args.background, background_k, queries + index.files)
                  if args.background else None)
    if args.runtime == "auto" and index.meta.get("runtime") == "int8":
        args.runtime = "int8"  # the queries must be embedded as the index was
    encoder = load_encoder_for(args, args.encoder or _index_encoder(index, args.index))
    index.check_encoder(encoder.fingerprint, encoder.embedding_dim)
    if not index.resized_as_today:
        print(f"note: {args.index} was embedded before siamkit shrank images by area, and its images larger "
              "than the encoder's input embedded aliased, unlike these queries: the same picture can score "
              f"well below 1; `train embed IMAGES --encoder ... --out {args.index}` embeds them again",
              file=sys.stderr)
    embeddings = encoder.embed(queries, progress="embedding the queries")
    if background is None:
        scores, ids = index.search(embeddings, args.k, args.backend)
    else:  # normalised scores: re-rank a deeper list of cosine neighbours
        scores, ids = index.search(embeddings, RERANK_DEPTH * args.k, args.backend)
        background_embeddings = encoder.embed(background, progress="embedding the background")
        scores, ids = rerank(scores, ids, embeddings, index.embeddings, background_embeddings,
                             background_k, args.k)
    for query, row_scores, row_ids in zip(queries, scores, ids):
        hits = [{"file": index.files[i], "score": float(s)} for s, i in zip(row_scores, row_ids) if i >= 0]
        if args.json:
            print(json.dumps({"query": query, "neighbours": hits}))
            continue
        print(query)
        for rank, hit in enumerate(hits, 1):
            print(f"  {rank:3d}  {hit['score']:.4f}  {hit['file']}")
    _note_files_gone({int(i) for row in ids for i in row if i >= 0}, index, args.index)
    return 0


def _note_files_gone(found: set[int], index, folder: str) -> None:
    """An index is a snapshot of its folder: say where what it found has since been moved or deleted."""
    gone = sorted(index.files[i] for i in found if not os.path.exists(index.files[i]))
    if gone:
        print(f"note: {counted(len(gone), 'image')} found {'is' if len(gone) == 1 else 'are'} no longer "
              f"where {folder} has {'it' if len(gone) == 1 else 'them'} (e.g. {gone[0]}): the index is "
              f"older than its folder; `train embed IMAGES --encoder ... --out {folder}` brings it up to "
              "date, embedding only what changed", file=sys.stderr)


def _index_encoder(index, folder: str) -> str:
    """The encoder the index was embedded with, where it was then."""
    from siamkit.errors import SiamkitError

    encoder = index.meta.get("encoder")
    if not encoder:
        raise SiamkitError(f"the index {folder} does not record its encoder: pass --encoder (its fingerprint "
                           "is checked)")
    if not names_a_network(encoder) and not Path(encoder.removesuffix(START_SUFFIX)).exists():
        raise SiamkitError(f"the index {folder} was embedded with the encoder {encoder}, which is not there "
                           "any more: pass --encoder with where it is now (its fingerprint is checked)")
    return encoder


def _query_images(arguments: list[str], on_bad_image: str) -> list[str]:
    """Each argument's image, or a folder's images; all decoded once before anything loads."""
    from siamkit.data.scan import scan_images
    from siamkit.errors import SiamkitError
    from siamkit.retrieval.collection import list_images

    paths = [path for argument in arguments
             for path in (list_images(argument).images if Path(argument).is_dir() else [argument])]
    bad = scan_images(paths, on_bad_image, "pass --on-bad-image skip")
    if queries := [path for path in paths if path not in bad]:
        return queries
    raise SiamkitError(none_could_be(len(paths), "query image", "read"))
