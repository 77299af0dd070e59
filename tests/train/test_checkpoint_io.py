"""Checkpoints stream to a temporary file beside their target and replace it only when whole."""

from __future__ import annotations

import pytest
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning import Trainer
from pytorch_lightning.plugins.io import AsyncCheckpointIO

from siamkit.train.checkpoint_io import StreamingCheckpointIO, stream_local_checkpoints


def test_a_checkpoint_is_written_whole_and_replaces_the_one_before(tmp_path):
    io = StreamingCheckpointIO()
    target = tmp_path / "checkpoints" / "last.ckpt"  # a folder not made yet
    io.save_checkpoint({"step": 1, "weights": torch.ones(3)}, target)
    io.save_checkpoint({"step": 2, "weights": torch.full((3,), 2.0)}, str(target))
    loaded = io.load_checkpoint(target)
    assert loaded["step"] == 2 and torch.equal(loaded["weights"], torch.full((3,), 2.0))
    assert [path.name for path in target.parent.iterdir()] == ["last.ckpt"]


def test_a_save_that_fails_keeps_the_checkpoint_before_it(tmp_path):
    io = StreamingCheckpointIO()
    target = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1}, target)
    with pytest.raises(Exception):
        io.save_checkpoint({"step": 2, "unpicklable": lambda: None}, target)
    assert io.load_checkpoint(target) == {"step": 1}
    assert [path.name for path in tmp_path.iterdir()] == ["last.ckpt"]


def test_other_file_systems_and_storage_options_are_lightnings(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint", lambda self, *args: saved.append(args))
    io = StreamingCheckpointIO()
    io.save_checkpoint({"step": 1}, "memory://runs/last.ckpt")
    io.save_checkpoint({"step": 1}, tmp_path / "last.ckpt", {"option": 1})
    assert [args[1] for args in saved] == ["memory://runs/last.ckpt", tmp_path / "last.ckpt"]
    assert not (tmp_path / "last.ckpt").exists()


def test_a_trainer_streams_unless_given_a_checkpoint_io_of_its_own():
    default = Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    stream_local_checkpoints(default.strategy)
    assert type(default.strategy.checkpoint_io) is StreamingCheckpointIO
    asynchronous = Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                           plugins=[AsyncCheckpointIO()])
    stream_local_checkpoints(asynchronous.strategy)
    assert isinstance(asynchronous.strategy.checkpoint_io, AsyncCheckpointIO)
