from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from siamkit.cli.arguments import method_names
from siamkit.cli.program import main
from siamkit.scoring.registry import get_scorer


@pytest.fixture
def two_images(tmp_path: Path) -> tuple[str, str]:
    photo = data.astronaut()[:128, 128:256]
    Image.fromarray(photo).save(tmp_path / "a.png")
    Image.fromarray(np.ascontiguousarray(photo[:, ::-1])).save(tmp_path / "b.jpg")
    return str(tmp_path / "a.png"), str(tmp_path / "b.jpg")


def test_one_aligned_line_per_method_with_its_time(two_images, capsys):
    assert main(["score", *two_images]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["histogram", "ssim", "sift", "orb", "phash", "pdq"]
    assert len({line.index(line.split()[1]) for line in lines}) == 1  # scores start in one column
    assert all(line.endswith("ms") for line in lines)


def test_json_output(two_images, capsys):
    assert main(["score", *two_images, "--method", "histogram:seed", "-m", "sift:ransac", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["method"] for r in rows] == ["histogram:seed", "sift:ransac"]
    for row in rows:  # the score each method gives in Python, and a time that was measured
        assert row["score"] == pytest.approx(get_scorer(row["method"]).score(*two_images)), row
        assert 0 < row["seconds"] < 60, row


def test_a_method_named_twice_is_scored_once(two_images, capsys):
    assert main(["score", *two_images, "-m", "phash", "-m", "histogram", "-m", "phash", "--json"]) == 0
    methods = [json.loads(line)["method"] for line in capsys.readouterr().out.splitlines()]
    assert methods == ["phash", "histogram"]


def test_methods_may_be_comma_separated_as_evaluate_takes_them(two_images, capsys):
    assert main(["score", *two_images, "-m", "phash, histogram", "-m", "ssim,phash", "--json"]) == 0
    methods = [json.loads(line)["method"] for line in capsys.readouterr().out.splitlines()]
    assert methods == ["phash", "histogram", "ssim"]


def test_a_folder_spelled_two_ways_is_one_method(two_images, encoder_folder, monkeypatch, capsys):
    monkeypatch.chdir(encoder_folder.parent)
    name = encoder_folder.name
    assert main(["score", *two_images, "-m", f"{name}/,./{name},histogram", "--json"]) == 0
    methods = [json.loads(line)["method"] for line in capsys.readouterr().out.splitlines()]
    assert methods == [name, "histogram"]  # enc/ as shell completion writes it
    assert method_names([f"./{name}/@start,{name}@start,timm:a:b"], "-m", []) == [f"{name}@start", "timm:a:b"]


def test_an_encoder_scores_files_as_evaluate_and_embed_read_them(encoder_folder, tmp_path, capsys):
    """A JPEG decodes at the reduction the encoder's size allows; a decoded array would skip it."""
    rng = np.random.default_rng(0)
    files = []
    for name in ("a.jpg", "b.jpg"):
        Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(tmp_path / name, quality=90)
        files.append(str(tmp_path / name))
    assert main(["score", *files, "-m", str(encoder_folder), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)["score"]
    assert scored == pytest.approx(get_scorer(str(encoder_folder)).score(*files), abs=1e-6)


def test_bad_input_is_one_message_and_exit_2(two_images, capsys):
    assert main(["score", two_images[0], "missing.png"]) == 2
    assert "cannot read image missing.png: file not found" in capsys.readouterr().err
    assert main(["score", *two_images, "-m", "colour"]) == 2
    assert "unknown scoring method 'colour'; valid: histogram" in capsys.readouterr().err


def test_a_hash_of_an_image_with_too_little_detail_is_called_unreliable(two_images, tmp_path, capsys):
    """A 1x1 image and a one-pixel strip had scored 1.0 by PDQ, with nothing said."""
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(tmp_path / "flat.png")
    flat = str(tmp_path / "flat.png")
    assert main(["score", two_images[0], flat, "-m", "pdq,phash,histogram", "--json"]) == 0
    rows = {row["method"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    for method in ("pdq", "phash"):
        assert rows[method]["unreliable"] == [f"{flat} has too little detail to hash (PDQ "
                                              "quality 0 of 100, below 50: flat or tiny)"]
    assert "unreliable" not in rows["histogram"]
    assert main(["score", *two_images, "-m", "pdq"]) == 0
    assert "unreliable" not in capsys.readouterr().out


def test_output_read_by_a_reader_that_stops_early_ends_quietly_as_a_shells_tools_do(two_images):
    """`train score a b | head -1`: the reader has gone before the command writes."""
    import signal
    import subprocess

    from tests.helpers import TRAIN

    process = subprocess.Popen([TRAIN, "score", *two_images, "-m", "histogram"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()
    err = process.communicate(timeout=60)[1].decode()
    assert process.returncode == 128 + signal.SIGPIPE and err == "", err
