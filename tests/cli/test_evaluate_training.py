"""`train evaluate` keeps a model off images it trained on, also where they come in another table."""

import json
import shutil
from pathlib import Path

from siamkit.cli.program import main
from siamkit.data.splits import SplitRecord, split_source
from siamkit.models.card import CONFIG_FILE
from siamkit.retrieval.leaks import image_splits


def _copies(encoder_folder: Path, folder: Path) -> dict[str, list[Path]]:
    """Copies, under other names in ``folder``, of three images of each split of the encoder's data."""
    record = SplitRecord.from_dict(json.loads((encoder_folder / CONFIG_FILE).read_text())["trained_on"])
    paths, splits = image_splits(split_source(record)[0])
    folder.mkdir()
    copies = {}
    for split in ("train", "val", "test"):
        chosen = [path for path, s in zip(paths, splits) if s == split][:3]
        copies[split] = [Path(shutil.copy(path, folder / f"{split}{i}.png")) for i, path in enumerate(chosen)]
    return copies


def _table(path: Path, images: list[Path]) -> Path:
    path.write_text(f"a,b,label\n{images[0]},{images[1]},1\n{images[1]},{images[2]},0\n")
    return path


def test_a_table_of_its_training_images_is_refused_unless_allowed(encoder_folder, tmp_path, capsys):
    copies = _copies(encoder_folder, tmp_path / "mine")
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
    assert "WARNING" not in capsys.readouterr().err


def test_a_training_source_that_is_not_here_is_noted(encoder_folder, tmp_path, capsys):
    moved = tmp_path / "encoder"
    shutil.copytree(encoder_folder, moved)
    card = json.loads((moved / CONFIG_FILE).read_text())
    card["trained_on"]["source"] = str(tmp_path / "gone")
    (moved / CONFIG_FILE).write_text(json.dumps(card))
    copies = _copies(encoder_folder, tmp_path / "mine")
    table = _table(tmp_path / "pairs.csv", copies["test"])
    assert main(["evaluate", "--data", str(table), "--methods", str(moved), "--split-fractions", "0", "0",
                 "1", "--bootstrap", "0", "--out", str(tmp_path / "report")]) == 0
    assert (f"note: {moved} was trained on {tmp_path / 'gone'}, which is not here, so whether these images "
            "include its training images is not known") in capsys.readouterr().err


def test_only_regular_files_of_one_size_are_read(tmp_path):
    """A named pipe beside an empty image would block a read; files of other sizes need none."""
    import os

    from siamkit.cli.evaluate_training import same_files

    (tmp_path / "empty.png").write_bytes(b"")
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "a.png").write_bytes(b"abc")
    (tmp_path / "copy.png").write_bytes(b"abc")
    (tmp_path / "other.png").write_bytes(b"abd")
    found = same_files([str(tmp_path / n) for n in ("pipe.png", "copy.png", "other.png", "missing.png")],
                       [str(tmp_path / n) for n in ("empty.png", "a.png")])
    assert found == [(str(tmp_path / "copy.png"), str(tmp_path / "a.png"))]
