"""``train export --ckpt CKPT --out DIR [--onnx] [--sentence-transformers]``: a training
checkpoint -> a self-describing encoder folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from siamkit.errors import SiamkitError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="train export", allow_abbrev=False,
        description="Write the encoder (backbone + head) of a `train fit` checkpoint "
                    "to a folder: model.safetensors and config.json, optionally model.onnx "
                    "(checked against PyTorch) and a sentence-transformers layout. "
                    "`train score / evaluate / embed` and Encoder.load take the folder.",
    )
    parser.add_argument("--ckpt", required=True,
                        help="checkpoint from `train fit` (e.g. runs/NAME/checkpoints/last.ckpt)")
    parser.add_argument("--out", required=True, help="encoder folder to write")
    parser.add_argument("--onnx", action="store_true", help="also write model.onnx (dynamic batch size)")
    parser.add_argument("--sentence-transformers", action="store_true",
                        help="also make the folder loadable with "
                             "SentenceTransformer(DIR, trust_remote_code=True)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing encoder folder")
    args = parser.parse_args(argv)

    from siamkit.models.card import CONFIG_FILE
    from siamkit.models.encoder import Encoder

    out = Path(args.out)
    if (out / CONFIG_FILE).exists() and not args.force:
        raise SiamkitError(f"{out} already holds an encoder; choose "
                           "another --out, or add --force to overwrite it")
    if not Path(args.ckpt).is_file():
        raise SiamkitError(f"checkpoint {args.ckpt} does not exist "
                           "(checkpoints are in <run folder>/checkpoints/)")
    encoder = Encoder.from_checkpoint(args.ckpt)
    encoder.save(out)
    written = ["model.safetensors", CONFIG_FILE]
    if args.onnx:
        from siamkit.models.onnx_export import ONNX_FILE, export_onnx, sample_images

        difference = export_onnx(encoder, out, sample_images())
        written.append(f"{ONNX_FILE} (cosine difference to PyTorch {difference:.1e})")
    if args.sentence_transformers:
        from siamkit.models.st_layout import save_sentence_transformers_layout

        save_sentence_transformers_layout(encoder, out)
        written.append("modules.json, config_sentence_transformers.json (sentence-transformers layout)")
    print(f"encoder: {encoder.card.architecture.backbone.class_path.rsplit('.', 1)[-1]} -> "
          f"{encoder.embedding_dim}-d "
          f"embeddings, {encoder.image_config.size} px; fingerprint {encoder.fingerprint}")
    print(f"wrote {out}/: " + "; ".join(written))
    return 0
