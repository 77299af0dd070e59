"""`train duplicates` end to end: stages, groups, --against, moving and undoing; `train leaks`."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from siamkit.cli import duplicates
from siamkit.cli import leaks as leaks_command
from siamkit.cli.program import main
from siamkit.models.encoder import Encoder


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def collection(photo_folder) -> Path:
    """photo_folder (five photographs, p0_copy.png: p0's bytes) plus p2_again.png (p2's pixels,
    other bytes), a turned copy of p3, and two files that are not readable images."""
    Image.open(photo_folder / "p2.png").save(photo_folder / "p2_again.png", compress_level=0)
    Image.fromarray(np.rot90(np.asarray(Image.open(photo_folder / "p3.png"))).copy()).save(
        photo_folder / "more" / "p3_turned.png")
    (photo_folder / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    (photo_folder / "notes.txt").write_text("not an image")
    return photo_folder


def test_exact_copies_are_grouped_before_the_model_and_skipped_files_named(encoder_folder, collection,
                                                                          tmp_path, capsys):
    out = tmp_path / "dups"
    assert main(["duplicates", str(collection), "--encoder", str(encoder_folder), "--out", str(out),
                 "--threshold", "0.99999", "--num-workers", "0", "--on-bad-image", "skip"]) == 0
    printed = capsys.readouterr().out
    assert "9 images: 2 exact copies, 6 distinct pictures go on to encoder" in printed
    assert "passed over 2 (listed in" in printed and "notes.txt: not an image file type (.txt)" in printed
    rows = _rows(out / "duplicates.csv")
    groups = {}
    for row in rows:
        groups.setdefault(row["group"], []).append(row)
    names = sorted(sorted(Path(r["file"]).name for r in g) for g in groups.values())
    assert names == [["p0.png", "p0_copy.png"], ["p2.png", "p2_again.png"]]
    why = sorted(r["why"].split(";")[0] for r in rows if r["representative"] == "yes")
    assert why == ["exact copies (same bytes)", "exact copies (same pixels)"]
    kept = [r for r in rows if r["keep"] == "yes"]
    assert len(kept) == 2 and all("largest: 64x64 px" in r["why"] for r in kept)
    page = (out / "duplicates.html").read_text()
    assert "2 files skipped" in page and "broken.jpg" in page
    assert {p.name for p in out.iterdir()} <= set(duplicates.OWN_FILES), "the names --out is checked for"


def test_a_rerun_embeds_only_new_images(encoder_folder, photo_folder, tmp_path, monkeypatch):
    embedded = []
    original = Encoder.embed_batch
    monkeypatch.setattr(Encoder, "embed_batch", lambda self, images: embedded.append(len(images)) or
                        original(self, images))
    command = ["duplicates", str(photo_folder), "--encoder", str(encoder_folder), "--out",
               str(tmp_path / "d"),
               "--threshold", "0.9", "--num-workers", "0"]
    assert main(command) == 0 and sum(embedded) == 5  # six files, one an exact copy
    Image.fromarray(data.horse().astype(np.uint8) * 255).convert("RGB").save(photo_folder / "horse.png")
    embedded.clear()
    assert main(command) == 0 and sum(embedded) == 1


def test_pdq_dihedral_finds_a_turned_copy_that_pdq_misses(collection, tmp_path, capsys):
    found = {}
    for method in ("pdq", "pdq:dihedral"):
        out = tmp_path / method.replace(":", "_")
        assert main(["duplicates", str(collection), "--method", method, "--out", str(out),
                     "--on-bad-image", "skip"]) == 0
        found[method] = {Path(r["file"]).name for r in _rows(out / "duplicates.csv")}
    assert "p3_turned.png" not in found["pdq"] and {"p3.png", "p3_turned.png"} <= found["pdq:dihedral"]


UNRELATED = ("coffee", "chelsea", "rocket", "camera")


def _region_copy_and_unrelated(folder: Path) -> None:
    """region.png, region_turned_half.png (it turned and at half size), and four unrelated
    photographs: a loose hash threshold links some of them, SIFT only the copy."""
    folder.mkdir()
    region = data.astronaut()[:256, 100:356]
    Image.fromarray(region).save(folder / "region.png")
    Image.fromarray(np.rot90(region)[::2, ::2].copy()).save(folder / "region_turned_half.png")
    for name in UNRELATED:
        Image.fromarray(getattr(data, name)()).convert("RGB").save(folder / f"{name}.png")


def test_sift_recheck_keeps_the_copy_of_a_loose_hash_and_drops_the_rest(tmp_path, capsys):
    folder = tmp_path / "photos"
    _region_copy_and_unrelated(folder)
    out = tmp_path / "dups"
    assert main(["duplicates", str(folder), "--method", "pdq:dihedral", "--threshold", "0.5", "--out",
                 str(out), "--recheck-sift", "--num-workers", "0"]) == 0
    candidates = int(re.search(r"(\d+) pairs? of pictures", capsys.readouterr().out).group(1))
    assert candidates > 1
    assert {Path(r["file"]).name for r in _rows(out / "duplicates.csv")} == {"region.png",
                                                                             "region_turned_half.png"}
    queries = tmp_path / "queries"
    queries.mkdir()
    shutil.move(folder / "region_turned_half.png", queries / "region_turned_half.png")
    shutil.copy(folder / "coffee.png", queries / "coffee_again.png")
    assert main(["duplicates", str(queries), "--against", str(folder), "--method", "pdq:dihedral",
                 "--threshold", "0.5", "--out", str(tmp_path / "copies"), "--recheck-sift",
                 "--num-workers", "0"]) == 0
    matches = {(Path(r["query"]).name, Path(r["reference"]).name)
               for r in _rows(tmp_path / "copies" / "matches.csv")}
    assert matches == {("region_turned_half.png", "region.png"), ("coffee_again.png", "coffee.png")}


def test_star_groups_do_not_chain_where_components_do(tmp_path):
    """Five vectors along an arc, each 0.95 from the next: components chain all five, star
    groups keep every member within the threshold of its representative."""
    from siamkit.retrieval.candidates import embedding_pairs
    from siamkit.retrieval.grouping import group_pairs

    angles = np.arange(5) * np.arccos(0.95)
    vectors = np.stack([np.cos(angles), np.sin(angles)], 1).astype(np.float32)
    pairs, scores = embedding_pairs(vectors, 0.949)
    assert len(group_pairs(pairs, scores, 5, "components")) == 1
    stars = group_pairs(pairs, scores, 5)
    for group in stars:
        centre = vectors[group.members[0]]
        assert all(vectors[m] @ centre >= 0.949 for m in group.members)
    assert sorted(m for g in stars for m in g.members) == sorted(set(m for g in stars for m in g.members))


def test_against_reports_copies_and_moves_them_undoably(collection, tmp_path, capsys):
    reference = tmp_path / "reference"
    reference.mkdir()
    shutil.copy(collection / "p1.png", reference / "p1_ref.png")
    Image.open(collection / "p4.png").convert("RGB").save(reference / "p4.jpg", quality=85)
    out, moved = tmp_path / "out", tmp_path / "moved"
    assert main(["duplicates", str(collection), "--against", str(reference), "--method", "pdq", "--out",
                 str(out),
                 "--on-bad-image", "skip", "--action", "move", "--to", str(moved)]) == 0
    matches = {(Path(r["query"]).name, Path(r["reference"]).name): r["stage"]
               for r in _rows(out / "matches.csv")}
    assert matches == {("p1.png", "p1_ref.png"): "same bytes", ("p4.png", "p4.jpg"): "pdq"}
    assert {p.name for p in out.iterdir()} <= set(duplicates.OWN_FILES)
    assert not (collection / "p1.png").exists()
    assert (moved / "p1.png").exists() and (moved / "p4.png").exists()
    printed = capsys.readouterr().out
    assert "2 of 9 query images have copies" in printed
    assert main(["duplicates", "--undo", str(moved / "siamkit-moves.jsonl")]) == 0
    assert (collection / "p1.png").exists() and (collection / "p4.png").exists()
    assert not (moved / "p1.png").exists()
    assert "moved 2 files back to where they were" in capsys.readouterr().out


def test_an_interrupted_move_says_how_many_moved_and_is_undone_exactly(tmp_path, monkeypatch, capsys):
    from siamkit.retrieval import moves

    source = tmp_path / "images"
    (source / "sub").mkdir(parents=True)
    files = [source / "a.png", source / "b.png", source / "sub" / "c.png"]
    for f in files:
        f.write_bytes(f.name.encode())
    real_move, calls = moves._move, []

    def move_then_fail(a, b):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(a)
        real_move(a, b)

    monkeypatch.setattr(moves, "_move", move_then_fail)
    with pytest.raises(KeyboardInterrupt):
        moves.move_files([str(f) for f in files], source, tmp_path / "to")
    said = capsys.readouterr().err
    assert "interrupted: 2 of 3 files had moved before it, and `train duplicates --undo" in said
    monkeypatch.setattr(moves, "_move", real_move)
    assert [f.exists() for f in files] == [False, False, True]
    assert moves.undo_moves(tmp_path / "to" / moves.MANIFEST) == 2
    assert all(f.exists() for f in files) and [f.read_bytes() for f in files] == [b"a.png", b"b.png",
                                                                                  b"c.png"]


def test_leaks_lists_a_copy_across_splits(tmp_path, capsys):
    folder = tmp_path / "leaky"
    folder.mkdir()
    rows = ["path,label,split"]
    for i, name in enumerate(("astronaut", "coffee", "chelsea", "rocket", "camera", "horse")):
        image = getattr(data, name)()
        image = image if image.dtype == np.uint8 else image.astype(np.uint8) * 255
        Image.fromarray(image).convert("RGB").resize((48, 48)).save(folder / f"{name}.png")
        rows.append(f"{name}.png,{i % 2},{'train' if i < 4 else 'test'}")
    Image.open(folder / "coffee.png").save(folder / "coffee_val.jpg", quality=80)
    rows.append("coffee_val.jpg,1,val")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    assert main(["leaks", "--data", str(folder / "labels.csv"), "--out", str(tmp_path / "leaks")]) == 1
    err = capsys.readouterr().err
    assert "1 near-duplicate pair of" in err and "coffee_val.jpg (val)" in err
    assert "<h1>1 near-duplicate pair across splits (" in (tmp_path / "leaks" / "leaks.html").read_text()
    assert {p.name for p in (tmp_path / "leaks").iterdir()} <= set(leaks_command.OWN_FILES)
    leaks = _rows(tmp_path / "leaks" / "leaks.csv")
    assert [(Path(r["a"]).name, r["split_a"], Path(r["b"]).name, r["split_b"]) for r in leaks] == [
        ("coffee.png", "train", "coffee_val.jpg", "val")]
    (folder / "coffee_val.jpg").unlink()
    (folder / "labels.csv").write_text("\n".join(rows[:-1]) + "\n")
    assert main(["leaks", "--data", str(folder / "labels.csv"), "--out", str(tmp_path / "none")]) == 0


def test_leaks_with_the_sift_recheck_keep_only_the_copy(tmp_path, capsys):
    folder = tmp_path / "leaky"
    _region_copy_and_unrelated(folder)
    rows = ["path,label,split", "region.png,0,train", "region_turned_half.png,0,test"]
    rows += [f"{name}.png,{i % 2},{('train', 'val')[i % 2]}" for i, name in enumerate(UNRELATED)]
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    loose = ["leaks", "--data", str(folder / "labels.csv"), "--method", "pdq:dihedral", "--threshold", "0.5"]
    assert main([*loose, "--out", str(tmp_path / "loose")]) == 1
    assert len(_rows(tmp_path / "loose" / "leaks.csv")) > 1
    assert main([*loose, "--out", str(tmp_path / "checked"), "--recheck-sift"]) == 1
    assert [(Path(r["a"]).name, Path(r["b"]).name) for r in _rows(tmp_path / "checked" / "leaks.csv")] == [
        ("region.png", "region_turned_half.png")]


def test_leaks_reads_source_and_splits_from_a_fit_config(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "horse"):
        image = getattr(data, name)()
        image = image if image.dtype == np.uint8 else image.astype(np.uint8) * 255
        Image.fromarray(image).convert("RGB").resize((48, 48)).save(folder / f"{name}.png")
        Image.open(folder / f"{name}.png").save(folder / f"{name}_copy.jpg", quality=80)
    config = tmp_path / "fit.yaml"
    config.write_text(f"data:\n  source: {folder}\n  split_fractions: [0.5, 0.25, 0.25]\n")
    assert main(["leaks", "--config", str(config), "--out", str(tmp_path / "config")]) == 1
    assert main(["leaks", "--data", str(folder), "--split-fractions", "0.5", "0.25", "0.25", "--out",
                 str(tmp_path / "flags")]) == 1
    assert _rows(tmp_path / "config" / "leaks.csv") == _rows(tmp_path / "flags" / "leaks.csv")
    main(["leaks", "--config", str(config), "--split-seed", "3", "--out", str(tmp_path / "reseeded")])
    assert _rows(tmp_path / "reseeded" / "leaks.csv") != _rows(tmp_path / "config" / "leaks.csv")


def test_leaks_lists_those_between_the_source_and_val_data_as_the_fit_finds_them(tmp_path, capsys):
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera"):
        Image.fromarray(getattr(data, name)()).resize((48, 48)).save(tmp_path / f"{name}.png")
    (tmp_path / "photos.csv").write_text("path,split\nastronaut.png,train\ncoffee.png,train\n"
                                         "chelsea.png,val\n")
    for name in ("astronaut", "coffee", "rocket"):  # rocket's copy in val_data's train split: no leak
        Image.open(tmp_path / f"{name}.png").save(tmp_path / f"{name}_copy.jpg", quality=70)
    noise = np.random.default_rng(0).integers(0, 256, (48, 48, 3), np.uint8)
    Image.fromarray(noise).save(tmp_path / "noise.png")
    (tmp_path / "pairs.csv").write_text("a,b,label,split\nrocket.png,astronaut_copy.jpg,0,val\n"
                                        "camera.png,coffee_copy.jpg,0,test\nrocket_copy.jpg,noise.png,0,train\n")
    (tmp_path / "fit.yaml").write_text(f"data:\n  source: {tmp_path / 'photos.csv'}\n"
                                       f"  val_data: {tmp_path / 'pairs.csv'}\n")
    out = tmp_path / "leaks"
    assert main(["leaks", "--data", str(tmp_path / "photos.csv"), "--val-data", str(tmp_path / "pairs.csv"),
                 "--out", str(out)]) == 1
    assert "2 near-duplicate pairs of" in capsys.readouterr().err
    assert sorted((Path(r["a"]).name, r["split_a"], Path(r["b"]).name, r["split_b"]) for r in _rows(
        out / "leaks.csv")) == [("astronaut.png", "train", "astronaut_copy.jpg", "val"),
                                ("coffee.png", "train", "coffee_copy.jpg", "test")]
    assert main(["leaks", "--config", str(tmp_path / "fit.yaml"), "--out", str(tmp_path / "config")]) == 1
    assert _rows(tmp_path / "config" / "leaks.csv") == _rows(out / "leaks.csv")
    assert main(["leaks", "--data", str(tmp_path / "photos.csv"), "--out", str(tmp_path / "source")]) == 0


def test_a_calibrated_threshold_is_said_with_its_source_and_on_classes_to_mean_one_class(
        encoder_folder, photo_folder, tmp_path, capsys):
    """The digits encoder's calibrated threshold, on leaks, had marked 55,425 same-digit pairs."""
    folder = shutil.copytree(encoder_folder, tmp_path / "encoder")
    card = json.loads((folder / "config.json").read_text())
    assert card["trained_on"]["kind"] == "classes"
    card["calibration"] = {"threshold": 0.9, "rule": "best_f1", "data": "demo:digits", "split": "val",
                           "pairs": 100}
    (folder / "config.json").write_text(json.dumps(card))
    command = ["duplicates", str(photo_folder), "--encoder", str(folder), "--num-workers", "0"]
    assert main([*command, "--out", str(tmp_path / "found")]) == 0
    said = capsys.readouterr().err
    assert f"threshold 0.9000: {folder}'s calibrated one (best_f1 on 100 val pairs of demo:digits)" in said
    assert "trained on classes (demo:digits), so its calibrated threshold 0.9000" in said
    assert main([*command, "--out", str(tmp_path / "copies"), "--threshold", "0.999"]) == 0
    said = capsys.readouterr().err
    assert "trained on classes" not in said and "calibrated one" not in said


