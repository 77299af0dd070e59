"""Trainer options Lightning leaves unchecked until it divides by them mid-run: one line, exit 2,
before the run starts."""

from __future__ import annotations

import pytest

from siamkit.cli.program import main
from tests.helpers import TINY

CASES = {
    "accumulate_grad_batches": ("0", "--trainer.accumulate_grad_batches must be a whole number >= 1, not 0"),
    "check_val_every_n_epoch": ("0", "--trainer.check_val_every_n_epoch must be a whole number >= 1, not 0"),
    "val_check_interval": ("0", "--trainer.val_check_interval must be a whole number of batches >= 1"),
}


@pytest.mark.parametrize("option", CASES)
def test_a_count_of_zero_is_one_line_before_the_run(option, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    value, expected = CASES[option]
    code = main(["fit", *TINY, "--trainer.max_steps", "2", f"--trainer.{option}", value])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and expected in err, err
    assert not list(tmp_path.rglob("*.ckpt")) and not list(tmp_path.rglob("config.yaml"))


def test_a_share_of_an_epoch_is_still_a_validation_interval(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *TINY, "--trainer.max_steps", "2", "--trainer.limit_val_batches", "1",
                 "--trainer.val_check_interval", "0.5"]) == 0
