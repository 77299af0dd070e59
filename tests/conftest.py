"""Shared fixtures: small image folders and tables made on the fly, real photographs cut small,
an encoder built in Python, a tiny trained checkpoint, and a private demo cache."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from siamkit.models import ProjectionHead, TorchvisionBackbone
from siamkit.models.encoder import Encoder


@pytest.fixture(autouse=True, scope="session")
def _quiet_offline_environment(tmp_path_factory):
    """No network, no W&B account, and the demo sets cached in one place for the session."""
    os.environ.setdefault("SIAMKIT_CACHE", str(Path.home() / ".cache" / "siamkit"))
    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_SILENT"] = "true"
    os.environ["HF_HUB_OFFLINE"] = "1"
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    # the commands are given their arguments; pytest's own are not theirs (LightningCLI warns of both)
    sys.argv[1:] = []


@pytest.fixture(autouse=True)
def _signal_handlers_left_as_found():
    """A test that leaves a signal handler of its own (Lightning's, when a fit's tear-down was
    skipped) changes every later test in the process: processes they fork inherit it. One such
    SIGTERM handler once left a process pool unable to close, and the suite waiting for ever."""
    watched = (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)
    before = [signal.getsignal(s) for s in watched]
    yield
    changed = [s.name for s, handler in zip(watched, before) if signal.getsignal(s) != handler]
    for s, handler in zip(watched, before):
        signal.signal(s, handler)
    assert not changed, f"the test left handlers of its own for {', '.join(changed)}"


#: A two-layer, 32 px ViT that open_clip knows by this name once ``tiny_open_clip_model`` ran.
TINY_VIT = "siamkit-test-tiny-vit"
#: open_clip's other towers: its ModifiedResNet (as in RN50), one block a stage, 64 px, and a timm
#: model inside (as in its ConvNeXt and SigLIP configs).
TINY_CLIP_RESNET = "siamkit-test-tiny-resnet"
TINY_CLIP_TIMM = "siamkit-test-tiny-timm-tower"


@pytest.fixture(scope="session", autouse=True)
def tiny_open_clip_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("open_clip_configs")
    (folder / f"{TINY_VIT}.json").write_text(json.dumps({
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 8, "head_width": 16},
        "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 16, "heads": 2, "layers": 1},
    }))
    for name, vision in ((TINY_CLIP_RESNET, {"image_size": 64, "layers": [1, 1, 1, 1], "width": 8}),
                         (TINY_CLIP_TIMM, {"image_size": 64, "timm_model_name": "test_convnext",
                                           "timm_model_pretrained": False, "timm_pool": "avg",
                                           "timm_proj": "linear"})):
        (folder / f"{name}.json").write_text(json.dumps({
            "embed_dim": 16, "vision_cfg": vision,
            "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 16, "heads": 2, "layers": 1},
        }))
    import open_clip

    open_clip.add_model_config(folder)


def write_image(path: Path, rng: np.random.Generator, size: int = 24, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    array = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(array).convert(mode).save(path)
    return path


@pytest.fixture
def class_folder(tmp_path: Path) -> Path:
    """4 classes x 8 images of 24 px, each class a distinct colour so it is learnable."""
    rng = np.random.default_rng(0)
    root = tmp_path / "classes"
    for c in range(4):
        for i in range(8):
            base = np.zeros((24, 24, 3), np.uint8)
            base[..., c % 3] = 60 * (c + 1)
            noise = rng.integers(0, 40, base.shape, dtype=np.uint8)
            (root / f"class{c}").mkdir(parents=True, exist_ok=True)
            Image.fromarray(base + noise).save(root / f"class{c}" / f"{i}.png")
    return root


@pytest.fixture
def pairs_table(tmp_path: Path) -> Path:
    """12 images in 6 match groups; positives within a group, negatives across."""
    rng = np.random.default_rng(1)
    root = tmp_path / "pairs"
    for i in range(12):
        write_image(root / f"img{i}.png", rng)
    rows = ["a,b,label"]
    for g in range(6):
        rows.append(f"img{2 * g}.png,img{2 * g + 1}.png,1")
        rows.append(f"img{2 * g}.png,img{(2 * g + 3) % 12}.png,0")
    (root / "pairs.csv").write_text("\n".join(rows) + "\n")
    return root / "pairs.csv"


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A checkpoint of the digits demo at 16 px after a few steps (about 10 s)."""
    from siamkit.train.lightning_cli import run_trainer_command

    run = tmp_path_factory.mktemp("tiny_run")
    run_trainer_command("fit", [
        "--config", "demo_digits.yaml", "--model.backbone.init_args.image_size", "16",
        "--data.check_leaks", "off",
        "--data.batch_size", "16", "--data.num_workers", "0", "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false", "--trainer.logger", "false", "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2",
        "--trainer.default_root_dir", str(run),
    ])
    return run / "checkpoints" / "last.ckpt"


@pytest.fixture
def python_encoder(tmp_path: Path) -> Path:
    """An encoder built in Python: its architecture is recorded all the same."""
    torch.manual_seed(0)
    encoder = Encoder(TorchvisionBackbone("resnet18", image_size=32, small_input=True),
                      ProjectionHead(512, 16))
    encoder.card.metrics = {"val/roc_auc": 0.9}
    return encoder.save(tmp_path / "encoder")


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    return {
        "astronaut": data.astronaut()[:160, 100:300],
        "coffee": data.coffee()[100:260, 200:420],
        "chelsea": data.chelsea()[50:200, 100:260],
        "rocket": data.rocket()[250:427, :200],
    }


@pytest.fixture(scope="session")
def encoder_folder(tiny_checkpoint, tmp_path_factory) -> Path:
    """The tiny checkpoint, exported."""
    folder = tmp_path_factory.mktemp("encoder") / "encoder"
    Encoder.from_checkpoint(tiny_checkpoint).save(folder)
    return folder


@pytest.fixture
def photo_folder(tmp_path) -> Path:
    """Six photographs and an exact copy of the first; one sub-folder."""
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    for i, image in enumerate([data.astronaut(), data.coffee(), data.chelsea(), data.rocket(),
                               data.camera()]):
        Image.fromarray(image).resize((64, 64)).save(folder / f"p{i}.png")
    shutil.copy(folder / "p0.png", folder / "more" / "p0_copy.png")
    return folder


@pytest.fixture(scope="session")
def quantized_folder(tiny_checkpoint, tmp_path_factory) -> Path:
    """The tiny checkpoint exported with model.onnx and model.int8.onnx (checked on digits' val pairs)."""
    from siamkit.cli.program import main

    folder = tmp_path_factory.mktemp("quantized") / "encoder"
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(folder), "--quantize", "int8",
                 "--calibration-images", "32"]) == 0
    return folder
