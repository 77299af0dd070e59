"""The package boundaries hold: plain PyTorch models without Lightning, and the public names."""

from __future__ import annotations

import subprocess
import sys


def test_the_models_never_import_lightning_and_the_public_names_import_from_the_package():
    code = ("import sys, siamkit.models\n"
            "from siamkit.models import Encoder, Preprocess, InfoNCELoss\n"
            "assert not {'pytorch_lightning', 'lightning'} & set(sys.modules), 'Lightning was imported'\n"
            "from siamkit import EmbeddingIndex, Encoder as E1, Preprocess as P1, get_scorer, load_image\n"
            "from siamkit.scoring import DEFAULT_METHODS, get_scorer as g2, register_scorer\n"
            "assert E1 is Encoder and P1 is Preprocess and get_scorer is g2 and 'orb' in DEFAULT_METHODS")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr  # the child's traceback, not only its exit code


def test_no_library_package_imports_the_command_line():
    """Dependency direction: cli -> everything; the library packages never import siamkit.cli
    (``python -m siamkit``'s ``__main__.py`` is the program's entry point, as the console scripts)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    library = ("data", "models", "train", "scoring", "evaluation", "retrieval", "siamkit")
    offenders = [str(path.relative_to(root)) for package in library
                 for path in (root / package).glob("*.py")
                 if path.name != "__main__.py" and "siamkit.cli" in path.read_text()]
    assert offenders == []
