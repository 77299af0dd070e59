"""``train duplicates IMAGES_DIR --encoder DIR [--threshold T] [--recheck-sift]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from siamkit.errors import SiamkitError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="train duplicates", allow_abbrev=False,
        description="Group the near-duplicates among the images of a folder: embed them (reusing --out's "
                    "index when it is complete), link every pair scoring at least the threshold, optionally "
                    "re-check each link with SIFT + RANSAC; write duplicates.csv and duplicates.html.")
    parser.add_argument("images", help="folder of images")
    parser.add_argument("--encoder", required=True,
                        help="encoder folder (its calibrated threshold is the default)")
    parser.add_argument("--out", required=True, help="folder for the index and the results")
    parser.add_argument("--threshold", type=float,
                        help="cosine similarity for a duplicate (default: calibrated)")
    parser.add_argument("--recheck-sift", action="store_true",
                        help="keep only links that SIFT + RANSAC confirms")
    parser.add_argument("--sift-min-score", type=float, default=0.05,
                        help="share of keypoints in RANSAC inliers that confirms a link (default 0.05)")
    parser.add_argument("--on-bad-image", choices=("error", "skip"), default="error")
    parser.add_argument("--num-workers", type=int, default=2)
    args = parser.parse_args(argv)

    from siamkit.models.encoder import Encoder
    from siamkit.retrieval.collection import embed_collection, list_images
    from siamkit.retrieval.duplicates import candidate_pairs, groups_of, write_groups
    from siamkit.retrieval.index import EmbeddingIndex

    encoder = Encoder.load(args.encoder)
    threshold = args.threshold if args.threshold is not None else encoder.threshold
    if threshold is None:
        raise SiamkitError(f"encoder {args.encoder} has no calibrated threshold: pass "
                           "--threshold, or calibrate it with `train evaluate "
                           f"--methods ...,{args.encoder} --calibrate` on labelled data")
    out = Path(args.out)
    embed_collection(list_images(args.images), encoder, out / "index", str(Path(args.encoder).resolve()),
                     num_workers=args.num_workers, on_bad_image=args.on_bad_image)
    index = EmbeddingIndex.load(out / "index")
    pairs, scores = candidate_pairs(index.embeddings, threshold)
    print(f"{len(pairs)} pairs at cosine >= {threshold:.4f} among {len(index.files)} images")
    if args.recheck_sift and len(pairs):
        from siamkit.scoring.registry import get_scorer

        sift = get_scorer("sift:ransac")
        confirmed = sift.score_pairs([(index.files[i], index.files[j]) for i,
                                      j in pairs]) >= args.sift_min_score
        print(f"SIFT + RANSAC confirmed {int(confirmed.sum())} of them")
        pairs = pairs[confirmed]
    groups = groups_of(pairs, len(index.files))
    write_groups(out, index.files, groups, threshold)
    print(f"{len(groups)} groups ({sum(map(len, groups))} images): "
          f"{out / 'duplicates.csv'}, {out / 'duplicates.html'}")
    return 0
