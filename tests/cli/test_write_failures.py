"""A disk that fills while a command writes: one line saying so, exit 2, and what was finished kept;
names near the longest a file system holds; and the process's own limits (memory, open files).

Linux's /dev/full fails every write with ENOSPC, as a full disk does; a hidden file that a command
writes before renaming it into place is made a link to it."""

from __future__ import annotations

import errno
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from siamkit.cli.program import main
from siamkit.errors import SiamkitError, exhausted, unwritable_disk
from siamkit.file_writes import STAGING, save_npy
from siamkit.models import Encoder
from siamkit.retrieval import moves
from siamkit.train.checkpoint_io import StreamingCheckpointIO
from tests.helpers import TINY, checkpoint_step

FULL = Path("/dev/full")
pytestmark = pytest.mark.skipif(not FULL.exists(), reason="needs Linux's /dev/full")
_RENAME = os.rename
NO_SPACE = "no space is left on the disk (No space left on device); free some space"


def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "Traceback" not in err and "bug in siamkit" not in err, err
    return errors[0]


def test_an_index_written_onto_a_full_disk_is_one_line_and_the_same_command_then_completes(zoo, tmp_path,
                                                                                           capsys):
    out = tmp_path / "index"
    command = ["embed", str(zoo / "photos"), "--encoder", str(zoo / "encoder"), "--out", str(out)]
    assert main(command) == 0
    (zoo / "photos" / "0.png").touch()  # changed since: embedded again, and the index rewritten
    (out / ".embeddings.npy").symlink_to(FULL)
    capsys.readouterr()
    assert main(command) == 2
    assert NO_SPACE in _one_error(capsys)
    assert not (out / "index.json").exists()  # a folder without it is an index not yet complete
    (out / ".embeddings.npy").unlink()
    assert main(command) == 0
    assert "embedded 0 images" in capsys.readouterr().out  # the image embedded before the failure was kept


def test_calibrating_an_encoder_folder_on_a_full_disk_leaves_its_card_as_it_was(encoder_folder, tmp_path,
                                                                                capsys):
    folder = tmp_path / "encoder"
    shutil.copytree(encoder_folder, folder)
    card = (folder / "config.json").read_bytes()
    (folder / f".config.json.{os.getpid()}.partial").symlink_to(FULL)
    code = main(["evaluate", "--data", "demo:photos", "--methods", str(folder), "--calibrate",
                 "--out", str(tmp_path / "report")])
    assert code == 2 and NO_SPACE in _one_error(capsys)
    assert (folder / "config.json").read_bytes() == card  # opened for writing, it would be empty now


def test_a_report_that_fails_part_way_leaves_the_earlier_one_whole(tmp_path, monkeypatch, capsys):
    from siamkit.evaluation import report

    out = tmp_path / "report"
    command = ["evaluate", "--data", "demo:photos", "--methods", "histogram", "--out", str(out)]
    assert main(command) == 0
    earlier = {path.name: path.read_bytes() for path in out.iterdir()}

    def disk_full(*args, **kwargs):  # the last file, after the plots and metrics.json
        raise OSError(errno.ENOSPC, "No space left on device")

    (out / STAGING).mkdir()  # as a killed command leaves it: no file of the user's, so not refused
    (out / STAGING / "roc.png").write_bytes(b"half")
    monkeypatch.setattr(report, "write_html", disk_full)
    assert main([*command[:-3], "histogram,ssim", *command[-2:]]) == 2
    assert NO_SPACE in _one_error(capsys)
    assert {path.name: path.read_bytes() for path in out.iterdir()} == earlier  # and no staging left


def test_a_checkpoint_written_onto_a_full_disk_says_so_and_leaves_nothing_half_written(tmp_path):
    target = tmp_path / "last.ckpt"
    (tmp_path / ".last.ckpt.partial").symlink_to(FULL)
    with pytest.raises((RuntimeError, OSError)) as raised:  # torch's error holds the OSError as its context
        StreamingCheckpointIO().save_checkpoint({"weights": torch.zeros(1000)}, target)
    assert NO_SPACE in unwritable_disk(raised.value)
    assert not target.exists() and not (tmp_path / ".last.ckpt.partial").is_symlink()


