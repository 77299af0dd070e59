from pathlib import Path

import wandb

from siamkit.train.loggers import QuietWandbLogger, end_wandb_runs


def test_wandb_is_not_handed_the_setting_it_warns_about(tmp_path, monkeypatch):
    """Lightning hands wandb.init ``anonymous=None``; wandb warns at every run that it has no effect."""
    handed = {}
    monkeypatch.setattr(wandb, "init", lambda **kwargs: handed.update(kwargs))
    monkeypatch.setattr(wandb, "run", None)  # Lightning reuses a run that an earlier test left open
    monkeypatch.setenv("WANDB_MODE", "offline")  # restored afterwards: Lightning sets it for offline runs
    QuietWandbLogger(save_dir=str(tmp_path), project="siamkit", offline=True).experiment
    assert handed["dir"] == str(tmp_path)
    assert "anonymous" not in handed


def test_wandb_finds_the_run_folder_made_when_it_starts(tmp_path, monkeypatch):
    """wandb looks for the git repository from ``dir`` and warns "git root ... does not exist" when
    the folder is yet to be made, as at every run's first start."""
    folders_there = []
    monkeypatch.setattr(wandb, "init", lambda **kwargs: folders_there.append(Path(kwargs["dir"]).is_dir()))
    monkeypatch.setattr(wandb, "run", None)
    monkeypatch.setenv("WANDB_MODE", "offline")
    QuietWandbLogger(save_dir=str(tmp_path / "runs" / "new"), offline=True).experiment
    assert folders_there == [True]


class _Run:
    def __init__(self):
        self.exit_codes = []

    def finish(self, exit_code):
        self.exit_codes.append(exit_code)


def test_a_failed_command_ends_its_run_as_failed_and_a_run_never_started_is_left_alone(tmp_path):
    started, never_started = (QuietWandbLogger(save_dir=str(tmp_path), offline=True) for _ in range(2))
    started._experiment = run = _Run()
    end_wandb_runs([never_started, started], succeeded=False)
    end_wandb_runs([started], succeeded=True)
    assert run.exit_codes == [1, 0]
    assert never_started._experiment is None
