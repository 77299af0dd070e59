"""`train evaluate` keeps a model off images it trained on, and `train export --choose-on-val` off
choosing on them, also where they come in another table."""

import json
import shutil
from pathlib import Path

import pytest

from siamkit.cli.program import main
from siamkit.data.split_images import image_splits
from siamkit.data.splits import SplitRecord, split_source
from siamkit.models.card import CONFIG_FILE


@pytest.fixture(scope="module")
def copies(encoder_folder: Path, tmp_path_factory) -> dict[str, list[Path]]:
    """Copies, under other names, of three images of each split of the encoder's data."""
    record = SplitRecord.from_dict(json.loads((encoder_folder / CONFIG_FILE).read_text())["trained_on"])
    paths, splits = image_splits(split_source(record)[0])
    folder = tmp_path_factory.mktemp("mine")
    copies = {}
    for split in ("train", "val", "test"):
        chosen = [path for path, s in zip(paths, splits) if s == split][:3]
        copies[split] = [Path(shutil.copy(path, folder / f"{split}{i}.png")) for i, path in enumerate(chosen)]
    return copies


def _table(path: Path, images: list[Path]) -> Path:
    path.write_text(f"a,b,label\n{images[0]},{images[1]},1\n{images[1]},{images[2]},0\n")
    return path


def test_a_table_of_its_training_images_is_refused_unless_allowed(encoder_folder, copies, tmp_path, capsys):
    evaluate = ["evaluate", "--methods", str(encoder_folder), "--split-fractions", "0", "0", "1",
                "--bootstrap", "0"]
    seen = _table(tmp_path / "seen.csv", [copies["train"][0], copies["val"][0], copies["test"][0]])
    assert main([*evaluate, "--data", str(seen), "--out", str(tmp_path / "refused")]) == 2
    error = capsys.readouterr().err
    assert (f"error: the test split of {seen} holds 2 images that {encoder_folder} trained or was validated "
            f"on (the same bytes as in demo:digits), e.g. {copies['train'][0]} = ") in error
    assert "evaluate it on images it has not seen; or pass --allow-overlap" in error
    assert not (tmp_path / "refused").exists()
    assert main([*evaluate, "--data", str(seen), "--out", str(tmp_path / "allowed"), "--allow-overlap"]) == 0
    assert "WARNING: the test split" in capsys.readouterr().err

    unseen = _table(tmp_path / "unseen.csv", copies["test"])
    assert main([*evaluate, "--data", str(unseen), "--out", str(tmp_path / "unseen")]) == 0
    said = capsys.readouterr()
    assert "WARNING" not in said.err and "2 pairs (1 match) of the 2 in all splits" in said.out


def test_a_training_source_that_is_not_here_is_noted(encoder_folder, copies, tmp_path, capsys):
    moved = tmp_path / "encoder"
    shutil.copytree(encoder_folder, moved)
    card = json.loads((moved / CONFIG_FILE).read_text())
    card["trained_on"]["source"] = str(tmp_path / "gone")
    (moved / CONFIG_FILE).write_text(json.dumps(card))
    table = _table(tmp_path / "pairs.csv", copies["test"])
    assert main(["evaluate", "--data", str(table), "--methods", str(moved), "--split-fractions", "0", "0",
                 "1", "--bootstrap", "0", "--out", str(tmp_path / "report")]) == 0
    assert (f"note: whether these images include {moved}'s training images is not known: {tmp_path / 'gone'} "
            "is not here") in capsys.readouterr().err



def test_val_pairs_of_its_training_images_cannot_choose_its_export(copies, tiny_checkpoint, tmp_path, capsys):
    table = tmp_path / "pairs.csv"
    train = copies["train"]
    table.write_text(f"a,b,label,split\n{train[0]},{train[1]},1,val\n{train[1]},{train[2]},0,val\n")
    out = tmp_path / "encoder"
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(out), "--choose-on-val",
                 "--check-data", str(table)]) == 2
    assert (f"error: the val pairs of {table} hold 3 images that {tiny_checkpoint} trained on (the same "
            "bytes as in demo:digits)") in capsys.readouterr().err
    assert not out.exists()
