"""Ctrl-C and SIGTERM during training: the work is kept, the exit code says it was an
interruption, nothing reads like a bug, and resuming continues the run."""

import logging
import os
import re
import signal
import subprocess
import time
import warnings

import pytest
import pytorch_lightning as pl

from siamkit.cli.program import main
from tests.helpers import TINY, TRAIN, checkpoint_step


class InterruptAtStep3(pl.Callback):
    """Ctrl-C, as Python delivers it: a KeyboardInterrupt in the middle of training."""

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == 3:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_the_work_and_exits_130(tmp_path, monkeypatch, capsys):
    """Lightning ends a Ctrl-C with exit code 1 (and ignores further Ctrl-Cs of this process)."""
    monkeypatch.chdir(tmp_path)
    handler = signal.getsignal(signal.SIGINT)
    try:
        code = main(["fit", *TINY, "--trainer.max_steps", "20", "--trainer.limit_val_batches", "0",
                     "--trainer.callbacks+=tests.train.test_interruptions.InterruptAtStep3"])
    finally:
        signal.signal(signal.SIGINT, handler)
    err = capsys.readouterr().err
    assert code == 130, err
    assert "continue with the same command plus `--ckpt_path last`" in err and "bug" not in err
    assert checkpoint_step(tmp_path / "runs" / "demo_digits" / "checkpoints" / "on_exception.ckpt") == 3


@pytest.mark.slow
def test_sigterm_to_the_group_keeps_the_work_and_resume_continues_it(tmp_path, monkeypatch, capsys, caplog):
    """SIGTERM to the whole process group (a cluster's pre-emption, `timeout`), DataLoader workers
    included: exit 143, never "a bug", and the on-exception checkpoint is written whole. The
    resumed run needs no process of its own: it runs here."""
    signum = signal.SIGTERM
    args = ["fit", *TINY, "--trainer.max_steps", "400", "--trainer.limit_val_batches", "1",
            "--last_checkpoint.every_n_train_steps", "4",
            "--data.num_workers", "1"]
    temporary = tmp_path / "tmp"  # the process's $TMPDIR, to see what it leaves there
    temporary.mkdir()
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(temporary)}
    process = subprocess.Popen([TRAIN, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=environment, start_new_session=True)
    last = tmp_path / "runs" / "demo_digits" / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while not last.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert last.exists(), process.communicate()[0]
    os.killpg(process.pid, signum)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 128 + signum, output
    assert "continue with the same command plus `--ckpt_path last`" in output and "bug" not in output
    assert "Traceback" not in output, output
    assert "weights_only" not in output, f"Lightning's note of an unsafe-sounding default:\n{output}"
    interrupted = tmp_path / "runs" / "demo_digits" / "checkpoints" / "on_exception.ckpt"
    assert interrupted.exists(), output
    stopped_at = checkpoint_step(interrupted)
    assert 4 <= stopped_at < 78, "stopped mid-epoch, after the periodic checkpoint"
    assert stopped_at >= checkpoint_step(last), "nothing since the last checkpoint was lost"
    assert list(temporary.iterdir()) == [], "the workers' temporary folder is the run's, removed as it ends"

    target = (stopped_at // 4 + 2) * 4  # a few steps more, ending on a periodic checkpoint
    resume = [a if a != "400" else str(target) for a in args] + ["--ckpt_path", "last"]
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.INFO), warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        assert main(resume) == 0
    assert not [w for w in warned if "exists and is not empty" in str(w.message)], "where else would it go?"
    assert not [w for w in warned if "not resumable" in str(w.message)], "said in siamkit's words instead"
    log = capsys.readouterr().err + caplog.text
    assert "Restored all states from the checkpoint" in log and "on_exception.ckpt" in log
    said = re.search(rf"resuming from runs/demo_digits/checkpoints/on_exception.ckpt \(step {stopped_at}\), "
                     r"(\d+) batch(?:es)? into epoch 1: its remaining batches are drawn anew", log)
    # a SIGTERM between a step's optimizer update and Lightning counting its batch done leaves one
    # batch fewer counted than steps taken (seen once in the suite)
    assert said and int(said[1]) in (stopped_at - 1, stopped_at), log
    assert checkpoint_step(last) == target
    # mid-epoch, so Lightning calls no on_train_epoch_start: the speed was once the images over the
    # seconds since the machine started, 0 images/s
    speed = re.search(rf"trained {target - stopped_at} steps? from step {stopped_at}: (\d+) images/s", log)
    assert speed and int(speed.group(1)) > 0, log


class WorkerDiesDuringTheHooks(InterruptAtStep3):
    """...and a DataLoader worker's death reported while Lightning runs the on-exception hooks."""

    def on_exception(self, *args) -> None:
        os.kill(os.getpid(), signal.SIGCHLD)


def test_a_worker_death_during_the_on_exception_hooks_does_not_lose_the_checkpoint(tmp_path, monkeypatch):
    """torch's SIGCHLD handler raises when a worker has died; raised inside one of the hooks it would
    end the loop over them before the checkpoint callbacks, which Lightning always runs last."""
    monkeypatch.chdir(tmp_path)

    def torch_like(signum, frame):
        raise RuntimeError("DataLoader worker (pid 1234) is killed by signal: Interrupt. ")

    handlers = signal.getsignal(signal.SIGINT), signal.signal(signal.SIGCHLD, torch_like)
    try:
        code = main(["fit", *TINY, "--trainer.max_steps", "20", "--trainer.limit_val_batches", "0",
                     "--trainer.callbacks+=tests.train.test_interruptions.WorkerDiesDuringTheHooks"])
        assert signal.getsignal(signal.SIGCHLD) is torch_like  # put back once the run has ended
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGCHLD, handlers[1])
    assert code == 130
    assert checkpoint_step(tmp_path / "runs" / "demo_digits" / "checkpoints" / "on_exception.ckpt") == 3


