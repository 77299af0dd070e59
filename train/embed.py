"""``train embed IMAGES_DIR --encoder DIR --out INDEX_DIR``: embeddings for every image."""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="train embed", allow_abbrev=False,
        description="Embed every image below IMAGES_DIR (float32, L2-normalised) into an index folder for "
                    "`train search`. Resumable: run it again after an interruption.")
    parser.add_argument("images", help="folder of images (searched recursively)")
    parser.add_argument("--encoder", required=True, help="encoder folder (train export), run folder or .ckpt")
    parser.add_argument("--out", required=True, help="index folder to write")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=2, help="DataLoader processes decoding images")
    parser.add_argument("--on-bad-image", choices=("error", "skip"), default="error")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    from siamkit.models.encoder import Encoder
    from siamkit.retrieval.collection import embed_collection, list_images

    images = list_images(args.images)
    encoder = Encoder.load(args.encoder, device=args.device)
    meta = embed_collection(images, encoder, args.out, str(Path(args.encoder).resolve()), args.batch_size,
                            num_workers=args.num_workers,
                            on_bad_image=args.on_bad_image)
    skipped = f"; skipped {len(meta['skipped'])} unreadable" if meta["skipped"] else ""
    print(f"embedded {len(images) - len(meta['skipped'])} images ({meta['dim']}-d) into {args.out}{skipped}")
    return 0
