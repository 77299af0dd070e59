"""The benchmark and helper scripts are run by hand, not by the suite: importing each one here
catches a name they import that has moved (scripts/bench_data.py imported a function of the
DataModule from 2026-12-05, after it had moved)."""

import importlib.util
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).parents[1] / "scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[script.name for script in SCRIPTS])
def test_every_script_imports_and_has_a_main(script: Path):
    spec = importlib.util.spec_from_file_location(f"_script_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # its imports and definitions; main() runs only as __main__
    assert callable(getattr(module, "main", None)), f"{script.name} has no main()"
