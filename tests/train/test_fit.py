"""End to end through the `train` program: fit, the run folder, evaluation commands, DDP
(interruption and resume: test_interruptions.py)."""

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import wandb
from jsonargparse import Namespace

from siamkit import progress
from siamkit.cli.program import main
from siamkit.models.encoder import Encoder
from siamkit.models.onnx_export import sample_images
from siamkit.train.lightning_cli import run_trainer_command
from siamkit.train.trainer_settings import lines_off_a_terminal
from tests.helpers import TINY, TINY_WITH_LOGGERS, checkpoint_step, run_train, start_train


def test_fit_writes_a_complete_run_folder_then_validate_test_predict(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)  # a log's batch lines at once, as if minutes passed
    monkeypatch.delenv("WANDB_SILENT")  # as a user runs it
    assert main(["fit", *TINY_WITH_LOGGERS, "--trainer.max_steps", "6", "--trainer.val_check_interval", "3",
                 "--trainer.limit_val_batches", "3"]) == 0
    said = "".join(capsys.readouterr())
    assert "Run data is saved locally in" in said, "W&B says where its files are"
    assert "Run history" not in said and "Run summary" not in said, "not twenty lines of figures seen already"
    run = tmp_path / "runs" / "demo_digits"
    logs = run / "logs" / "version_0"
    assert {"config.yaml", "versions.json", "metrics.csv"} <= {p.name for p in logs.iterdir()}
    assert '"torch"' in (logs / "versions.json").read_text()
    assert "demo:digits" in (logs / "config.yaml").read_text()
    metrics = pd.read_csv(logs / "metrics.csv")
    assert {"train/loss", "train/images_per_sec", "val/roc_auc", "val/eer",
            "val/recall@1"} <= set(metrics.columns)
    assert list((run / "wandb").glob("offline-run-*")), "W&B logs offline without an account"
    assert wandb.run is None, "the command ended its W&B run, so the next one starts its own"
    checkpoints = {p.name for p in (run / "checkpoints").iterdir()}
    assert "last.ckpt" in checkpoints and any(n.startswith("best-") for n in checkpoints)
    assert checkpoint_step(run / "checkpoints" / "last.ckpt") >= 3

    last = str(run / "checkpoints" / "last.ckpt")
    for command, limit in (("validate", "val"), ("test", "test"), ("predict", "predict")):
        assert main([command, *TINY, "--ckpt_path", last, f"--trainer.limit_{limit}_batches", "2"]) == 0
    out, err = capsys.readouterr()
    assert "val/roc_auc" in out and "test/roc_auc" in out, "each prints its table of metrics"
    assert not [line for line in err.splitlines() if line.startswith("epoch ")], "no epoch line of a fit"
    batch_lines = [line.partition(" (")[0] for line in err.splitlines() if ": batch " in line]
    assert batch_lines == [f"{command}: batch {n}/2" for command in ("validate", "test", "predict")
                           for n in (1, 2)]

    again = tmp_path / "runs" / "again"  # the run's recorded config, reused for another run
    assert main(["fit", "--config", str(logs / "config.yaml"), "--trainer.default_root_dir", str(again),
                 "--trainer.max_steps", "1"]) == 0
    assert "Run history" not in "".join(capsys.readouterr()), "W&B as quiet as from the bundled config"
    assert (again / "logs" / "version_0" / "config.yaml").is_file()
    assert list((again / "wandb").glob("offline-run-*"))
    assert [p.name for p in (run / "logs").iterdir()] == ["version_0"], "the first run's folder as it was"


def test_output_to_a_file_gets_lines_in_place_of_a_bar(tmp_path, monkeypatch, capsys):
    # capsys stands for `train fit ... > log`: a bar would draw there only when the run ends
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)  # a log's batch lines at once, as if minutes passed
    where = TINY.index("--trainer.enable_progress_bar")
    bar_left_to_the_terminal = TINY[:where] + TINY[where + 2:]
    assert main(["fit", *bar_left_to_the_terminal, "--trainer.max_steps", "2", "--trainer.val_check_interval",
                 "1", "--trainer.limit_val_batches", "1"]) == 0
    out, err = capsys.readouterr()
    said = [line.split(" (")[0] if ": batch" in line else line.split(":")[0] for line in err.splitlines()
            if line.startswith("epoch ")]
    assert said == ["epoch 1/12: batch 1/78", "epoch 1/12, step 1/2", "epoch 1/12: batch 2/78",
                    "epoch 1/12, step 2/2"]
    assert "━" not in out + err


@pytest.mark.parametrize("setting, callbacks, on_a_terminal, bar", [
    (None, None, True, None),  # Lightning's default: a bar
    (True, None, False, True),  # asked for, in a log too
    (None, [{"class_path": "pytorch_lightning.callbacks.TQDMProgressBar"}], False, None),  # named
    (None, None, False, False),
])
def test_the_bar_is_left_out_only_where_nobody_asked_for_it(monkeypatch, setting, callbacks, on_a_terminal,
                                                            bar):
    monkeypatch.setattr("sys.stdout.isatty", lambda: on_a_terminal)
    trainer = Namespace(enable_progress_bar=setting, callbacks=callbacks, enable_model_summary=None)
    lines_off_a_terminal(trainer)
    assert trainer.enable_progress_bar is bar
    plain_summary = [c for c in trainer.callbacks or [] if c["class_path"].endswith(".ModelSummary")]
    assert len(plain_summary) == (not on_a_terminal), "a log's summary is a plain table, not Rich's box"


