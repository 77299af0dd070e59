"""Embedding a collection: every finished batch kept, resumption, the bad-image policy, and what
listing a folder passes over."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siamkit.errors import ImageLoadError, SiamkitError
from siamkit.folders import holding
from siamkit.models.encoder import Encoder
from siamkit.retrieval import collection
from siamkit.retrieval.index import EmbeddingIndex
from siamkit.retrieval.journal import EmbeddingJournal


@pytest.fixture
def counted(encoder_folder, monkeypatch) -> tuple[Encoder, list[int]]:
    """The tiny encoder, counting the images it embeds."""
    encoder = Encoder.load(encoder_folder)
    seen: list[int] = []
    original = type(encoder).forward
    monkeypatch.setattr(type(encoder), "forward", lambda self, images: seen.append(len(images)) or original(
        self, images))
    return encoder, seen


def _folder(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")
    return folder


def test_a_bad_image_at_300_of_301_loses_no_finished_batch(counted, tmp_path):
    encoder, seen = counted
    folder = _folder(tmp_path, 300)
    (folder / "zz_empty.png").write_bytes(b"")
    listing = collection.list_images(folder)
    out = tmp_path / "index"
    with pytest.raises(ImageLoadError,
                       match="zz_empty.png: empty file .*300 images embedded so far are kept"):
        collection.embed_collection(listing, encoder, out, "tiny", batch_size=64, num_workers=0)
    assert sum(seen) == 300 and not (out / "index.json").exists(), "nothing that looks complete"
    seen.clear()
    meta, embedded = collection.embed_collection(listing, encoder, out, "tiny", batch_size=64, num_workers=0,
                                                 on_bad_image="skip")
    assert sum(seen) <= 64, "a rerun embeds at most the batch that was in flight"
    assert embedded == sum(seen), "what this call embedded, not what the index holds"
    assert meta["count"] == 300 and [Path(s["file"]).name for s in meta["skipped"]] == ["zz_empty.png"]
    index = EmbeddingIndex.load(out)
    expected = encoder.embed(index.files[:5])
    np.testing.assert_allclose(index.embeddings[:5], expected, atol=1e-6)
    assert not (out / "partial").exists()


def _four_done(encoder, tmp_path, count: int):
    """A folder of ``count`` images and the journal of a run that embedded the first four."""
    folder = _folder(tmp_path, count)
    journal = EmbeddingJournal.open(tmp_path / "index", encoder.fingerprint, encoder.embedding_dim)
    paths = collection.list_images(folder).images
    journal.append(paths[:4], encoder.embed(paths[:4]))
    return folder, journal, paths


def _embed_again(encoder, folder, out) -> None:
    collection.embed_collection(collection.list_images(folder), encoder, out, "tiny", batch_size=4,
                                num_workers=0)


def test_a_crash_mid_batch_is_cut_off_and_new_images_extend_an_index(counted, tmp_path):
    encoder, seen = counted
    folder, journal, _ = _four_done(encoder, tmp_path, 10)
    out = tmp_path / "index"
    with open(journal.folder / "vectors.f32", "ab") as vectors:  # rows of a batch whose log never came
        vectors.write(b"\x00" * 4 * encoder.embedding_dim * 3)
    with open(journal.folder / "log.jsonl", "a") as log:
        log.write('{"file": "cut off mid-li')
    seen.clear()
    _embed_again(encoder, folder, out)
    assert sum(seen) == 6
    index = EmbeddingIndex.load(out)
    np.testing.assert_allclose(index.embeddings, encoder.embed(index.files), atol=1e-6)
    for i in range(10, 13):
        (folder / f"{i:04d}.png").write_bytes((folder / "0000.png").read_bytes())
    seen.clear()
    _embed_again(encoder, folder, out)
    assert sum(seen) == 3 and len(EmbeddingIndex.load(out).files) == 13


def test_images_no_longer_listed_leave_the_index_with_a_note(counted, tmp_path, capsys):
    encoder, _ = counted
    folder = _folder(tmp_path, 5)
    out = tmp_path / "index"
    _embed_again(encoder, folder, out)
    (folder / "0000.png").unlink()
    (folder / "0001.png").unlink()
    _embed_again(encoder, folder, out)
    assert [Path(f).name for f in EmbeddingIndex.load(out).files] == ["0002.png", "0003.png", "0004.png"]
    assert (f"note: 2 images in {out} are not among the images listed now (removed since, or the index was "
            "made from another folder) and left out") in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["cut vectors", "garbage line"])
def test_a_damaged_journal_resumes_from_what_it_can_trust(damage, counted, tmp_path):
    """Rows lost from vectors.f32, or a line that is not JSON, mid-log: the images from there on
    are embedded again, and no row of the index is made up."""
    encoder, seen = counted
    folder, journal, paths = _four_done(encoder, tmp_path, 8)
    out = tmp_path / "index"
    if damage == "cut vectors":
        with open(journal.folder / "vectors.f32", "r+b") as vectors:
            vectors.truncate(4 * encoder.embedding_dim * 2 + 7)
    else:
        lines = (journal.folder / "log.jsonl").read_text().splitlines(keepends=True)
        (journal.folder / "log.jsonl").write_text("".join([*lines[:3], "garbage\n", *lines[3:]]))
    seen.clear()
    _embed_again(encoder, folder, out)
    assert sum(seen) == (6 if damage == "cut vectors" else 5)
    index = EmbeddingIndex.load(out)
    assert sorted(index.files) == paths
    np.testing.assert_allclose(index.embeddings, encoder.embed(index.files), atol=1e-6)


def test_listing_reports_what_it_passes_over(tmp_path):
    folder = _folder(tmp_path, 2)
    (folder / "notes.txt").write_text("not an image")
    os.symlink(folder / "loop.jpg", folder / "loop.jpg")
    os.mkfifo(folder / "pipe.png")
    os.symlink(folder, folder / "again")  # a link to a folder is not followed: no endless walk
    (folder / "._0000.png").write_bytes(b"\x00\x05\x16\x07 macOS's companion file")
    (folder / ".ipynb_checkpoints").mkdir()  # a notebook's copies: duplicates of every image
    (folder / ".ipynb_checkpoints" / "0000-checkpoint.png").write_bytes((folder / "0000.png").read_bytes())
    listing = collection.list_images(folder)
    assert [Path(p).name for p in listing.images] == ["0000.png", "0001.png"]
    reasons = {Path(bad.file).name: bad.reason for bad in listing.skipped}
    assert reasons.keys() == {"notes.txt", "loop.jpg", "pipe.png", "._0000.png", ".ipynb_checkpoints"}
    assert "hidden file" in reasons["._0000.png"] and "hidden folder" in reasons[".ipynb_checkpoints"]
    assert "not an image file type (.txt)" in reasons["notes.txt"] and "link" in reasons["loop.jpg"]
    assert reasons["pipe.png"] == "not a regular file"


def test_ctrl_c_keeps_the_finished_batches_and_the_same_command_continues(encoder_folder, tmp_path,
                                                                          monkeypatch,
                                                                           capsys):
    from siamkit.cli.program import main

    folder = _folder(tmp_path, 40)
    encoder_type = type(Encoder.load(encoder_folder))
    original = encoder_type.forward
    calls = []

    def interrupted_on_the_third_batch(self, images):
        calls.append(len(images))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, images)

    monkeypatch.setattr(encoder_type, "forward", interrupted_on_the_third_batch)
    command = ["embed", str(folder), "--encoder", str(encoder_folder), "--out", str(tmp_path / "index"),
               "--batch-size", "8", "--num-workers", "0"]
    assert main(command) == 130
    assert "16 embedded images kept" in capsys.readouterr().err
    calls.clear()
    monkeypatch.setattr(encoder_type, "forward", lambda self, images: calls.append(len(images)) or original(
        self, images))
    assert main(command) == 0
    assert sum(calls) == 24 and len(EmbeddingIndex.load(tmp_path / "index").files) == 40


def test_an_index_of_another_encoder_is_replaced_with_a_note(encoder_folder, tmp_path, capsys):
    encoder, other = Encoder.load(encoder_folder), Encoder.load(encoder_folder)
    other.card.fingerprint = "another encoder's"
    folder, out = _folder(tmp_path, 3), tmp_path / "index"
    _embed_again(encoder, folder, out)
    assert "note:" not in capsys.readouterr().err
    _embed_again(other, folder, out)
    assert f"note: {out} holds an index of another encoder" in capsys.readouterr().err
    assert EmbeddingIndex.load(out).meta["fingerprint"] == "another encoder's"


def test_an_index_of_the_same_weights_by_another_runtime_is_named_so(quantized_folder, tmp_path, capsys):
    """int8 embeddings are not float ones, so an index holds one kind: "another encoder" said it wrong."""
    from siamkit.cli.program import main

    folder, out = _folder(tmp_path, 3), tmp_path / "index"
    command = ["embed", str(folder), "--encoder", str(quantized_folder), "--out", str(out),
               "--num-workers", "0"]
    assert main([*command, "--runtime", "torch"]) == 0
    capsys.readouterr()
    assert main([*command, "--runtime", "int8"]) == 0
    assert (f"note: {out} holds this encoder's embeddings by runtime torch, which int8 and float embeddings "
            "cannot share; it is replaced once this one is complete") in capsys.readouterr().err
    assert EmbeddingIndex.load(out).meta["runtime"] == "int8"
    (out / "index.json").write_text("{")
    assert main([*command, "--runtime", "int8"]) == 0
    assert f"note: {out} holds an index that cannot be read; it is replaced" in capsys.readouterr().err


def test_photographs_of_every_format_pillow_reads_are_listed_and_heic_is_named(tmp_path):
    from PIL import features

    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "saved.jfif", format="JPEG")  # as Windows saves some JPEGs
    if features.check("avif"):
        Image.fromarray(pixels).save(tmp_path / "phone.avif")
    (tmp_path / "iphone.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    listing = collection.list_images(tmp_path)
    assert sorted(Path(p).name for p in listing.images) == sorted(
        ["saved.jfif"] + (["phone.avif"] if features.check("avif") else []))
    assert [bad.reason for bad in listing.skipped] == [
        "a HEIC photo, which Pillow cannot read: convert it to JPEG (heif-convert)"]


def test_a_second_command_into_an_index_being_written_is_refused_and_the_first_keeps_its_work(counted,
                                                                                              tmp_path):
    encoder, _ = counted
    folder, journal, _ = _four_done(encoder, tmp_path, 6)
    with holding(tmp_path / "index", "index", "the first"):  # as a `train embed` still running holds it
        with pytest.raises(SiamkitError, match="is being written by another command still running"):
            _embed_again(encoder, folder, tmp_path / "index")
        kept = EmbeddingJournal.open(tmp_path / "index", encoder.fingerprint, encoder.embedding_dim)
        assert len(kept.files) == 4, "the refused command touched none of the first one's work"
    _embed_again(encoder, folder, tmp_path / "index")  # once the first has ended
    assert len(EmbeddingIndex.load(tmp_path / "index").files) == 6


def test_more_workers_than_usable_cpus_embed_with_one_a_cpu_and_say_so(counted, tmp_path, monkeypatch,
                                                                        capsys):
    """As `data.num_workers` in a fit: torch warns that so many may slow loading down or freeze it."""
    from siamkit.data import datasets

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    datasets.fewer_workers.cache_clear()
    encoder, seen = counted
    meta, embedded = collection.embed_collection(collection.list_images(_folder(tmp_path, 3)), encoder,
                                                 tmp_path / "index", "tiny", batch_size=2, num_workers=4)
    datasets.fewer_workers.cache_clear()
    assert embedded == 3
    assert ("note: --num-workers 4 is more than the 1 CPU this process may use: loading with 1 worker"
            in capsys.readouterr().err)


def _replace(path: Path, seed: int) -> None:
    """Other pixels under the same name, a minute later (file systems keep times coarsely)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 60 * 10**9))


