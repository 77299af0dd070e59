"""``train export --ckpt CKPT --out DIR [--onnx] [--sentence-transformers]``: a training
checkpoint -> a self-describing encoder folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from siamkit.errors import SiamkitError
from siamkit.train.arguments import ArgumentParser, output_folder


def main(argv: list[str]) -> int:
    parser = ArgumentParser(
        prog="train export",
        description="Write the encoder (backbone + head) of a `train fit` checkpoint to a folder: "
                    "model.safetensors and config.json, optionally model.onnx (checked against PyTorch) "
                    "and a sentence-transformers layout. The folder appears only when all of it "
                    "is written. `train score / evaluate / embed` and Encoder.load take the folder.",
    )
    parser.add_argument("--ckpt", required=True,
                        help="checkpoint from `train fit` (e.g. runs/NAME/checkpoints/last.ckpt)")
    parser.add_argument("--out", required=True, type=output_folder, help="encoder folder to write")
    parser.add_argument("--onnx", action="store_true", help="also write model.onnx (dynamic batch size)")
    parser.add_argument("--sentence-transformers", action="store_true",
                        help="also make the folder loadable with "
                             "SentenceTransformer(DIR, trust_remote_code=True)")
    parser.add_argument("--force", action="store_true", help="replace an existing encoder folder")
    args = parser.parse_args(argv)

    from siamkit.models.encoder import Encoder

    out = args.out
    if out.exists() and any(out.iterdir()) and not args.force:
        raise SiamkitError(f"{out} already exists and is not empty; choose "
                           "another --out, or add --force to replace it")
    if not Path(args.ckpt).is_file():
        raise SiamkitError(f"checkpoint {args.ckpt} does not exist "
                           "(checkpoints are in <run folder>/checkpoints/)")
    encoder = Encoder.from_checkpoint(args.ckpt)
    staging = out.parent / f".{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        written = _write(encoder, staging, args.onnx, args.sentence_transformers)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    print(f"encoder: {encoder.card.architecture.backbone.class_path.rsplit('.', 1)[-1]} "
          f"-> {encoder.embedding_dim}-d embeddings, "
          f"{encoder.image_config.size} px; fingerprint {encoder.fingerprint}")
    print(f"wrote {out}/: " + "; ".join(written))
    return 0


def _write(encoder, folder: Path, onnx: bool, sentence_transformers: bool) -> list[str]:
    from siamkit.models.card import CONFIG_FILE

    encoder.save(folder)
    written = ["model.safetensors", CONFIG_FILE]
    if onnx:
        from siamkit.models.onnx_export import ONNX_FILE, export_onnx, sample_images

        difference = export_onnx(encoder, folder, sample_images())
        written.append(f"{ONNX_FILE} (cosine difference to PyTorch {difference:.1e})")
    if sentence_transformers:
        from siamkit.models.st_layout import save_sentence_transformers_layout

        save_sentence_transformers_layout(encoder, folder)
        written.append("modules.json, config_sentence_transformers.json (sentence-transformers layout)")
    return written
