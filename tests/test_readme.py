"""The README's Python snippets run as written, on the files its commands would have made."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytorch_lightning as pl
from PIL import Image
from skimage import data

from siamkit.cli.program import main
from siamkit.data import datamodule
from siamkit.models.encoder import Encoder

README = Path(__file__).resolve().parents[1] / "README.md"


def python_snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_python_api_snippets_run_as_written(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Encoder.from_checkpoint(tiny_checkpoint).save("encoders/digits")
    photos = Path("photos")
    photos.mkdir()
    for name, image in (("a", data.astronaut()), ("b", data.coffee()), ("query", data.astronaut()[::-1])):
        Image.fromarray(image).save(f"{name}.jpg")
        Image.fromarray(image).save(photos / f"{name}.jpg")
    assert main(["embed", "photos/", "--encoder", "encoders/digits", "--out", "index/", "--num-workers",
                 "0"]) == 0
    snippets = python_snippets()
    assert snippets, "the README has a Python API section"
    quick = functools.partial(pl.Trainer, max_steps=2, limit_val_batches=0, logger=False,
                              enable_checkpointing=False, enable_progress_bar=False,
                              enable_model_summary=False)
    monkeypatch.setattr(pl, "Trainer", quick)  # the training snippet: two steps, unvalidated,
    small = functools.partial(datamodule.SiameseDataModule, batch_size=16, num_workers=0)
    monkeypatch.setattr(datamodule, "SiameseDataModule", small)  # of small batches, in this process
    for snippet in snippets:
        exec(compile(snippet, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "histogram" in out and "encoders/digits" in out and "photos/query.jpg" in out
    assert main(["export", "--ckpt", "mine.ckpt", "--out", "encoders/mine"]) == 0  # as the snippet says
    assert Encoder.load("encoders/mine").card.trained_on.source == "demo:photographs"
