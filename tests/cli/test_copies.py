"""`train copies`: copy-detection pairs from a source's own val and test images, split as `train fit`
splits it, that a run validates on and `train evaluate` scores."""

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from siamkit.cli.program import main
from siamkit.data.split_images import images_in
from siamkit.data.splits import SplitRecord, split_source
from siamkit.models import quantization
from siamkit.models.card import CONFIG_FILE
from tests.helpers import QUIET_CPU_FIT

FRACTIONS = ["0.4", "0.3", "0.3"]
ONE_STEP_FIT = ["--trainer.max_steps", "1", "--trainer.limit_val_batches", "1", *QUIET_CPU_FIT]


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "pairs.csv", newline="") as table:
        return list(csv.DictReader(table))


def _noise_images(folder: Path, count: int, shape: tuple[int, int], seed: int) -> Path:
    """``folder`` made, with ``count`` PNGs of random pixels named 0.png, 1.png, ..."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def _bytes_by_split(paths_by_split: dict[str, list[str]]) -> dict[str, set[bytes]]:
    return {split: {Path(path).read_bytes() for path in paths} for split, paths in paths_by_split.items()}


def test_copies_of_the_val_and_test_images_as_fit_splits_them(tmp_path, capsys, monkeypatch):
    folder = _noise_images(tmp_path / "mine", 10, (48, 40), seed=0)
    assert main(["copies", "--help"]) == 0 and "demo:photos-hard's" in capsys.readouterr().out
    copies = ["copies", "--data", str(folder), "--split-fractions", *FRACTIONS, "--size", "32"]
    assert main([*copies, "--out", str(tmp_path / "a")]) == 0
    said = capsys.readouterr().out
    assert f"Validate a run on {folder} with --data.val_data {tmp_path / 'a' / 'pairs.csv'}" in said
    assert "note: 6 val and 6 test matches, fewer than 30 a split: a ROC-AUC and its interval on so few " \
           "say little" in said

    data, _ = split_source(SplitRecord(str(folder), None, "auto", (0.4, 0.3, 0.3), 0))
    expected = _bytes_by_split({split: images_in(data, (split,)) for split in ("train", "val", "test")})
    rows = _rows(tmp_path / "a")
    originals: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        originals[row["split"]].add(row["a"])
    found = _bytes_by_split({split: [str(tmp_path / "a" / name) for name in names]
                             for split, names in originals.items()})
    assert found == {"val": expected["val"], "test": expected["test"]}  # the originals, byte for byte
    assert not expected["train"] & (found["val"] | found["test"])

    copy_of = {row["b"]: row["a"] for row in rows if row["label"] == "1"}
    for split, names in originals.items():
        for name in names:
            own = [row for row in rows if row["a"] == name]
            assert sorted(row["label"] for row in own) == ["0", "0", "1", "1"]
            assert {row["split"] for row in own} == {split}
            assert all(copy_of[row["b"]] != name for row in own if row["label"] == "0")
    with Image.open(tmp_path / "a" / rows[0]["b"]) as copy:
        assert (copy.format, copy.size) == ("JPEG", (32, 32))

    assert main([*copies, "--out", str(tmp_path / "b")]) == 0  # the same seed, the same pairs and copies
    assert _rows(tmp_path / "b") == rows
    assert all((tmp_path / "a" / row["b"]).read_bytes() == (tmp_path / "b" / row["b"]).read_bytes()
               for row in rows)

    table = tmp_path / "a" / "pairs.csv"
    fit = ["fit", "--config", "demo_photos_scratch.yaml", *ONE_STEP_FIT, "--data.source", str(folder),
           "--model.backbone.init_args.image_size", "16", "--data.batch_size", "4",
           "--data.split_fractions", f"[{', '.join(FRACTIONS)}]", "--data.val_data", str(table)]
    assert main([*fit, "--trainer.default_root_dir", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    # int8 calibrates on training images, which copies do not hold: the run's own are taken
    monkeypatch.setattr(quantization, "MAX_ROC_AUC_DROP", 1.0)  # kept however a one-step model ranks
    assert main(["export", "--ckpt", str(tmp_path / "run"), "--out", str(tmp_path / "int8"),
                 "--quantize", "int8"]) == 0
    said = capsys.readouterr().out
    assert f"calibrated on 4 training images of {folder}; ROC-AUC on 12 val pairs of {table}" in said
    record = json.loads((tmp_path / "int8" / CONFIG_FILE).read_text())["quantization"]
    assert (record["calibration_data"], record["check_data"]) == (str(folder), str(table))
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    del checkpoint["SiameseDataModule"]["splits"]  # as a checkpoint that does not say what it trained on
    checkpoint["datamodule_hyper_parameters"]["source"] = None
    torch.save(checkpoint, tmp_path / "unsaid.ckpt")
    assert main(["export", "--ckpt", str(tmp_path / "unsaid.ckpt"), "--out", str(tmp_path / "refused-int8"),
                 "--quantize", "int8", "--check-data", str(table)]) == 2
    assert (f"--quantize int8 calibrates on training images, and neither {table}'s train split nor the data "
            f"{tmp_path / 'unsaid.ckpt'} was trained on has any") in capsys.readouterr().err
    assert not (tmp_path / "refused-int8").exists()
    assert main([*fit, "--data.split_seed", "1", "--trainer.default_root_dir", str(tmp_path / "other")]) == 2
    error = capsys.readouterr().err
    assert (f"error: data.val_data: {table} holds copies of {folder} split as [0.4, 0.3, 0.3] with seed 0, "
            "assignment ") in error
    assert ("Train on the split they were made from (--data.split_fractions '[0.4, 0.3, 0.3]' "
            "--data.split_seed 0)") in error


def test_a_runs_own_copies_evaluate_it(encoder_folder, tiny_checkpoint, tmp_path, capsys):
    """The originals are the bytes of its val and test images (above), which `train evaluate` takes;
    copies split otherwise would hold its training images: whole images are refused by their bytes
    (test_training_images), and any copies by the record of the splits they were made from."""
    own = tmp_path / "own"
    assert main(["copies", "--splits-of", str(encoder_folder), "--copies", "1", "--size", "32",
                 "--out", str(own)]) == 0
    record = json.loads((encoder_folder / CONFIG_FILE).read_text())["trained_on"]
    assert f"of {record['source']} with photos edits" in capsys.readouterr().out
    assert main(["evaluate", "--methods", str(encoder_folder), "--bootstrap", "0",
                 "--data", str(own / "pairs.csv"), "--out", str(tmp_path / "report")]) == 0
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    test_rows = [row for row in _rows(own) if row["split"] == "test"]
    assert (metrics["data"]["split"], metrics["data"]["pairs"]) == ("test", len(test_rows))
    assert list(metrics["methods"]) == [str(encoder_folder)]

    made_from = own / "made_from.json"  # as if made from another split: regions would pass the bytes check
    made_from.write_text(json.dumps({**json.loads(made_from.read_text()), "seed": 1, "digest": "0" * 64}))
    evaluate = ["evaluate", "--methods", str(encoder_folder), "--bootstrap", "0",
                "--data", str(own / "pairs.csv")]
    assert main([*evaluate, "--out", str(tmp_path / "refused")]) == 2
    error = capsys.readouterr().err
    fractions = list(record["fractions"])
    assert (f"holds copies of {record['source']} split as {fractions} with seed 1, assignment 000000000000, "
            f"which {encoder_folder} splits as {fractions} with seed 0") in error
    assert (f"their originals may be images {encoder_folder} trains or trained on. Make them again with its "
            f"split (`train copies --splits-of {encoder_folder}`)") in error
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(tmp_path / "export"),
                 "--choose-on-val", "--check-data", str(own / "pairs.csv")]) == 2
    assert f"holds copies of {record['source']} split as {fractions} with seed 1" in capsys.readouterr().err
    assert not (tmp_path / "export").exists()


def test_regions_are_paired_with_another_region_of_their_photograph_and_one_of_another(tmp_path):
    folder = _noise_images(tmp_path / "few", 4, (96, 80), seed=1)
    out = tmp_path / "regions"
    assert main(["copies", "--data", str(folder), "--split-fractions", "0", "0", "1", "--regions", "3",
                 "--size", "32", "--out", str(out)]) == 0
    rows = _rows(out)
    region_of_copy = {row["b"]: row["a"] for row in rows if row["label"] == "1"}

    def photograph(region: str) -> str:
        return region.rsplit("_r", 1)[0]

    originals = sorted({row["a"] for row in rows})
    assert len(originals) == 12 and len({photograph(name) for name in originals}) == 4
    for original in originals:
        others = [region_of_copy[row["b"]] for row in rows if row["a"] == original and row["label"] == "0"]
        assert original not in others
        assert [photograph(other) == photograph(original) for other in others] == [True, False]
    with Image.open(out / originals[0]) as region:
        assert region.size == (32, 32)


def test_copies_of_one_file_under_two_names_are_copied_once(tmp_path, capsys):
    """Kept in one split, the two would each be the other's non-match."""
    folder = _noise_images(tmp_path / "twice", 3, (40, 40), seed=2)
    (folder / "0 again.png").write_bytes((folder / "0.png").read_bytes())
    out = tmp_path / "copies"
    assert main(["copies", "--data", str(folder), "--split-fractions", "0", "0", "1", "--size", "32",
                 "--out", str(out)]) == 0
    assert "the test split repeats 1 file under other names" in capsys.readouterr().out
    originals = {Path(row["a"]).name.split("_", 1)[1] for row in _rows(out)}
    assert len(originals) == 3 and len(originals & {"0.png", "0 again.png"}) == 1


def test_copies_interrupted_part_way_leave_no_half_made_folder_and_the_same_command_then_runs(
        tmp_path, capsys, monkeypatch):
    from siamkit.data import copy_pairs

    folder = _noise_images(tmp_path / "mine", 6, (48, 40), seed=0)
    out = tmp_path / "copies"
    command = ["copies", "--data", str(folder), "--split-fractions", "0", "0", "1", "--size", "32",
               "--out", str(out)]
    real_originals, made = copy_pairs._originals, []

    def interrupted_at_the_third(*args, **kwargs):
        if len(made) == 2:
            raise KeyboardInterrupt
        made.append(args[0])
        return real_originals(*args, **kwargs)

    monkeypatch.setattr(copy_pairs, "_originals", interrupted_at_the_third)
    assert main(command) == 130
    assert list(out.iterdir()) == []  # empty, with no staging folder: the same command may write there
    monkeypatch.undo()
    assert main(command) == 0 and len(_rows(out)) == 24