def test_last_checkpoint_holds_the_latest_weights_when_the_best_came_earlier(tmp_path, monkeypatch):
    # the monitored epoch stays 0, so only the first validation is a best; Lightning 2.6's own
    # save_last would leave last.ckpt at that step, and a resume would lose the steps since
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *TINY, "--trainer.max_steps", "4", "--trainer.val_check_interval", "2",
                 "--trainer.limit_val_batches", "1", "--checkpoint.monitor", "epoch"]) == 0
    checkpoints = tmp_path / "runs" / "demo_digits" / "checkpoints"
    assert [p.name for p in checkpoints.glob("best-*.ckpt")] == ["best-epoch=0-step=2.ckpt"]
    assert checkpoint_step(checkpoints / "last.ckpt") == 4


@pytest.mark.parametrize("schedule", [["--trainer.max_steps", "3", "--trainer.val_check_interval", "2"],
                                      ["--trainer.max_epochs", "3", "--trainer.limit_train_batches", "1",
                                       "--trainer.check_val_every_n_epoch", "2"]])
def test_last_checkpoint_holds_the_steps_after_the_last_validation(schedule, tmp_path, monkeypatch):
    """Lightning saves last.ckpt at a validation only, where validation is not at every epoch's
    end: the third step was lost (last.ckpt at step 2)."""
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *TINY, *schedule, "--trainer.limit_val_batches", "1"]) == 0
    checkpoints = tmp_path / "runs" / "demo_digits" / "checkpoints"
    assert [checkpoint_step(best) for best in checkpoints.glob("best-*.ckpt")] == [2], "the one validation"
    assert checkpoint_step(checkpoints / "last.ckpt") == 3


def test_fit_refuses_to_overwrite_an_earlier_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *TINY, "--trainer.max_steps", "1", "--trainer.limit_val_batches", "1"]) == 0
    assert main(["fit", *TINY, "--trainer.max_steps", "1"]) == 2
    assert "--ckpt_path last" in capsys.readouterr().err


def test_a_run_that_fails_before_training_leaves_nothing_to_refuse(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *TINY, "--data.source", str(tmp_path / "absent")]) == 2
    assert not list(tmp_path.rglob("*.ckpt"))
    assert main(["fit", *TINY, "--trainer.max_steps", "1", "--trainer.limit_val_batches", "1"]) == 0


def test_bf16_mixed_precision_trains_on_cpu(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # one small step: CPUs without AVX512-BF16 emulate it, over 20x slower than float32 at 16 px
    assert main(["fit", *TINY, "--trainer.precision", "bf16-mixed", "--trainer.accelerator", "cpu",
                 "--data.batch_size", "8", "--trainer.max_steps", "1",
                 "--trainer.limit_val_batches", "1"]) == 0


def test_the_model_summary_with_augmentation_on_the_device(tmp_path, monkeypatch, capsys):
    """Lightning passes the summary's example images through the data module's batch hook, which
    augments training batches only."""
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *TINY, "--data.augment_on", "device", "--data.augment", "[{HorizontalFlip: {}}]",
                 "--trainer.enable_model_summary", "true", "--trainer.max_steps", "1",
                 "--trainer.limit_val_batches", "1"]) == 0
    assert "Total FLOPs: 0" not in capsys.readouterr().out


def test_fit_says_nothing_a_user_cannot_act_on(tmp_path, monkeypatch, capsys, caplog):
    """Lightning's deprecated pytree call and its cloud-logger advertisement, at every fit, its
    model summary's note on sizes under mixed precision, and its hint that the module never logs
    the monitored metric, when the run only ended first."""
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["fit", *TINY, "--trainer.max_steps", "1", "--trainer.limit_val_batches", "1",
                     "--trainer.precision", "bf16-mixed", "--trainer.enable_model_summary", "true"]) == 0
    said = capsys.readouterr()
    text = "\n".join([said.out, said.err, caplog.text, *(str(w.message) for w in caught)])
    assert "GPU available" in text  # Lightning's other notes still reach the user
    assert text.index("Seed set to 0") < text.index("GPU available") < text.index("trained 1 step:")
    assert "LeafSpec" not in text and "litlogger" not in text
    assert "Trainable params" in text and "not supported by the model summary" not in text
    assert "┏" not in text and "Skipping setting a default" not in text, "a plain summary, unannounced"
    assert "could not find the monitored key" not in text
    assert "estimate number of stepping batches" not in text
    assert "note: the run did not validate, so it has no best checkpoint by val/roc_auc; last.ckpt" in text


