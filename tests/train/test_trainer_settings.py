"""Trainer options Lightning leaves unchecked until it divides by them mid-run, seeds out of
numpy's range, and a test without --ckpt_path beside a run's checkpoints: one line, exit 2,
before the run starts."""

from __future__ import annotations

import pytest

from siamkit.cli.program import main
from tests.helpers import TINY

CASES = {
    "trainer.accumulate_grad_batches": ("0", "--trainer.accumulate_grad_batches must be a whole number >= 1"),
    "trainer.check_val_every_n_epoch": ("0", "--trainer.check_val_every_n_epoch must be a whole number >= 1"),
    "trainer.val_check_interval": ("0", "--trainer.val_check_interval must be a whole number of batches"),
    # numpy's seeding raised these mid-start-up, reported as a bug in siamkit
    "seed_everything": ("-5", "seed_everything must be a whole number from 0 to 4294967295, true"),
    "data.split_seed": ("-1", "data.split_seed must be a whole number >= 0, not -1"),
}


@pytest.mark.parametrize("option", CASES)
def test_a_count_out_of_range_is_one_line_before_the_run(option, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    value, expected = CASES[option]
    code = main(["fit", *TINY, "--trainer.max_steps", "2", f"--{option}", value])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and expected in err, err
    assert not list(tmp_path.rglob("*.ckpt")) and not list(tmp_path.rglob("config.yaml"))


def test_a_share_of_an_epoch_is_still_a_validation_interval(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *TINY, "--trainer.max_steps", "2", "--trainer.limit_val_batches", "1",
                 "--trainer.val_check_interval", "0.5"]) == 0


def test_testing_without_a_checkpoint_where_the_run_has_them_is_refused(tiny_checkpoint, tmp_path,
                                                                        monkeypatch, capsys):
    """`train test --config C` after `train fit --config C` means the run, not the config's model
    as built: its untrained weights would print figures that look like the run's."""
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_checkpoint.parent.parent, tmp_path / "run")
    for command in ("validate", "test", "predict"):
        assert main([command, *TINY, "--trainer.default_root_dir", "run"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert f"train {command} without --ckpt_path would use the config's model as built" in err
    assert main(["test", *TINY, "--trainer.default_root_dir", "elsewhere",
                 "--trainer.limit_test_batches", "1"]) == 0
    assert "note: train test without --ckpt_path uses the config's model as built" in capsys.readouterr().err
