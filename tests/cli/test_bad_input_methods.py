"""Bad input to the commands that load models (`train score`, `train evaluate`, `train export`): one
line, exit 2, and nothing loaded that the error makes useless."""

from __future__ import annotations

import pytest

from siamkit.models.encoder import Encoder
from tests.helpers import assert_one_error_line

P = "{zoo}/photos/0.png"
CASES = {
    "score: an unknown device": (["score", P, P, "-m", "{zoo}/encoder", "--device", "tpu9"],
                                 "unknown device 'tpu9'"),
    "score: a missing image": (["score", "{zoo}/nope.png", P, "-m", "{zoo}/encoder"], "file not found"),
    "evaluate: --method for --methods": (
        ["evaluate", "--data", "demo:photos", "--out", "{zoo}/out", "--method", "{zoo}/encoder"],
        "unrecognized arguments: --method {zoo}/encoder; did you mean --methods?"),
    "evaluate: missing data": (
        ["evaluate", "--data", "nope.csv", "--out", "{zoo}/out", "--methods", "{zoo}/encoder"],
        "data not found: nope.csv does not exist (in "),
    "evaluate: unlabelled images": (
        ["evaluate", "--data", "{zoo}/photos", "--methods", "{zoo}/encoder", "--out", "{zoo}/out"],
        "has no labels: evaluation needs labelled pairs (a,b,label) or class-labelled images (a folder per "
        "class, or path,label); `train copies --data {zoo}/photos --out DIR` (or --splits-of RUN)"),
    "export: missing data to check on": (
        ["export", "--ckpt", "{zoo}/tiny.ckpt", "--out", "{zoo}/out", "--choose-on-val",
         "--check-data", "nope"],
        "data not found: nope does not exist (in "),
    "export: unlabelled data to check on": (
        ["export", "--ckpt", "{zoo}/tiny.ckpt", "--out", "{zoo}/out", "--choose-on-val",
         "--check-data", "{zoo}/photos"],
        "--choose-on-val checks the model on labelled val pairs, and {zoo}/photos has none ({zoo}/photos has "
        "no labels: "),
    "export: a threshold from unlabelled data": (
        ["export", "--ckpt", "{zoo}/tiny.ckpt", "--out", "{zoo}/out", "--calibrate",
         "--check-data", "{zoo}/photos"],
        "--calibrate checks the model on labelled val pairs, and {zoo}/photos has none"),
    "score: a URL": (["score", "https://example.com/a.jpg", P],
                     "file not found (a URL: siamkit reads local files and downloads nothing; download it"),
    "embed: a URL for a folder": (["embed", "https://example.com/photos", "--encoder", "{zoo}/encoder",
                                   "--out", "{zoo}/out"], "(a URL: siamkit reads local files and downloads"),
    "duplicates: --against a URL": (["duplicates", "{zoo}/photos", "--method", "pdq", "--out", "{zoo}/out",
                                     "--against", "s3://bucket/photos"], "(a URL: siamkit reads local files"),
    "export: a threshold rule without --calibrate": (
        ["export", "--ckpt", "{zoo}/tiny.ckpt", "--out", "{zoo}/out", "--threshold", "fmr=0.01"],
        "says how --calibrate chooses: add --calibrate"),
    "export: a threshold rule that is none": (
        ["export", "--ckpt", "{zoo}/tiny.ckpt", "--out", "{zoo}/out", "--calibrate", "--threshold", "fmr=2"],
        "'fmr=2': use best_f1, or fmr=X with 0 < X < 1"),
    "score: --methd for --method": (["score", P, P, "--methd=histogram"], "did you mean --method?"),
    "score: -m that names no method": (["score", P, P, "-m", ",", "-m", " "],
                                       "--method ',' ' ' names no method; give a comma-separated list"),
}


@pytest.mark.parametrize("case", CASES)
def test_refused_before_any_model_loads(case, zoo, tmp_path, monkeypatch, capsys):
    def no_loading(*args, **kwargs):
        raise AssertionError("a model was loaded first")

    monkeypatch.setattr(Encoder, "load", no_loading)
    monkeypatch.setattr(Encoder, "from_checkpoint", no_loading)
    assert_one_error_line(CASES[case], zoo, tmp_path, monkeypatch, capsys)