def test_images_changed_in_place_are_embedded_again_and_a_fixed_bad_one_is_read(counted, tmp_path):
    encoder, seen = counted
    folder, out = _folder(tmp_path, 4), tmp_path / "index"
    (folder / "zz_empty.png").write_bytes(b"")
    embed = lambda policy="skip": collection.embed_collection(  # noqa: E731
        collection.list_images(folder), encoder, out, "tiny", batch_size=4, num_workers=0,
        on_bad_image=policy)
    embed()
    seen.clear()
    assert embed()[1] == 0 and not seen, "nothing changed: nothing embedded"
    _replace(folder / "0001.png", 7)
    _replace(folder / "zz_empty.png", 8)
    meta, embedded = embed()
    assert embedded == sum(seen) == 2 and meta["count"] == 5 and meta["skipped"] == []
    index = EmbeddingIndex.load(out)
    np.testing.assert_allclose(index.embeddings, encoder.embed(index.files), atol=1e-6)
    (folder / "0002.png").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="0002.png: empty file"):
        embed("error")
    meta, _ = embed()
    assert meta["count"] == 4 and [Path(bad["file"]).name for bad in meta["skipped"]] == ["0002.png"]
    assert "0002.png" not in {Path(f).name for f in EmbeddingIndex.load(out).files}, "its old row left"


