"""Each tool command's --help describes every option and gives each default."""

from __future__ import annotations

import argparse

import pytest

from siamkit.cli import arguments
from siamkit.cli.program import TOOL_COMMANDS, main


@pytest.mark.parametrize("command", TOOL_COMMANDS)
def test_every_option_has_a_help_with_its_default(command, monkeypatch, capsys):
    parsers = []

    def caught(parser, argv=None, namespace=None):
        parsers.append(parser)
        raise SystemExit(0)

    monkeypatch.setattr(arguments.ArgumentParser, "parse_args", caught)
    main([command])
    assert parsers, f"train {command} parses with siamkit's ArgumentParser"
    formatter = parsers[0]._get_formatter()
    for action in parsers[0]._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"train {command} {action.option_strings[0]} has no help"
        if action.default not in (None, False):
            assert "default" in formatter._get_help_string(action), f"{action.option_strings[0]}'s default"
    monkeypatch.undo()
    assert main([command, "--help"]) == 0
    assert "(default " in capsys.readouterr().out


def test_python_dash_m_siamkit_is_the_program(tmp_path):
    import subprocess
    import sys

    from siamkit import __version__

    done = subprocess.run([sys.executable, "-m", "siamkit", "--version"], capture_output=True, text=True,
                          cwd=tmp_path)  # away from the repository's own siamkit/ folder
    assert (done.returncode, done.stdout) == (0, f"siamkit {__version__}\n"), done.stderr
