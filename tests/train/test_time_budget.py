import pytest

from siamkit.errors import ConfigError
from siamkit.train import time_budget
from siamkit.train.lightning_cli import run_trainer_command
from siamkit.train.time_budget import TimeBudget
from tests.helpers import TINY

SHORT = [*TINY, "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0"]


class _Clock:
    """perf_counter for TimeBudget: 10 s pass between any two readings."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        self.now += 10.0
        return self.now


def test_a_budget_cuts_the_epochs_and_the_schedule_still_ends_at_zero(tmp_path, monkeypatch, caplog):
    # readings: fit start 10, train start 20, epoch ends 30, 40: 10 s an epoch, and 10 s left of
    # 30 after the first, so 1 + 1 = 2 of the 20 epochs fit
    monkeypatch.setattr(time_budget, "time", _Clock())
    monkeypatch.chdir(tmp_path)
    args = [*SHORT, "--trainer.max_epochs", "20", "--trainer.limit_train_batches", "1",
            "--time_budget.minutes", "0.5", "--model.warmup_steps", "0"]
    trainer = run_trainer_command("fit", args).trainer
    assert trainer.current_epoch == 2 and trainer.global_step == 2
    assert ("time budget of 0.5 min: room for 2 epochs at 10.0 s each; the learning rate now reaches zero at "
            "step 2 (--trainer.max_epochs 2") in caplog.text
    schedule = trainer.lr_scheduler_configs[0].scheduler.lr_lambdas[0]
    assert schedule(1) == pytest.approx(0.5) and schedule(2) == 0.0  # over 20 steps, step 1 would be 0.99


@pytest.mark.parametrize("minutes", [0, -2, float("inf"), float("nan")])
def test_a_budget_must_be_some_minutes(minutes):
    with pytest.raises(ConfigError, match="time_budget.minutes must be a number of minutes > 0"):
        TimeBudget(minutes)


def test_the_plan_changes_for_an_epoch_less_but_not_for_one_more(monkeypatch):
    """The estimate flickered 45, 46, 45, 46 ... in the demo: a new schedule and a line each epoch."""
    from types import SimpleNamespace

    class Trainer:
        fit_loop = SimpleNamespace(max_epochs=50)
        current_epoch = 0
        strategy = SimpleNamespace(broadcast=lambda value: value)
        max_epochs = property(lambda self: self.fit_loop.max_epochs)

    trainer, replans, budget = Trainer(), [], TimeBudget(6.7)
    module = SimpleNamespace(refit_schedule=lambda: replans.append(trainer.max_epochs) or 0)
    for estimate in (46, 47, 45, 46, 44, 46, 47):
        monkeypatch.setattr(budget, "_epochs_that_fit", lambda done, now, estimate=estimate: estimate)
        budget.on_train_epoch_end(trainer, module)
    assert replans == [46, 45, 44, 46]


def test_a_resumed_fit_gets_the_time_left_and_goes_on_with_the_same_plan(tmp_path, monkeypatch, caplog):
    """A cluster's pre-emption, then `--ckpt_path last`: the budget spans the run. Before, the
    resumed fit got the whole budget again, on a schedule of trainer.max_epochs (20 here)."""
    import re

    monkeypatch.setattr(time_budget, "time", _Clock())
    monkeypatch.chdir(tmp_path)
    args = [*SHORT, "--trainer.max_epochs", "20", "--trainer.limit_train_batches", "1",
            "--time_budget.minutes", "2", "--model.warmup_steps", "0"]
    # stopped after 2 steps, as if pre-empted; its last.ckpt was written at the second epoch's end
    assert run_trainer_command("fit", [*args, "--trainer.max_steps", "2"]).trainer.global_step == 2
    planned = int(re.findall(r"room for (\d+) epochs", caplog.text)[-1])
    assert 2 < planned < 20
    caplog.clear()
    resumed = run_trainer_command("fit", [*args, "--ckpt_path", "last"]).trainer
    assert (f"min used before this fit; it goes on with a plan of {planned} epochs, the learning rate "
            f"reaching zero at step {planned}") in caplog.text
    # its first epoch is timed by the interrupted fit's seconds per epoch, so the plan holds
    assert "room for" not in caplog.text and resumed.current_epoch == planned  # 1 step an epoch
    assert resumed.lr_scheduler_configs[0].scheduler.lr_lambdas[0](planned) == 0.0
    budget = next(c for c in resumed.callbacks if isinstance(c, TimeBudget))
    assert budget.state_dict()["seconds"] > 60  # both fits' time: the first one's minute too
    caplog.clear()  # resumed once more: its plan is done, and its time spent
    again = run_trainer_command("fit", [*args, "--ckpt_path", "last"]).trainer
    assert again.global_step == planned and (f"and its {planned} epochs trained: no time is left for another "
                                             "(raise --time_budget.minutes to train on)") in caplog.text
    longer = [*args[:-4], "--time_budget.minutes", "10", "--model.warmup_steps", "0",
              "--trainer.max_epochs", "8"]  # a larger budget trains on
    assert run_trainer_command("fit", [*longer, "--ckpt_path", "last"]).trainer.global_step == 8
