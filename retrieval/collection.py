"""Embedding a whole image collection with an Encoder: batches from DataLoader workers, a
progress bar, parts written as they finish (an interrupted run resumes), and bad images
stopping the run or skipped per the data policy."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from siamkit.data.preprocess import Preprocess
from siamkit.data.scan import BadImagePolicy
from siamkit.data.sources import IMAGE_SUFFIXES
from siamkit.errors import ImageLoadError, SiamkitError
from siamkit.models.encoder import Encoder
from siamkit.retrieval.index import FILES, META, PARTS, write_index


def list_images(folder: str | Path) -> list[str]:
    folder = Path(folder)
    if not folder.is_dir():
        raise SiamkitError(f"image folder {folder} does not exist")
    images = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        raise SiamkitError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return images


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


def embed_collection(images: list[str], encoder: Encoder, out: str | Path, encoder_source: str,
                     batch_size: int = 64, part_size: int = 4096, num_workers: int = 2,
                     on_bad_image: BadImagePolicy = "error") -> dict[str, Any]:
    """Embeds ``images`` into the index folder ``out``; returns its index.json content."""
    out = Path(out)
    fingerprint = encoder.fingerprint
    if (out / META).is_file():
        meta = json.loads((out / META).read_text())
        done = set((out / FILES).read_text().splitlines()) | {e["file"] for e in meta.get("skipped", [])}
        if meta.get("fingerprint") == fingerprint and done >= set(images):
            return meta  # already complete for these images and this encoder
    parts_dir = out / PARTS
    parts_dir.mkdir(parents=True, exist_ok=True)
    device = next(encoder.parameters()).device
    parts, skipped = [], []
    with tqdm(total=len(images), desc="embedding", unit="img") as bar:
        for number, start in enumerate(range(0, len(images), part_size)):
            names = images[start:start + part_size]
            key = hashlib.sha256(json.dumps([fingerprint, names]).encode()).hexdigest()[:16]
            stem = parts_dir / f"part-{number:05d}-{key}"
            if not stem.with_suffix(".json").exists():
                _embed_part(names, encoder, device, stem, batch_size, num_workers, on_bad_image)
            done = json.loads(stem.with_suffix(".json").read_text())
            parts.append((np.load(stem.with_suffix(".npy")), done["files"]))
            skipped += done["skipped"]
            bar.update(len(names))
    meta = {"encoder": encoder_source, "fingerprint": fingerprint, "dim": encoder.embedding_dim,
            "skipped": skipped}
    write_index(out, parts, meta)
    for stale in parts_dir.iterdir():
        stale.unlink()
    parts_dir.rmdir()
    return meta


def _embed_part(names: list[str], encoder: Encoder, device: torch.device, stem: Path, batch_size: int,
                num_workers: int, on_bad_image: BadImagePolicy) -> None:
    loader = DataLoader(_Images(names, encoder.preprocess), batch_size=batch_size, num_workers=num_workers)
    rows, kept, skipped = [], [], []
    offset = 0
    with torch.inference_mode():
        for batch in loader:
            good = [i for i, error in enumerate(batch["error"]) if not error]
            for i, error in enumerate(batch["error"]):
                if error:
                    if on_bad_image == "error":
                        raise ImageLoadError(error + " (the images before it are "
                                                     "saved: rerun to resume, or pass "
                                             "--on-bad-image skip)")
                    skipped.append({"file": names[offset + i], "error": error})
            if good:
                rows.append(encoder(batch["image"][good].to(device)).float().cpu().numpy())
                kept += [names[offset + i] for i in good]
            offset += len(batch["error"])
    embeddings = np.concatenate(rows) if rows else np.zeros((0, encoder.embedding_dim), np.float32)
    np.save(stem.with_suffix(".tmp.npy"), embeddings)
    os.replace(stem.with_suffix(".tmp.npy"), stem.with_suffix(".npy"))
    stem.with_suffix(".json").write_text(json.dumps({"files": kept,
                                                     "skipped": skipped}))  # written last: done
