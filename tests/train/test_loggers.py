import wandb

from siamkit.train.loggers import QuietWandbLogger


def test_wandb_is_not_handed_the_setting_it_warns_about(tmp_path, monkeypatch):
    """Lightning hands wandb.init ``anonymous=None``; wandb warns at every run that it has no effect."""
    handed = {}
    monkeypatch.setattr(wandb, "init", lambda **kwargs: handed.update(kwargs))
    monkeypatch.setattr(wandb, "run", None)  # Lightning reuses a run that an earlier test left open
    monkeypatch.setenv("WANDB_MODE", "offline")  # restored afterwards: Lightning sets it for offline runs
    QuietWandbLogger(save_dir=str(tmp_path), project="siamkit", offline=True).experiment
    assert handed["dir"] == str(tmp_path)
    assert "anonymous" not in handed