def test_a_best_f1_threshold_says_what_share_of_non_matches_it_lets_through_among_a_folders_pairs(
        encoder_folder, photo_folder, tmp_path, capsys):
    """The photo demo's calibrated threshold let through a quarter of its val non-matches; on leaks it
    marked 195 pairs of patches of different photographs."""
    from siamkit.retrieval.collection import list_images

    folder = shutil.copytree(encoder_folder, tmp_path / "encoder")
    card = json.loads((folder / "config.json").read_text())
    calibration = {"threshold": 0.9, "rule": "best_f1", "data": "demo:photos", "split": "val", "pairs": 288,
                   "false_match_rate": 0.25}
    command = ["duplicates", str(photo_folder), "--encoder", str(folder), "--num-workers", "0"]
    images = len(list_images(photo_folder).images)
    pairs = images * (images - 1) // 2
    for rule, out in (("best_f1", "loose"), ("fmr=0.25", "chosen")):
        calibrated = {**card, "calibration": {**calibration, "rule": rule}}
        (folder / "config.json").write_text(json.dumps(calibrated))
        assert main([*command, "--out", str(tmp_path / out)]) == 0
        noted = (f"note: that threshold lets through 25.0% of the val pairs' non-matches (best_f1 chooses it "
                 f"for pairs half of which match); the {images:,} images here make up to {pairs:,} pairs"
                 ) in capsys.readouterr().err
        assert noted == (rule == "best_f1")


def test_undoing_one_move_says_it_in_the_singular(tmp_path, capsys):
    from siamkit.retrieval import moves

    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"a")
    manifest = moves.move_files([str(tmp_path / "images" / "a.png")], tmp_path / "images", tmp_path / "to")
    assert main(["duplicates", "--undo", str(manifest)]) == 0
    assert "moved 1 file back to where it was" in capsys.readouterr().out
