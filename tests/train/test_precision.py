"""A run whose config sets no precision gets the fastest one the hardware runs natively."""

from __future__ import annotations

import warnings

import pytest
import torch

from siamkit.data.datamodule import SiameseDataModule
from siamkit.models.timm_backbone import TimmBackbone
from siamkit.train.lightning_cli import SiamkitCLI, resolve_config_arguments
from siamkit.train.module import SiameseModule
from siamkit.train.precision import native_precision
from tests.helpers import TINY


def cpu_bf16(monkeypatch, avx512_bf16: bool, amx: bool = False) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)


@pytest.mark.parametrize("avx512_bf16, amx, expected", [
    (False, False, "32-true"), (True, False, "bf16-mixed"), (False, True, "bf16-mixed")])
def test_on_the_cpu_bf16_only_where_it_is_native(monkeypatch, avx512_bf16, amx, expected):
    cpu_bf16(monkeypatch, avx512_bf16, amx)
    assert native_precision(uses_cuda=False) == expected


def test_depthwise_convolutions_train_in_float32_even_where_bf16_is_native(monkeypatch):
    cpu_bf16(monkeypatch, avx512_bf16=True)
    assert native_precision(False, TimmBackbone("test_efficientnet")) == "32-true"
    assert native_precision(False, TimmBackbone("test_resnet")) == "bf16-mixed"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert native_precision(True, TimmBackbone("test_efficientnet")) == "bf16-mixed"  # GPUs run them well


@pytest.mark.parametrize("bf16, expected", [(True, "bf16-mixed"), (False, "16-mixed")])
def test_on_a_gpu_always_mixed(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
    assert native_precision(uses_cuda=True) == expected


def cli(tmp_path, *args: str) -> SiamkitCLI:
    given = resolve_config_arguments([*TINY, "--trainer.accelerator", "cpu",
                                      "--trainer.default_root_dir", str(tmp_path), *args])
    return SiamkitCLI(SiameseModule, SiameseDataModule, args=given, run=False,
                      auto_configure_optimizers=False)


@pytest.mark.parametrize("native, expected", [(False, "32-true"), (True, "bf16-mixed")])
def test_a_config_without_precision_gets_the_machines_fastest(tmp_path, monkeypatch, native, expected):
    cpu_bf16(monkeypatch, avx512_bf16=native)
    run = cli(tmp_path, "--trainer.precision", "null")  # demo_digits.yaml sets 32: unset it
    assert run.trainer.precision == expected
    assert run.config.trainer.precision == expected  # what the run's config.yaml records
    if native:
        depthwise = cli(tmp_path, "--trainer.precision", "null", "--model.backbone",
                        "siamkit.models.TimmBackbone", "--model.backbone.init_args.name", "test_efficientnet")
        assert depthwise.trainer.precision == depthwise.config.trainer.precision == "32-true"


def test_bf16_asked_for_on_a_cpu_that_emulates_it_says_so(tmp_path, monkeypatch):
    cpu_bf16(monkeypatch, avx512_bf16=False)
    with pytest.warns(UserWarning, match="emulated .* leave trainer.precision out"):
        run = cli(tmp_path, "--trainer.precision", "bf16-mixed")
    assert run.trainer.precision == "bf16-mixed"  # what was asked for is kept
    cpu_bf16(monkeypatch, avx512_bf16=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*emulated")
        cli(tmp_path, "--trainer.precision", "bf16-mixed")
