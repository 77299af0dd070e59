"""``train duplicates IMAGES_DIR --encoder DIR [--threshold T] [--recheck-sift]``."""

from __future__ import annotations

from pathlib import Path

from siamkit.errors import SiamkitError
from siamkit.train.arguments import (
    ArgumentParser,
    device,
    non_negative_int,
    number_between,
    output_folder,
    positive_int,
)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="train duplicates",
        description="Group the near-duplicates among the images of a folder: embed them into OUT/index (a "
                    "rerun continues an interrupted embedding and reuses a complete one), link every pair "
                    "scoring at least the threshold, optionally re-check each link with SIFT + RANSAC; write "
                    "duplicates.csv and duplicates.html.")
    parser.add_argument("images", help="folder of images")
    parser.add_argument("--encoder", required=True,
                        help="encoder folder (its calibrated threshold is the default)")
    parser.add_argument("--out", required=True, type=output_folder,
                        help="folder for the index and the results")
    parser.add_argument("--threshold", type=number_between(-1.0, 1.0, "a cosine similarity"),
                        help="cosine similarity for a duplicate (default: calibrated)")
    parser.add_argument("--recheck-sift", action="store_true",
                        help="keep only links that SIFT + RANSAC confirms")
    parser.add_argument("--sift-min-score", type=number_between(0.0, 1.0, "a share"), default=0.05,
                        help="share of keypoints in RANSAC inliers that confirms a link (default 0.05)")
    parser.add_argument("--on-bad-image", choices=("error", "skip"), default="error")
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--num-workers", type=non_negative_int, default=2)
    parser.add_argument("--device", type=device, default="cpu")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)

    from siamkit.models.encoder import Encoder
    from siamkit.retrieval.collection import embed_collection, list_images
    from siamkit.retrieval.duplicates import candidate_pairs, groups_of, write_groups
    from siamkit.retrieval.index import EmbeddingIndex

    listing = list_images(args.images)
    encoder = Encoder.load(args.encoder, device=args.device)
    threshold = args.threshold if args.threshold is not None else encoder.threshold
    if threshold is None:
        raise SiamkitError(f"encoder {args.encoder} has no calibrated threshold: pass "
                           "--threshold, or calibrate it with `train evaluate "
                           f"--methods ...,{args.encoder} --calibrate` on labelled data")
    out = args.out
    meta = embed_collection(listing, encoder, out / "index", str(Path(args.encoder).resolve()),
                            args.batch_size,
                            args.num_workers, args.on_bad_image)
    index = EmbeddingIndex.load(out / "index")
    _report_skipped(meta["skipped"])
    pairs, _ = candidate_pairs(index.embeddings, threshold)
    print(f"{len(pairs)} pairs at cosine >= {threshold:.4f} among {len(index.files)} images")
    if args.recheck_sift and len(pairs):
        from siamkit.scoring.registry import get_scorer

        sift = get_scorer("sift:ransac")
        confirmed = sift.score_pairs([(index.files[i], index.files[j]) for i,
                                      j in pairs]) >= args.sift_min_score
        print(f"SIFT + RANSAC confirmed {int(confirmed.sum())} of them")
        pairs = pairs[confirmed]
    groups = groups_of(pairs, len(index.files))
    write_groups(out, index.files, groups, threshold, meta["skipped"])
    print(f"{len(groups)} groups ({sum(map(len, groups))} images): "
          f"{out / 'duplicates.csv'}, {out / 'duplicates.html'}")
    return 0


def _report_skipped(skipped: list[dict[str, str]]) -> None:
    if not skipped:
        return
    print(f"skipped {len(skipped)} files (listed in duplicates.html):")
    for entry in skipped[:10]:
        print(f"  {entry['file']}: {entry['error']}")
    if len(skipped) > 10:
        print(f"  ... and {len(skipped) - 10} more")

