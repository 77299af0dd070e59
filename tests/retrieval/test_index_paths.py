"""An index's image paths are stored relative to the index folder: it answers from any working
folder, moves with its images, and knows one file by any spelling."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from siamkit import progress
from siamkit.cli.program import main
from siamkit.models.encoder import Encoder
from siamkit.retrieval.index import EmbeddingIndex
from siamkit.retrieval.index_paths import reached, stored


def _embed(images: str, out: str, encoder_folder: Path, *options: str) -> int:
    return main(["embed", images, "--encoder", str(encoder_folder), "--out", out, "--num-workers", "0",
                 *options])


def test_search_from_another_folder_prints_paths_that_resolve_there(encoder_folder, class_folder, tmp_path,
                                                                      monkeypatch, capsys):
    monkeypatch.chdir(class_folder.parent)
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)  # a log's line at once, as if it took minutes
    assert _embed("classes", "index", encoder_folder) == 0
    assert (Path("index") / "files.txt").read_text().startswith("../classes/")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert main(["search", "../classes/class1/0.png", "--index", "../index", "-k", "3"]) == 0
    said = capsys.readouterr()
    assert "embedding the queries: 100%" in said.err
    hits = [line.split()[-1] for line in said.out.splitlines()[1:]]
    assert hits[0] == "../classes/class1/0.png" and all(Path(hit).is_file() for hit in hits)


def test_search_says_when_an_image_it_found_is_gone_since_the_index_was_made(encoder_folder, class_folder,
                                                                            tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(class_folder, "mine")
    assert _embed("mine", "index", encoder_folder) == 0
    capsys.readouterr()
    assert main(["search", "mine/class1/0.png", "--index", "index", "-k", "2"]) == 0
    said = capsys.readouterr()
    assert "no longer" not in said.err
    second = said.out.splitlines()[2].split()[-1]
    Path(second).unlink()
    assert main(["search", "mine/class1/0.png", "--index", "index", "-k", "2", "--json"]) == 0
    assert (f"note: 1 image found is no longer where index has it (e.g. {second}): the index is older than "
            "its folder; `train embed IMAGES --encoder ... --out index` brings it up to date"
            ) in capsys.readouterr().err


def test_an_index_moved_with_its_images_and_encoder_still_finds_them(encoder_folder, class_folder, tmp_path,
                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(encoder_folder, "encoder")
    assert _embed("classes", "index", tmp_path / "encoder") == 0
    for folder in ("classes", "index", "encoder"):
        shutil.move(folder, f"moved/{folder}")
    index = EmbeddingIndex.load("moved/index")
    assert all(Path(f).is_file() for f in index.files) and index.files[0].startswith("moved/classes/")
    assert index.meta["encoder"] == "moved/encoder"
    assert main(["search", index.files[0], "--index", "moved/index"]) == 0, "it finds its encoder too"
    np.testing.assert_allclose(index.embeddings[:3], Encoder.load(encoder_folder).embed(index.files[:3]),
                               atol=1e-6)


def test_a_rerun_that_spells_the_folders_another_way_embeds_nothing_again(encoder_folder, class_folder,
                                                                          tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _embed(str(class_folder), "index", encoder_folder) == 0
    written = (tmp_path / "index" / "embeddings.npy").stat().st_mtime_ns
    assert _embed("./classes", str(tmp_path / "index"), encoder_folder) == 0
    said = capsys.readouterr().out
    assert "embedded 32 images (64-d) into index\n" in said
    assert "embedded 0 images (64-d) into " + str(tmp_path / "index") + ", which holds 32 in all" in said
    assert (tmp_path / "index" / "embeddings.npy").stat().st_mtime_ns == written, "the complete index reused"


def test_a_skipped_image_is_named_as_it_is_reached(encoder_folder, class_folder, tmp_path, monkeypatch):
    (class_folder / "class0" / "broken.png").write_bytes(b"not a png")
    monkeypatch.chdir(tmp_path)
    assert _embed("classes", "index", encoder_folder, "--on-bad-image", "skip") == 0
    on_disk = json.loads(Path("index/index.json").read_text())["skipped"]
    assert [entry["file"] for entry in on_disk] == ["../classes/class0/broken.png"]
    assert [bad.file for bad in EmbeddingIndex.load("index").skipped] == ["classes/class0/broken.png"]


def test_paths_below_the_index_folders_parent_are_relative_and_others_absolute(tmp_path):
    project = tmp_path / "project"
    assert stored(str(project / "photos" / "a.jpg"), project / "index") == "../photos/a.jpg"
    assert stored(str(project / "index" / "a.jpg"), project / "index") == "a.jpg"
    elsewhere = str(tmp_path / "data" / "a.jpg")  # stays where it is when the project moves
    assert stored(elsewhere, project / "index") == elsewhere
    assert reached(elsewhere, Path("project/index")) == elsewhere
    assert reached("../photos/a.jpg", Path("project/index")) == "project/photos/a.jpg"


def test_an_index_of_the_earlier_format_reads_its_paths_as_given(encoder_folder, class_folder, tmp_path,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _embed("classes", "index", encoder_folder) == 0
    meta = json.loads(Path("index/index.json").read_text())
    Path("index/index.json").write_text(json.dumps({**meta, "format": "siamkit-index/1"}))
    Path("index/files.txt").write_text("".join(f"classes/{i}.png\n" for i in range(meta["count"])))
    assert EmbeddingIndex.load("index").files[:2] == ["classes/0.png", "classes/1.png"]


def test_an_interrupted_run_continues_from_another_folder(encoder_folder, class_folder, tmp_path,
                                                          monkeypatch):
    encoder_type = type(Encoder.load(encoder_folder))
    original, calls = encoder_type.forward, []

    def interrupted_on_the_second_batch(self, images):
        calls.append(len(images))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, images)

    monkeypatch.setattr(encoder_type, "forward", interrupted_on_the_second_batch)
    monkeypatch.chdir(tmp_path)
    assert _embed("classes", "index", encoder_folder, "--batch-size", "8") == 130
    monkeypatch.chdir(class_folder)
    calls.clear()
    monkeypatch.setattr(encoder_type, "forward", lambda self, images: calls.append(len(images)) or original(
        self, images))
    assert _embed(".", "../index", encoder_folder, "--batch-size", "8") == 0
    assert sum(calls) == 24, "the first batch, kept in the journal, is not embedded again"
    assert sorted(EmbeddingIndex.load("../index").files)[:2] == ["../classes/class0/0.png",
                                                                 "../classes/class0/1.png"]


def test_an_index_whose_encoder_moved_asks_for_its_new_place(encoder_folder, class_folder, tmp_path,
                                                              monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(encoder_folder, "encoder")
    assert _embed("classes", "index", tmp_path / "encoder") == 0
    shutil.move("encoder", "moved")
    capsys.readouterr()
    assert main(["search", "classes/class0/0.png", "--index", "index"]) == 2
    said = capsys.readouterr().err
    assert said == ("error: the index index was embedded with the encoder encoder, which is not there any "
                    "more: pass --encoder with where it is now (its fingerprint is checked)\n")
    assert main(["search", "classes/class0/0.png", "--index", "index", "--encoder", "moved"]) == 0
    assert _embed("classes", "index", tmp_path / "moved") == 0  # nothing to embed: the new place is kept
    assert json.loads(Path("index/index.json").read_text())["encoder"] == "../moved"
    assert main(["search", "classes/class0/0.png", "--index", "index"]) == 0