def test_an_encoder_saved_onto_a_full_disk_says_so(encoder_folder, tmp_path):
    (tmp_path / "model.safetensors").symlink_to(FULL)
    with pytest.raises(OSError) as raised:
        Encoder.load(encoder_folder).save(tmp_path)
    assert NO_SPACE in unwritable_disk(raised.value)


class DiskFillsInTheSecondEpoch(pl.Callback):
    """From the second epoch on, the run's checkpoints are written onto a full disk."""

    def on_train_epoch_start(self, trainer, *args) -> None:
        if trainer.current_epoch == 1:
            for name in ("last.ckpt", "on_exception.ckpt"):
                (Path(trainer.default_root_dir) / "checkpoints" / f".{name}.partial").symlink_to(FULL)


def test_a_fit_whose_checkpoint_meets_a_full_disk_is_one_line_and_it_resumes_once_there_is_room(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    command = ["fit", *TINY, "--trainer.default_root_dir", "run", "--trainer.max_epochs", "3",
               "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1"]
    filling = "--trainer.callbacks+=tests.cli.test_write_failures.DiskFillsInTheSecondEpoch"
    handler = signal.getsignal(signal.SIGTERM)
    assert main([*command, filling]) == 2
    assert signal.getsignal(signal.SIGTERM) == handler, "Lightning's tear-down ran"
    err = capsys.readouterr().err
    assert f"the checkpoints written whole before the disk filled are kept in run{os.sep}checkpoints" in err
    assert NO_SPACE in err and "bug" not in err and "Traceback" not in err, err
    checkpoints = tmp_path / "run" / "checkpoints"
    assert checkpoint_step(checkpoints / "last.ckpt") == 1  # the first epoch's
    for link in checkpoints.glob(".*.partial"):
        link.unlink()  # room again
    assert main([*command, "--ckpt_path", "last"]) == 0
    assert checkpoint_step(checkpoints / "last.ckpt") == 3


def test_moving_onto_a_full_disk_stops_with_how_many_moved_and_the_undo(tmp_path, monkeypatch):
    images, to, files = _files_to_move(tmp_path, "abc")
    to.mkdir()
    (to / ".b.png.partial").symlink_to(FULL)
    monkeypatch.setattr(moves.os, "rename", _across_disks)
    stopped = (r"cannot move .*b.png to .*: No space left on device; 1 of 3 files had moved before it, and "
               r"`train duplicates --undo .*` moves them back")
    with pytest.raises(SiamkitError, match=stopped):
        moves.move_files([str(f) for f in files], images, to)
    assert [f.exists() for f in files] == [False, True, True]
    assert sorted(p.name for p in to.iterdir()) == ["a.png", moves.MANIFEST]  # no half-copied file
    assert moves.undo_moves(to / moves.MANIFEST) == 1 and all(f.exists() for f in files)


def test_a_file_whose_name_is_near_the_longest_moves_to_another_disk_and_back(tmp_path, monkeypatch):
    images, to = tmp_path / "images", tmp_path / "to"
    images.mkdir()
    long = images / ("ä" * 125 + ".png")  # 254 bytes: its partial copy's name is cut short
    long.write_bytes(b"long")
    monkeypatch.setattr(moves.os, "rename", _across_disks)
    manifest = moves.move_files([str(long)], images, to)
    assert not long.exists() and (to / long.name).read_bytes() == b"long"
    assert moves.undo_moves(manifest) == 1 and long.read_bytes() == b"long"


def test_a_file_that_cannot_leave_its_folder_is_not_left_copied_on_the_other_disk(tmp_path, monkeypatch):
    images, to, files = _files_to_move(tmp_path, "ab")
    monkeypatch.setattr(moves.os, "rename", _across_disks)
    real_unlink = Path.unlink

    def read_only_source(path, *args, **kwargs):  # as a folder on a read-only disk: copied, never removed
        if path == files[1]:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", read_only_source)
    with pytest.raises(SiamkitError, match="1 of 2 files had moved before it"):
        moves.move_files([str(f) for f in files], images, to)
    assert not (to / "b.png").exists()  # else undo would find b.png in both places, and refuse
    assert moves.undo_moves(to / moves.MANIFEST) == 1 and all(f.exists() for f in files)


def _files_to_move(tmp_path: Path, names: str) -> tuple[Path, Path, list[Path]]:
    """tmp_path/images with a file for each letter of ``names``, and where to move them."""
    images = tmp_path / "images"
    images.mkdir()
    files = [images / f"{name}.png" for name in names]
    for file in files:
        file.write_bytes(file.name.encode())
    return images, tmp_path / "to", files


def _across_disks(source, target) -> None:
    """``os.rename`` as if each folder were a disk of its own: a move copies, then removes the source."""
    if Path(source).parent != Path(target).parent:
        raise OSError(errno.EXDEV, "Invalid cross-device link")
    _RENAME(source, target)


def test_the_cause_is_found_down_the_chain_and_other_errors_are_not_taken_for_it():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/data/out/model.onnx")
        except OSError:
            raise RuntimeError("unexpected pos 64 vs 0")
    except RuntimeError as wrapped:
        assert unwritable_disk(wrapped).startswith(f"cannot write in /data/out: {NO_SPACE}")
    read_only = OSError(errno.EROFS, "Read-only file system", "/mnt/cd/x")
    assert unwritable_disk(read_only).startswith("cannot write in /mnt/cd: the file system is read-only")
    too_long = OSError(errno.ENAMETOOLONG, "File name too long", "/data/" + "x" * 300)
    assert unwritable_disk(too_long).startswith(f"cannot write /data/{'x' * 300}: the name is too long")
    assert unwritable_disk(FileNotFoundError(errno.ENOENT, "No such file or directory", "x")) is None
    looped = RuntimeError("a")
    looped.__context__ = RuntimeError("b")
    looped.__context__.__context__ = looped
    assert unwritable_disk(looped) is None


def test_running_out_of_memory_or_of_open_files_is_named_down_the_chain():
    import resource

    try:
        try:
            raise OSError(errno.EMFILE, "Too many open files")
        except OSError:
            raise RuntimeError("DataLoader worker could not start")
    except RuntimeError as wrapped:
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        said = f"too many open files (Too many open files; this process may open {limit}): raise the limit"
        assert exhausted(wrapped).startswith(said)
    assert exhausted(MemoryError()).startswith("out of memory; free some, or use smaller batches")
    killed = RuntimeError("DataLoader worker (pid 16711) is killed by signal: Killed. ")
    said = ("DataLoader worker (pid 16711) is killed by signal: Killed, most often by the kernel for want of "
            "memory: use fewer workers or smaller batches")
    assert exhausted(killed).startswith(said)
    assert exhausted(OSError(errno.ENOSPC, "No space left on device")) is None


def test_an_npy_file_is_what_numpy_writes_and_a_full_disk_raises_enospc(tmp_path):
    for array in (np.arange(12, dtype=np.int64).reshape(-1, 2), np.zeros((0, 5), np.float32),
                  np.random.default_rng(0).random((3, 4), np.float32)[:, ::2]):
        save_npy(tmp_path / "ours.npy", array)
        np.save(tmp_path / "numpy.npy", array)
        assert (tmp_path / "ours.npy").read_bytes() == (tmp_path / "numpy.npy").read_bytes()
    with pytest.raises(OSError) as raised:
        save_npy(FULL, np.zeros(100_000, np.float32))
    assert raised.value.errno == errno.ENOSPC
