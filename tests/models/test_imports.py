"""The package boundaries hold: plain PyTorch models without Lightning, and the public names."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_importing_the_models_never_imports_lightning():
    _run("import sys, siamkit.models\n"
         "from siamkit.models import Encoder, Preprocess, InfoNCELoss\n"
         "assert not {'pytorch_lightning', 'lightning'} & set(sys.modules), 'Lightning was imported'")


def test_the_public_names_import_from_the_package():
    _run("from siamkit import EmbeddingIndex, Encoder, Preprocess, get_scorer, load_image\n"
         "from siamkit.models import Encoder as E2\n"
         "from siamkit.scoring import DEFAULT_METHODS, get_scorer as g2, register_scorer\n"
         "assert Encoder is E2 and get_scorer is g2 and 'orb' in DEFAULT_METHODS")
