"""The program's surface: help, config resolution, and one clear message (exit 2) per user error."""

import typing
from importlib.metadata import version

import pytest
import yaml
from pytorch_lightning import Trainer

from siamkit.cli.program import main
from siamkit.train.lightning_cli import run_trainer_command
from siamkit.train.parser_errors import brief_error
from tests.helpers import TINY


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("fit", "validate", "test", "predict"):
        assert f"  {command}" in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"siamkit {version('siamkit')}", "as in pyproject.toml"


def test_a_command_without_a_config_names_what_is_missing_and_the_bundled_configs(capsys):
    err = _error(capsys, ["fit"])
    assert "no model.backbone, model.loss, data.source: give a config with --config FILE" in err
    assert "demo_digits.yaml" in err and len(err.splitlines()) == 1
    message = ('Parser key "model.backbone":\n'
               "  Problem with given class_path 'siamkit.models.TimmBackbone':\n"
               "    the following arguments are required: name")
    assert brief_error(message) == "model.backbone: TimmBackbone needs name (in its init_args)"


def test_fit_help_and_print_config(capsys):
    assert main(["fit", "--help"]) == 0 and "--data.source" in capsys.readouterr().out
    assert main(["fit", "--config", "demo_digits.yaml", "--print_config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["data"]["source"] == "demo:digits"


def test_a_whole_number_of_batches_stays_whole_whatever_typing_cached_first(capsys, monkeypatch):
    # as when lightning_fabric's Optional[Union[float, int]] was in typing's cache as Lightning's
    # trainer module was imported: jsonargparse would then read "1" as 1.0, every batch
    for limit in ("limit_train_batches", "val_check_interval"):
        monkeypatch.setitem(Trainer.__init__.__annotations__, limit, typing.Union[float, int, None])
    assert main(["fit", *TINY, "--trainer.limit_train_batches", "1", "--trainer.val_check_interval", "0.5",
                 "--print_config"]) == 0
    trainer = yaml.safe_load(capsys.readouterr().out)["trainer"]
    assert trainer["limit_train_batches"] == 1 and isinstance(trainer["limit_train_batches"], int)
    assert trainer["val_check_interval"] == 0.5


def _error(capsys, args) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    return err


def test_missing_config_lists_bundled_ones(capsys):
    err = _error(capsys, ["fit", "--config", "nope.yaml"])
    assert "config file nope.yaml not found" in err and "demo_digits.yaml" in err


def test_unknown_command_is_one_line_with_the_closest(capsys):
    """It had printed the whole usage after the error."""
    assert _error(capsys, ["fitt"]).strip() == ("error: unknown command 'fitt' (did you mean fit?); "
                                                "`train --help` lists them")
    assert _error(capsys, ["bogus"]).strip() == "error: unknown command 'bogus'; `train --help` lists them"
    assert "did you mean" not in _error(capsys, ["nope"]), "copies shares three letters, no more"
    assert "(did you mean evaluate?)" in _error(capsys, ["eval"])
    assert "(did you mean copies?)" in _error(capsys, ["copy"]), "a name's start, its last letter wrong"
    assert "did you mean" not in _error(capsys, ["fixx"])


def test_mistyped_key_on_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    err = _error(capsys, ["fit", *TINY, "--trainer.max_epoch", "3"])  # not max_epochs
    assert "unrecognized arguments: --trainer.max_epoch 3 (did you mean trainer.max_epochs?)" in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("given, where", [
    ("--lr", "--model.optimizer.lr"), ("--model.lr", "--model.optimizer.lr"),
    ("--epochs", "--trainer.max_epochs"), ("--model.batch_size", "--data.batch_size")])
def test_a_setting_given_by_a_short_name_is_pointed_to_where_it_is(given, where, tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.chdir(tmp_path)
    err = _error(capsys, ["fit", *TINY, given, "3"])
    assert err == f"error: unrecognized arguments: {given} 3 ({where} sets that) (see `train fit --help`)\n"


def test_mistyped_key_in_a_config_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "typo.yaml").write_text("data:\n  batchsize: 8\n")
    err = _error(capsys, ["fit", *TINY, "--config", "typo.yaml"])
    assert "does not accept option 'data.batchsize' (did you mean data.batch_size?)" in err


@pytest.mark.parametrize("option, value, expected", [
    ("--model.backbone", "resnet18", "model.backbone: 'resnet18' names no class: give a class_path, such as "
                                     "siamkit.models.TimmBackbone, and its init_args"),
    ("--model.loss", "os.system", "model.loss: os.system is not a SiameseLoss: give the class_path of one"),
    ("--trainer.callbacks+", "builtins.print", "trainer.callbacks: builtins.print is not a Callback"),
    ("--model.loss", "siamkit.models.InfoNceLoss",  # the next two had taken seven lines
     "model.loss: siamkit.models has no class InfoNceLoss (did you mean InfoNCELoss?)"),
    ("--model.backbone.class_path", "timmm.Model", "model.backbone: timmm.Model: there is no module timmm; "
                                                   "give the class_path of an installed class, such as"),
])
def test_a_value_that_names_no_class_of_the_kind_is_one_line(option, value, expected, tmp_path, monkeypatch,
                                                            capsys):
    monkeypatch.chdir(tmp_path)
    err = _error(capsys, ["fit", *TINY, f"{option}={value}"])
    assert expected in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("options, expected", [
    (["--trainer.logger", "MLFlowLogger"],  # its package is not installed here: was "a bug in siamkit"
     "the Logger given cannot be made: pytorch_lightning.loggers.MLFlowLogger: Requirement 'mlflow"),
    (["--trainer.callbacks", "EarlyStopping", "--trainer.callbacks.monitor", "val/roc_auc",
      "--trainer.callbacks.mode", "nope"],
     "the Callback given cannot be made: `mode` can be min, max, got nope"),
])
def test_a_class_that_cannot_be_made_is_one_line_and_writes_nothing(options, expected, tmp_path, monkeypatch,
                                                                    capsys):
    from lightning_utilities.core.imports import RequirementCache
    from pytorch_lightning.loggers import mlflow

    # a version no machine has: the package is missing here whether mlflow is installed or not
    monkeypatch.setattr(mlflow, "_MLFLOW_AVAILABLE", RequirementCache("mlflow>=999"))
    monkeypatch.chdir(tmp_path)
    err = _error(capsys, ["fit", *TINY, *options, "--trainer.default_root_dir", "run"])
    assert err.startswith(f"error: {expected}") and len(err.splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option, expected", [
    ("--model.loss.init_args.temprature", "model.loss: ContrastiveLoss has no option 'temprature'"),
    ("--model.optimizer.init_args.lrr", "model.optimizer: SGD has no option 'lrr' (did you mean lr?); "
                                        "its options: lr, momentum,"),  # not params: the module passes them
    ("--model.head.init_args.out_dims", "model.head: ProjectionHead has no option 'out_dims' (did you mean "
                                        "out_dim?); its options: out_dim, hidden_dim, batch_norm"),
])
def test_an_option_a_class_does_not_take_is_one_line_with_the_ones_it_does(option, expected, tmp_path,
                                                                           monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    err = _error(capsys, ["fit", *TINY, option, "1"])
    assert expected in err and len(err.splitlines()) == 1, err


def test_missing_data_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    err = _error(capsys, ["fit", *TINY, "--data.source", str(tmp_path / "absent")])
    assert f"data not found: {tmp_path / 'absent'}" in err


def test_pretrained_weights_missing_offline_names_model_tag_and_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    err = _error(capsys, ["fit", "--config", "clip_siamese.yaml", "--trainer.logger", "false"])
    assert "ViT-B-16-plus-240" in err and "laion400m_e32" in err
    assert "local weights file" in err and "null" in err


def test_fp16_mixed_precision_on_cpu_fails_clearly(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    err = _error(capsys, ["fit", *TINY, "--trainer.precision", "16-mixed", "--trainer.accelerator", "cpu"])
    assert "16-mixed" in err and "bf16-mixed" in err


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception, match="data not found"):
        main(["fit", *TINY, "--data.source", "absent", "--debug"])


def test_resuming_a_run_that_has_no_checkpoint_is_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    err = _error(capsys, ["fit", *TINY, "--ckpt_path", "last"])
    assert "runs/demo_digits/checkpoints holds no last.ckpt or on_exception.ckpt" in err
    assert not (tmp_path / "runs").exists()


def test_a_union_with_a_type_that_is_not_a_plain_value_keeps_the_whole_explanation():
    message = ('Parser key "model.backbone":\n  Does not validate against any of the Union subtypes\n'
               "  Subtypes: [<class 'siamkit.models.Backbone'>, <class 'NoneType'>]\n  Errors:\n"
               "    - Expected a Backbone\n  Given value type: <class 'str'>\n  Given value: resnet")
    assert brief_error(message) == message
    assert brief_error("unrecognized arguments: --x") == "unrecognized arguments: --x"


def test_a_value_of_the_wrong_plain_type_is_one_line():
    message = 'Parser key "model.warmup_steps":\n  Expected a <class \'int\'>. Got value: abc'
    assert brief_error(message) == "model.warmup_steps: 'abc' is not a whole number"
    message = 'Parser key "data.kind":\n  Expected a <class \'str\'>. Got value: False'  # `kind: no` in YAML
    assert brief_error(message) == ("data.kind: 'False' is not text (YAML reads on, off, yes and no unquoted "
                                    "as true or false: put the word in quotes)")


def test_check_leaks_off_unquoted_in_yaml_turns_the_check_off(tmp_path, monkeypatch, capsys):
    """As the leak note words it (`data.check_leaks: off`), which YAML reads as false: it had been a
    type error of jsonargparse's, over two lines."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "off.yaml").write_text("data:\n  check_leaks: off\n")
    where = TINY.index("--data.check_leaks")
    args = [*TINY[:where], *TINY[where + 2:], "--config", "off.yaml", "--trainer.fast_dev_run", "true"]
    cli = run_trainer_command("fit", args)
    assert cli.datamodule.leak_check == "off"
    assert "near-duplicate" not in capsys.readouterr().err, "demo:digits' leak note, left out"
