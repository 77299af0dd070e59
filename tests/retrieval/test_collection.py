"""Embedding a collection: parts written as they finish, resumption, the bad-image policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from siamkit.models.encoder import Encoder
from siamkit.retrieval import collection
from siamkit.retrieval.index import EmbeddingIndex
from siamkit.train.cli import main


def test_an_interrupted_embed_resumes_and_bad_images_follow_the_policy(encoder_folder, photo_folder, tmp_path,
                                                                         monkeypatch, capsys):
    (photo_folder / "zz_broken.jpg").write_bytes(b"\xff\xd8 truncated")
    encoder = Encoder.load(encoder_folder)
    images = collection.list_images(photo_folder)
    out = tmp_path / "index"
    with pytest.raises(Exception, match="zz_broken.jpg.*rerun to resume"):
        collection.embed_collection(images, encoder, out, str(encoder_folder), part_size=2, num_workers=0)
    finished = sorted((out / "parts").glob("*.json"))
    assert len(finished) == 3  # the parts before the bad image's are kept
    calls = []
    original = collection._embed_part
    monkeypatch.setattr(collection, "_embed_part", lambda names,
                        *a: calls.append(names) or original(names, *a))
    meta = collection.embed_collection(images, encoder, out, str(encoder_folder), part_size=2, num_workers=0,
                                       on_bad_image="skip")
    assert len(calls) == 1  # only the unfinished part is embedded
    assert [Path(s["file"]).name for s in meta["skipped"]] == ["zz_broken.jpg"]
    assert len(EmbeddingIndex.load(out).files) == 6
    assert main(["embed", str(photo_folder), "--encoder", str(encoder_folder), "--out", str(tmp_path / "i2"),
                 "--num-workers", "0"]) == 2
    assert "zz_broken.jpg" in capsys.readouterr().err