def test_a_command_refused_before_its_run_starts_says_only_why(tmp_path, monkeypatch, capsys, caplog):
    """Not after Lightning's notes on the seed and the devices, which a run that starts prints."""
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.INFO):
        assert main(["fit", *TINY, "--data.source", "nowhere"]) == 2
    assert capsys.readouterr().err.startswith("error: data not found: nowhere does not exist")
    assert "Seed set to" not in caplog.text and "GPU available" not in caplog.text


def test_fit_with_logging_turned_off(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *TINY, "--trainer.log_every_n_steps", "0", "--trainer.max_steps", "2",
                 "--trainer.limit_val_batches", "1"]) == 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_on_a_gpu_trains_and_exports_a_float32_encoder(precision, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = run_trainer_command("fit", [*TINY, "--trainer.precision", precision, "--trainer.accelerator", "gpu",
                                      "--trainer.devices", "1", "--trainer.max_steps", "5",
                                      "--trainer.limit_val_batches", "2"])
    metrics = cli.trainer.callback_metrics
    assert torch.isfinite(metrics["train/loss"]) and metrics["train/peak_gpu_memory_gib"] > 0
    assert main(["export", "--ckpt", str(tmp_path / "runs/demo_digits/checkpoints/last.ckpt"), "--out",
                 "encoder"]) == 0
    on_cpu = Encoder.load(tmp_path / "encoder")
    assert all(t.dtype == torch.float32 for t in on_cpu.state_dict().values() if t.is_floating_point())
    images = sample_images()
    gap = np.abs(Encoder.load(tmp_path / "encoder", device="cuda").embed(images) - on_cpu.embed(images)).max()
    assert gap < 5e-3, gap  # cuDNN convolutions use TF32 by default


@pytest.mark.slow
def test_fit_and_predict_with_two_ddp_processes_on_cpu(tiny_checkpoint, tmp_path):
    """Lightning starts the second process by running the command again. The two commands run side
    by side: each spends most of its time importing, once per process, one process after the other."""
    ddp = ["--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]
    for folder in ("fit", "predict"):
        (tmp_path / folder).mkdir()
    with open(tmp_path / "predict.log", "w") as log:
        predicting = start_train(["predict", *TINY, *ddp, "--trainer.limit_predict_batches", "3",
                                  "--ckpt_path", str(tiny_checkpoint)], tmp_path / "predict", log)
        fit = run_train(["fit", *TINY, *ddp, "--trainer.max_steps", "3", "--trainer.limit_val_batches", "2"],
                        tmp_path / "fit")
        predicting.wait(timeout=300)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in fit.stdout + fit.stderr
    assert checkpoint_step(tmp_path / "fit" / "runs" / "demo_digits" / "checkpoints" / "last.ckpt") == 3

    assert predicting.returncode == 0, (tmp_path / "predict.log").read_text()[-3000:]
    predictions = tmp_path / "predict" / "runs" / "demo_digits" / "predictions"
    files = (predictions / "files.txt").read_text().splitlines()
    assert len(files) == len(set(files)) == 2 * 3 * 16  # both processes' shares (3 batches of 16), each once
    assert [Path(f).name for f in files[:3]] == ["0000.png", "0001.png", "0002.png"]  # in the data's order
    assert np.load(predictions / "embeddings.npy").shape == (96, 64)
    assert not list(predictions.glob(".*rank*"))


@pytest.mark.slow
def test_demo_digits_recipe_reaches_held_out_roc_auc_of_0_99(tmp_path, monkeypatch):
    """The demo's recipe in a third of its epochs (0.996 on the test split, measured; 0.998 in 6,
    0.9998 in all 12), which cuts this test's cost to a third; without the validations, which
    change nothing in training (0.99566 with and without them) and cost 4 s."""
    monkeypatch.chdir(tmp_path)
    quiet = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
    assert main(["fit", "--config", "demo_digits.yaml", "--trainer.max_epochs", "4",
                 "--trainer.limit_val_batches", "0", *quiet]) == 0
    last = tmp_path / "runs" / "demo_digits" / "checkpoints" / "last.ckpt"
    cli = run_trainer_command("test", ["--config", "demo_digits.yaml", *quiet, "--ckpt_path", str(last)])
    results = cli.trainer.callback_metrics
    assert results["test/roc_auc"] >= 0.99, results
    assert type(cli.trainer.strategy.checkpoint_io).__name__ == "StreamingCheckpointIO"


def test_skipped_images_are_listed_in_the_run_folder(class_folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (class_folder / "class0" / "broken.png").write_bytes(b"\x89PNG truncated")
    assert main(["fit", *TINY_WITH_LOGGERS, "--data.source", str(class_folder), "--data.on_bad_image", "skip",
                 "--data.split_fractions", "[0.5, 0.25, 0.25]", "--data.batch_size", "8",
                 "--trainer.max_steps", "1", "--trainer.limit_val_batches", "1"]) == 0
    listing = pd.read_csv(tmp_path / "runs" / "demo_digits" / "logs" / "version_0" / "skipped_images.csv")
    assert [Path(f).name for f in listing.file] == ["broken.png"] and "Pillow can decode" in listing.reason[0]
