"""The private library APIs siamkit relies on (siamkit/internals.py and SiamkitCLI's overrides),
and the library behaviour it builds on, are still there and still behave as siamkit assumes: each
test fails when its library changes under siamkit."""

from __future__ import annotations

import inspect

import torch

from siamkit.internals import (
    cpu_has_native_bf16,
    is_compile_error,
    open_clip_vision_tower,
    workers_share_the_temp_folder,
)
from tests.conftest import TINY_VIT


def test_torch_still_has_its_cpu_feature_checks():
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        assert isinstance(getattr(torch.cpu, name)(), bool), name
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert cpu_has_native_bf16() == native


def test_open_clip_still_builds_an_image_tower_alone():
    import open_clip

    parameters = list(inspect.signature(open_clip.model._build_vision_tower).parameters)
    assert parameters[:3] == ["embed_dim", "vision_cfg", "quick_gelu"]
    config = open_clip.get_model_config(TINY_VIT)
    tower = open_clip_vision_tower(config["embed_dim"], config["vision_cfg"], False)
    assert tower(torch.zeros(2, 3, 32, 32)).shape == (2, config["embed_dim"])


def test_lightning_cli_still_calls_the_methods_siamkit_overrides():
    """SiamkitCLI overrides ``_parse_ckpt_path`` (so a checkpoint's hyper-parameters never build
    classes), ``_run_subcommand`` (exit codes of interruptions) and ``subcommands`` (only the one
    run gets a parser); RunRecord relies on SaveConfigCallback writing once per run (``already_saved``)."""
    from pytorch_lightning.cli import LightningCLI, SaveConfigCallback

    from siamkit.train.lightning_cli import SiamkitCLI

    source = inspect.getsource(LightningCLI)
    assert "self._parse_ckpt_path()" in source and "self._run_subcommand(self.subcommand)" in source
    assert "for subcommand in self.subcommands():" in source
    for name in ("_parse_ckpt_path", "_run_subcommand"):
        assert (inspect.signature(getattr(LightningCLI, name)).parameters.keys()
                == inspect.signature(getattr(SiamkitCLI, name)).parameters.keys()), name
    assert "self.already_saved" in inspect.getsource(SaveConfigCallback.setup)


def test_the_best_checkpoint_overrides_a_method_lightning_still_asks_and_keeps_its_state_key():
    """BestCheckpoint declines NaN in ``check_monitor_top_k``, which ModelCheckpoint still asks
    before keeping a top-k checkpoint, and keeps ModelCheckpoint's state key, under which runs
    saved before it hold their best."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    from siamkit.train.checkpoint_callbacks import BestCheckpoint

    assert "if self.check_monitor_top_k(trainer, current):" in inspect.getsource(ModelCheckpoint)
    options = {"monitor": "val/roc_auc", "mode": "max"}
    assert BestCheckpoint(**options).state_key == ModelCheckpoint(**options).state_key


def test_lightning_still_words_the_notes_siamkit_silences():
    import re

    from pytorch_lightning.trainer.connectors import checkpoint_connector

    from siamkit.train.lightning_cli import MISLEADING_NOTES

    source = inspect.getsource(checkpoint_connector)
    said = r"[^{quote}\n]*(?:was called without a model|there is no last checkpoint)[^{quote}\n]*"
    texts = [text for quote in "\"'"
             for text in re.findall(quote + "(" + said.format(quote=quote) + ")" + quote, source)]
    assert texts, "Lightning no longer says either note"
    for note in MISLEADING_NOTES:
        assert any(re.match(note, text.replace("{fn}", "fit")) for text in texts), note


def test_lightning_still_words_the_resume_note_siamkit_silences():
    import re

    from pytorch_lightning.callbacks import model_checkpoint

    from siamkit.train.lightning_cli import RESUMED_FOLDER_NOTE

    said = re.findall(r'f"(Checkpoint directory [^"]*)"', inspect.getsource(model_checkpoint))
    assert said and all(re.match(RESUMED_FOLDER_NOTE, text) for text in said), said


def test_lightning_still_words_the_part_way_resume_warning_siamkit_says_in_its_own_words():
    import re

    from pytorch_lightning.loops import training_epoch_loop

    from siamkit.train.lightning_cli import PART_WAY_NOTE

    assert re.search(PART_WAY_NOTE, inspect.getsource(training_epoch_loop))


def test_torch_compile_failures_still_come_from_dynamo_and_inductor():
    from torch._dynamo.exc import BackendCompilerFailed, Unsupported

    for kind in (BackendCompilerFailed, Unsupported):
        assert is_compile_error(kind.__new__(kind)), kind
    assert not is_compile_error(RuntimeError("a bug of our own"))


class _TempFolder(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 1

    def __getitem__(self, i: int) -> str:
        import multiprocessing.util

        return multiprocessing.util.get_temp_dir()


def test_dataloader_workers_still_take_the_temp_folder_made_before_them():
    import multiprocessing.util

    workers_share_the_temp_folder()
    loader = torch.utils.data.DataLoader(_TempFolder(), num_workers=1, collate_fn=lambda items: items[0])
    assert next(iter(loader)) == multiprocessing.util.get_temp_dir()
