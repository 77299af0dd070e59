"""A folder or checkpoint someone handed over is data: one naming a command to run is refused
with exit 2 by every command that reads it, and the command never runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from siamkit.cli.program import main
from siamkit.models.checkpoints import ENCODER_SPEC_KEY, START_KEY
from tests.helpers import TINY


def _popen(marker: Path) -> dict:
    return {"class_path": "subprocess.Popen", "init_args": {"args": ["touch", str(marker)]}}


@pytest.fixture(scope="module")
def crafted(tmp_path_factory, encoder_folder, tiny_checkpoint) -> tuple[Path, Path, Path]:
    """An encoder folder and a checkpoint whose architecture (and hyper-parameters) name
    ``subprocess.Popen`` touching a marker file; and the marker's path."""
    root = tmp_path_factory.mktemp("crafted")
    marker = root / "pwned.txt"
    folder = shutil.copytree(encoder_folder, root / "encoder")
    card = json.loads((folder / "config.json").read_text())
    card["architecture"]["backbone"] = _popen(marker)
    (folder / "config.json").write_text(json.dumps(card))
    checkpoint = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    checkpoint[ENCODER_SPEC_KEY]["backbone"] = _popen(marker)
    checkpoint["hyper_parameters"]["backbone"] = _popen(marker)
    torch.save(checkpoint, root / "crafted.ckpt")
    return folder, root / "crafted.ckpt", marker


def _image(tmp_path: Path) -> str:
    from PIL import Image

    Image.new("RGB", (20, 20), "red").save(tmp_path / "a.png")
    return str(tmp_path / "a.png")


COMMANDS = {
    "score a folder": lambda f, c, t: ["score", _image(t), _image(t), "-m", str(f)],
    "score a checkpoint": lambda f, c, t: ["score", _image(t), _image(t), "-m", str(c)],
    "embed with a folder": lambda f, c, t: ["embed", str(Path(_image(t)).parent), "--encoder", str(f),
                                            "--out", str(t / "i")],
    "export a checkpoint": lambda f, c, t: ["export", "--ckpt", str(c), "--out", str(t / "out")],
    "init_from a folder": lambda f, c, t: ["fit", *TINY, "--model.init_from", str(f),
                                           "--trainer.default_root_dir", str(t / "run")],
    "init_from a checkpoint": lambda f, c, t: ["fit", *TINY, "--model.init_from", str(c),
                                               "--trainer.default_root_dir", str(t / "run")],
    "evaluate a folder": lambda f, c, t: ["evaluate", "--data", "demo:digits", "--methods", str(f),
                                          "--out", str(t / "report")],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_crafted_file_is_refused_and_runs_nothing(command, crafted, tmp_path, monkeypatch, capsys):
    folder, checkpoint, marker = crafted
    monkeypatch.chdir(tmp_path)
    code = main(COMMANDS[command](folder, checkpoint, tmp_path))
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert code == 2 and len(errors) == 1, err
    assert "class 'subprocess.Popen' is not one siamkit builds from a file" in errors[0]
    assert not marker.exists()
    assert not (tmp_path / "out").exists() and not list(tmp_path.rglob("*.ckpt"))


def test_a_checkpoints_hyper_parameters_do_not_reach_the_config(crafted, tmp_path, monkeypatch, capsys):
    """Lightning would merge them into the run's config: a `class_path` there would be built."""
    _, checkpoint, marker = crafted
    monkeypatch.chdir(tmp_path)
    code = main(["test", *TINY, "--trainer.limit_test_batches", "1", "--ckpt_path", str(checkpoint)])
    assert code == 0, capsys.readouterr().err
    assert not marker.exists()


def test_checkpoints_are_never_unpickled(crafted, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["test", *TINY, "--ckpt_path", str(crafted[1]), "--weights_only", "false"])
    err = capsys.readouterr().err
    assert code == 2 and "siamkit reads checkpoints as tensors and plain values only" in err


def test_the_start_a_checkpoint_records_is_checked_before_anything_is_built(tiny_checkpoint, tmp_path,
                                                                             monkeypatch, capsys):
    """A run started from an earlier model records that model's start (``model.init_from``)."""
    marker = tmp_path / "pwned.txt"
    checkpoint = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    checkpoint[START_KEY] = {"spec": _popen(marker)}
    torch.save(checkpoint, tmp_path / "crafted.ckpt")
    monkeypatch.chdir(tmp_path)
    for command in (["export", "--ckpt", "crafted.ckpt", "--out", "out"],
                    ["test", *TINY, "--trainer.limit_test_batches", "1", "--ckpt_path", "crafted.ckpt"]):
        code = main(command)
        err = capsys.readouterr().err
        assert code == 2 and "class 'subprocess.Popen' is not one siamkit builds from a file" in err, err
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_the_classes_a_user_trusts_are_the_only_others_built(crafted, encoder_folder, tmp_path, monkeypatch,
                                                             capsys):
    """$SIAMKIT_TRUSTED_CLASSES names the user's own classes; a file's other class is still refused,
    and a trusted class that cannot be imported is one line, exit 2."""
    folder, _, marker = crafted
    monkeypatch.setenv("SIAMKIT_TRUSTED_CLASSES", "nowhere.Net")
    assert main(["score", _image(tmp_path), _image(tmp_path), "-m", str(folder)]) == 2
    assert "class 'subprocess.Popen' is not one siamkit builds" in capsys.readouterr().err
    assert not marker.exists()

    own = shutil.copytree(encoder_folder, tmp_path / "own")
    card = json.loads((own / "config.json").read_text())
    card["architecture"]["backbone"]["class_path"] = "nowhere.Net"
    (own / "config.json").write_text(json.dumps(card))
    assert main(["score", _image(tmp_path), _image(tmp_path), "-m", str(own)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "class nowhere.Net, trusted by SIAMKIT_TRUSTED_CLASSES, cannot be imported (No module named " \
           "'nowhere'): put its module on PYTHONPATH" in err