def test_an_index_from_before_stamps_is_taken_as_unchanged_once_with_a_note(counted, tmp_path, capsys):
    encoder, seen = counted
    folder, out = _folder(tmp_path, 3), tmp_path / "index"
    _embed_again(encoder, folder, out)
    (out / "stamps.npy").unlink()
    seen.clear()
    _embed_again(encoder, folder, out)
    assert not seen and (out / "stamps.npy").is_file()
    assert (f"note: 3 images in {out} were embedded with no readable record of file sizes and times (an "
            "index from an older siamkit, or a damaged stamps.npy), and are taken as unchanged since"
            ) in capsys.readouterr().err
    _replace(folder / "0000.png", 9)
    _embed_again(encoder, folder, out)
    assert sum(seen) == 1 and "note" not in capsys.readouterr().err
    index = EmbeddingIndex.load(out)
    np.testing.assert_allclose(index.embeddings, encoder.embed(index.files), atol=1e-6)


def test_an_index_from_before_shrinking_by_area_is_embedded_again_and_search_says_so(counted, encoder_folder,
                                                                                     tmp_path, capsys):
    import json

    from siamkit.cli.program import main

    encoder, seen = counted
    folder, out = _folder(tmp_path, 3), tmp_path / "index"
    _embed_again(encoder, folder, out)
    assert json.loads((out / "index.json").read_text())["shrink"] == "area"
    meta = json.loads((out / "index.json").read_text())
    del meta["shrink"]  # as siamkit wrote it before
    (out / "index.json").write_text(json.dumps(meta))
    assert main(["search", str(folder / "0000.png"), "--index", str(out), "--encoder", str(encoder_folder),
                 "-k", "1"]) == 0
    assert (f"note: {out} was embedded before siamkit shrank images by area, and its images larger than the "
            "encoder's input embedded aliased, unlike these queries") in capsys.readouterr().err
    seen.clear()
    _embed_again(encoder, folder, out)
    assert sum(seen) == 3 and EmbeddingIndex.load(out).resized_as_today
    assert f"note: {out} was embedded before siamkit shrank images by area" in capsys.readouterr().err
