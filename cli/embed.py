"""``train embed IMAGES_DIR --encoder DIR --out INDEX_DIR``: embeddings for every image."""

from __future__ import annotations

from pathlib import Path

from siamkit.cli.arguments import (
    ArgumentParser,
    add_on_bad_image_argument,
    add_runtime_arguments,
    load_encoder_for,
    non_negative_int,
    output_folder,
    positive_int,
)
from siamkit.runtimes import encoder_location
from siamkit.wording import counted


def main(argv: list[str]) -> int:
    parser = ArgumentParser(
        prog="train embed",
        description="Embed every image below IMAGES_DIR (float32, L2-normalised) into an index "
                    "folder for `train search`. Every finished batch is kept in INDEX_DIR/partial/: "
                    "after a crash, a bad image or Ctrl-C, the same command continues where it "
                    "stopped, and on an existing index it embeds only the images the index lacks or "
                    "that changed since (file size or time), and leaves out, with a note, those no "
                    "longer below IMAGES_DIR.")
    parser.add_argument("images", help="folder of images (searched recursively)")
    parser.add_argument("--encoder", required=True,
                        help="encoder folder (train export), run folder or .ckpt; FOLDER@start for the "
                             "pretrained network it was fine-tuned from; timm:MODEL[:WEIGHTS] or "
                             "open_clip:MODEL:TAG for a pretrained network as it came")
    parser.add_argument("--out", required=True, type=output_folder, help="index folder to write")
    parser.add_argument("--batch-size", type=positive_int, default=64,
                        help="images the model embeds at a time")
    parser.add_argument("--num-workers", type=non_negative_int, default=2,
                        help="DataLoader processes decoding images (0: decode in this process)")
    add_on_bad_image_argument(parser)
    add_runtime_arguments(parser)
    args = parser.parse_args(argv)

    from siamkit.retrieval.collection import check_index_destination, embed_collection, list_images

    check_index_destination(args.out)
    listing = list_images(args.images)
    encoder = load_encoder_for(args, args.encoder)
    meta, embedded = embed_collection(listing, encoder, args.out, encoder_location(args.encoder),
                                      args.batch_size, args.num_workers, args.on_bad_image)
    skipped = meta["skipped"]
    held = "" if embedded == meta["count"] else f", which holds {meta['count']} in all"
    print(f"embedded {counted(embedded, 'image')} ({meta['dim']}-d) into {args.out}{held}"
          + (f"; skipped {len(skipped)} (listed in {Path(args.out) / 'index.json'})" if skipped else ""))
    return 0
