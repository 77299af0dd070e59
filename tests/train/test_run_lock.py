"""One `train fit` at a time per run folder (train/run_lock.py), and the lock files that say so."""

import tempfile

import pytest

from siamkit import folders
from siamkit.cli.program import main
from siamkit.errors import SiamkitError
from siamkit.folders import hold_path, holding
from siamkit.train.run_lock import hold_run_folder
from tests.helpers import TINY


def test_a_second_fit_into_a_run_still_training_is_refused_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "demo_digits"
    held = hold_run_folder(run)  # as a `train fit` still running there does
    assert main(["fit", *TINY, "--trainer.max_steps", "1"]) == 2
    assert not run.exists()
    assert main(["fit", *TINY, "--ckpt_path", "last"]) == 2
    held.release()
    err = capsys.readouterr().err
    assert err.count("runs/demo_digits is being trained by another `train fit` still running: wait for it to "
                     "end, or train elsewhere with --trainer.default_root_dir runs/NEW_NAME") == 2
    assert main(["fit", *TINY, "--trainer.max_steps", "1", "--trainer.limit_val_batches", "1"]) == 0


def test_the_processes_ddp_starts_beside_the_first_take_no_lock(tmp_path, monkeypatch):
    held = hold_run_folder(tmp_path)
    with pytest.raises(SiamkitError, match="is being trained by another"):
        hold_run_folder(tmp_path)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert hold_run_folder(tmp_path) is None
    held.release()


def test_where_the_cache_cannot_be_written_the_lock_is_in_the_temporary_folder(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("SIAMKIT_CACHE", str(tmp_path / "a_file" / "cache"))  # no folder can be made there
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    held = hold_run_folder(tmp_path / "run")
    with pytest.raises(SiamkitError, match="is being trained by another"):
        hold_run_folder(tmp_path / "run")
    assert list((tmp_path / "tmp").glob("siamkit-locks-*/run-*.lock"))
    held.release()


def test_a_released_lock_leaves_no_file_in_the_locks_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SIAMKIT_CACHE", str(tmp_path / "cache"))
    with holding(tmp_path / "report", "report", "held"):
        assert len(list((tmp_path / "cache" / "locks").iterdir())) == 1
    held = hold_run_folder(tmp_path / "run")
    held.release()
    assert not list((tmp_path / "cache" / "locks").iterdir())


def test_a_lock_taken_on_the_file_its_holder_removed_meanwhile_is_taken_again(tmp_path, monkeypatch):
    """Opened before the holder released it (removing it), locked after: that lock holds nothing,
    and a third command would lock the new file beside it."""
    monkeypatch.setenv("SIAMKIT_CACHE", str(tmp_path / "cache"))
    first = hold_path(tmp_path / "out", "report", "held")
    real_lock = folders.lock

    def released_between_open_and_lock(descriptor, refusal):
        if first.descriptor is not None:
            first.release()
            first.descriptor = None
        return real_lock(descriptor, refusal)

    monkeypatch.setattr(folders, "lock", released_between_open_and_lock)
    second = hold_path(tmp_path / "out", "report", "held")
    with pytest.raises(SiamkitError, match="held"):
        hold_path(tmp_path / "out", "report", "held")
    second.release()
