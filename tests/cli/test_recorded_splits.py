"""A run's splits are recorded once (run folder, checkpoint, encoder card), and every command that
reads the run's data again refuses data that no longer splits the same way."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siamkit.cli.program import main
from siamkit.data.splits import SPLITS_FILE, SplitRecord
from siamkit.models import Encoder
from tests.helpers import TINY


@pytest.fixture
def class_run(class_folder: Path, tmp_path: Path, monkeypatch) -> Path:
    """One step of training on the 32-image class folder, split in halves and quarters, named as a
    path relative to the folder the run was started from."""
    run = tmp_path / "run"
    monkeypatch.chdir(class_folder.parent)
    assert main(["fit", *TINY, "--data.source", class_folder.name,
                 "--data.split_fractions", "[0.5, 0.25, 0.25]", "--data.batch_size", "8",
                 "--trainer.max_steps", "1", "--trainer.limit_val_batches", "1",
                 "--trainer.default_root_dir", str(run)]) == 0
    return run


def test_the_splits_are_recorded_in_the_run_folder_the_checkpoint_and_the_card(class_run, class_folder,
                                                                               tmp_path):
    recorded = SplitRecord.read(class_run / SPLITS_FILE)
    assert recorded.source == str(class_folder) and recorded.kind == "classes"
    assert recorded.fractions == (0.5, 0.25, 0.25) and recorded.counts == {"train": 16, "val": 8, "test": 8}
    assert Encoder.load(class_run).card.trained_on == recorded
    assert main(["export", "--ckpt", str(class_run), "--out", str(tmp_path / "encoder")]) == 0
    card = json.loads((tmp_path / "encoder" / "config.json").read_text())
    assert SplitRecord.from_dict(card["trained_on"]) == recorded


def test_data_changed_since_training_is_refused_by_every_command_in_one_line(class_run, class_folder,
                                                                            tmp_path, capsys):
    Image.fromarray(np.full((24, 24, 3), 90, np.uint8)).save(class_folder / "class2" / "late.png")
    out = tmp_path / "out"
    commands = {
        "evaluate": ["evaluate", "--data", str(class_folder), "--methods", str(class_run), "--out", str(out)],
        "export": ["export", "--ckpt", str(class_run), "--out", str(out / "encoder"), "--choose-on-val"],
        "leaks": ["leaks", "--splits-of", str(class_run), "--out", str(out)],
        "test": ["test", *TINY, "--data.source", str(class_folder),
                 "--data.split_fractions", "[0.5, 0.25, 0.25]",
                 "--ckpt_path", str(class_run / "checkpoints" / "last.ckpt"),
                 "--trainer.default_root_dir", str(tmp_path / "test_run")],
    }
    for name, args in commands.items():
        assert main(args) == 2, name
        lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and "no longer splits as when" in lines[0], (name, lines)
        assert "16/8/8 train/val/test" in lines[0], (name, lines)
    assert not out.exists() or not any(out.rglob("*.json"))
    predict = ["predict" if arg == "test" else arg for arg in commands["test"]]
    assert main(predict) == 0  # embedding every image, the new one too, is no leak


def test_evaluate_may_go_on_with_a_warning_and_leaks_reproduce_a_run(class_run, class_folder, tmp_path,
                                                                     capsys):
    assert main(["leaks", "--splits-of", str(class_run), "--out", str(tmp_path / "leaks")]) in (0, 1)
    assert "classes" in capsys.readouterr().out + (tmp_path / "leaks" / "leaks.html").read_text()
    assert main(["leaks", "--splits-of", str(class_run), "--data", "demo:digits", "--out",
                 str(tmp_path / "leaks")]) == 2
    assert "leave out --data" in capsys.readouterr().err
    (class_folder / "class1" / "0.png").unlink()
    assert main(["evaluate", "--data", str(class_folder), "--methods", str(class_run), "--out",
                 str(tmp_path / "report"), "--allow-overlap", "--bootstrap", "0"]) == 0
    assert "WARNING:" in capsys.readouterr().err and (tmp_path / "report" / "metrics.json").is_file()


def test_the_splits_are_known_from_another_folder(class_run, class_folder, tmp_path, monkeypatch, capsys):
    """A source recorded as given (relative) named other data elsewhere: evaluate then split the
    model's own data by the defaults, its training images in the test split. A record made so
    before gets a note with the settings to pass."""
    assert main(["export", "--ckpt", str(class_run), "--out", str(tmp_path / "encoder")]) == 0
    card = json.loads((tmp_path / "encoder" / "config.json").read_text())
    card["trained_on"]["source"] = class_folder.name  # as runs recorded it before
    (tmp_path / "encoder" / "config.json").write_text(json.dumps(card))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    capsys.readouterr()
    assert main(["evaluate", "--data", str(class_folder), "--methods", str(class_run), "--out", "report",
                 "--bootstrap", "0"]) == 0
    assert json.loads(Path("report/metrics.json").read_text())["data"]["split_fractions"] == [0.5, 0.25, 0.25]
    assert "note:" not in capsys.readouterr().err
    assert main(["leaks", "--splits-of", str(class_run), "--out", "leaks"]) in (0, 1)
    main(["evaluate", "--data", str(class_folder), "--methods", str(tmp_path / "encoder"), "--out", "old",
          "--bootstrap", "0"])
    assert (f"note: {tmp_path / 'encoder'} was trained on classes, a path relative to the folder it was "
            f"trained from; if that is {class_folder}, its splits are not known here: evaluate from that "
            "folder, or pass --split-fractions 0.5 0.25 0.25 --split-seed 0") in capsys.readouterr().err


def test_leaks_of_a_recorded_run_check_the_val_data_it_recorded(class_run, class_folder, tmp_path, capsys):
    encoder = tmp_path / "encoder"
    assert main(["export", "--ckpt", str(class_run), "--out", str(encoder)]) == 0
    copies = shutil.copytree(class_folder / "class0", tmp_path / "copies")  # every one in val_data's val
    rows = [f"{copies / f'{i}.png'},{copies / f'{i + 1}.png'},0,val" for i in range(0, 8, 2)]
    (tmp_path / "pairs.csv").write_text("a,b,label,split\n" + "\n".join(rows) + "\n")
    card = json.loads((encoder / "config.json").read_text())
    card["validated_on"] = str(tmp_path / "pairs.csv")  # as a run with data.val_data records it
    (encoder / "config.json").write_text(json.dumps(card))
    assert main(["leaks", "--splits-of", str(encoder), "--out", str(tmp_path / "leaks")]) == 1
    assert f"and val_data {tmp_path / 'pairs.csv'} in two splits" in capsys.readouterr().err
    leaked = (tmp_path / "leaks" / "leaks.csv").read_text()
    assert f"{copies}/" in leaked and ",train," in leaked  # a training image and its copy in val_data
