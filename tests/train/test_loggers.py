import wandb

from siamkit.train.loggers import QuietWandbLogger


def test_wandb_is_not_handed_the_setting_it_warns_about(tmp_path, monkeypatch):
    """Lightning hands wandb.init ``anonymous=None``; wandb warns at every run that it has no effect."""
    handed = {}
    monkeypatch.setattr(wandb, "init", lambda **kwargs: handed.update(kwargs))
    QuietWandbLogger(save_dir=str(tmp_path), project="siamkit", offline=True).experiment
    assert handed["dir"] == str(tmp_path)
    assert "anonymous" not in handed