class SigtermAtStep3(pl.Callback):
    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == 3:
            os.kill(os.getpid(), signal.SIGTERM)


class WorkerDiesMidWrite:
    """A log stream during whose write a DataLoader worker's death is reported (SIGCHLD)."""

    def write(self, text: str) -> None:
        os.kill(os.getpid(), signal.SIGCHLD)

    def flush(self) -> None:
        pass


def test_a_worker_death_reported_while_sigterm_is_logged_prints_no_call_stack(tmp_path, monkeypatch, capsys):
    """The group's SIGTERM ends the workers while Lightning logs "Received SIGTERM"; torch's SIGCHLD
    handler raises inside that write, which logging would print with the whole call stack."""
    monkeypatch.chdir(tmp_path)

    def torch_like(signum, frame):
        raise RuntimeError("DataLoader worker (pid 1234) is killed by signal: Terminated. ")

    notes = logging.getLogger("pytorch_lightning.trainer.connectors.signal_connector")
    handler = logging.StreamHandler(WorkerDiesMidWrite())
    notes.addHandler(handler)
    handlers = signal.getsignal(signal.SIGTERM), signal.signal(signal.SIGCHLD, torch_like)
    try:
        code = main(["fit", *TINY, "--trainer.max_steps", "20", "--trainer.limit_val_batches", "0",
                     "--trainer.callbacks+=tests.train.test_interruptions.SigtermAtStep3"])
    finally:
        notes.removeHandler(handler)
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGCHLD, handlers[1])
    err = capsys.readouterr().err
    assert code == 143, err
    assert "Logging error" not in err and "Traceback" not in err, err
    assert "continue with the same command plus `--ckpt_path last`" in err
    assert checkpoint_step(tmp_path / "runs" / "demo_digits" / "checkpoints" / "on_exception.ckpt") >= 3
    assert logging.raiseExceptions, "put back once the command has ended"
