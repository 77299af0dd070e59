"""Bad input that could cost a user data or give a silently wrong answer: each is refused with
one line and exit 2 before anything is deleted, moved or written."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from siamkit.cli.program import main
from siamkit.retrieval.index import EmbeddingIndex
from tests.helpers import TINY, TINY_WITH_LOGGERS, assert_one_error_line

OUT = "{zoo}/out"
RUN_CKPT = "{zoo}/run/checkpoints/last.ckpt"
FIT = ["fit", *TINY]
APART = "holds images that are also compared"
CASES = {
    "export --force over the run folder being exported": (
        ["export", "--ckpt", RUN_CKPT, "--out", "{zoo}/run", "--force"],
        "holds the checkpoint being exported"),
    "export --force over a folder of images": (
        ["export", "--ckpt", "{zoo}/tiny.ckpt", "--out", "{zoo}/photos", "--force"],
        "is not an encoder folder written by `train export`"),
    "export --force over the current folder": (
        ["export", "--ckpt", "{zoo}/tiny.ckpt", "--out", ".", "--force"], "so --force will not replace it"),
    "duplicates --against the same folder": (
        ["duplicates", "{zoo}/photos", "--against", "{zoo}/photos", "--method", "pdq", "--out", OUT],
        "overlap, so every image would match itself"),
    "duplicates --against a parent folder": (
        ["duplicates", "{zoo}/photos", "--against", "{zoo}", "--method", "pdq", "--out", OUT,
         "--action", "move", "--to", "{zoo}/../moved"], "overlap"),
    "leaks: NaN split fractions": (["leaks", "--data", "{zoo}/leaky/labels.csv", "--out", OUT,
                                    "--split-fractions", "nan", "0", "0"],
                                   "--split-fractions: 'nan' is not a fraction between 0 and 1"),
    "evaluate: split fractions for a table with a split column": (
        ["evaluate", "--data", "{zoo}/one_class_test.csv", "--out", OUT, "--split-fractions", "0", "0", "1"],
        "one_class_test.csv has a split column, which decides its splits; leave --split-fractions out"),
    "leaks: a split seed for a table with a split column": (
        ["leaks", "--data", "{zoo}/leaky/labels.csv", "--out", OUT, "--split-seed", "3"],
        "has a split column, which decides its splits; leave --split-seed out"),
    "evaluate: NaN split fraction": (["evaluate", "--data", "demo:digits", "--out", OUT, "--split-fractions",
                                      "0.8", "nan", "0.1"], "'nan' is not a fraction between 0 and 1"),
    "leaks: fractions that do not sum to 1": (["leaks", "--data", "{zoo}/photos", "--out", OUT,
                                               "--split-fractions", "0.5", "0.5", "0.5"], "summing to 1"),
    "fit: NaN split fractions": ([*FIT, "--data.split_fractions", "[nan, 0, 0]"],
                                 "data.split_fractions: 'nan' is not a number"),
    "fit: NaN split fractions, YAML's spelling": ([*FIT, "--data.split_fractions", "[.nan, 0, 0]"],
                                                  "data.split_fractions: split fractions"),
    "fit: only matching pairs for ContrastiveLoss": (
        [*FIT, "--data.source", "{zoo}/matches_only.csv", "--data.check_leaks", "off",
         "--trainer.limit_val_batches", "0"], "holds only matching pairs, and ContrastiveLoss needs"),
    "fit: a split column with no val rows": (
        [*FIT, "--data.source", "{zoo}/matches_only.csv", "--data.check_leaks", "off"],
        "the val split of {zoo}/matches_only.csv is empty: its split column names no row val; mark some rows "
        "split=val"),
    "fit: crop scale the wrong way round": ([*FIT, "--data.crop_scale", "[0.5, 0.05]"],
                                            "data.crop_scale must be [low, high] with 0 < low <= high <= 1"),
    "fit: crop scale beyond the image": ([*FIT, "--data.crop_scale", "[0.5, 3.0]"],
                                         "data.crop_scale must be"),
    "leaks: images beside a sub-folder": (["leaks", "--data", "{zoo}/mixed", "--out", OUT],
                                          "at its top level (e.g. loose0.png) with 1 sub-folder (e.g."),
    "copies: images beside a sub-folder, the option named as copies spells it": (
        ["copies", "--data", "{zoo}/mixed", "--out", OUT], "`--kind images` for train copies"),
    "search: a --background that holds the index's images": (
        ["search", "{zoo}/photos/0.png", "--index", "{zoo}/index", "--background", "{zoo}/photos"], APART),
    "duplicates: a --background that holds the images": (
        ["duplicates", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--threshold", "0.5", "--out", OUT,
         "--background", "{zoo}/photos"], APART),
    "leaks: a --background that holds the images": (
        ["leaks", "--data", "{zoo}/leaky/labels.csv", "--encoder", "{zoo}/encoder", "--threshold", "0.5",
         "--out", OUT, "--background", "{zoo}/leaky"], APART),
    "evaluate: a --background that holds the images": (
        ["evaluate", "--data", "{zoo}/leaky/labels.csv", "--methods", "{zoo}/encoder", "--out", OUT,
         "--background", "{zoo}/leaky"], APART),
    "evaluate: an empty data source (had read the current folder)": (
        ["evaluate", "--data", "", "--methods", "histogram", "--out", OUT], "the data source is empty"),
    "leaks: a URL as the data source": (["leaks", "--data", "https://example.com/pairs.csv", "--out", OUT],
                                        "is a URL, and siamkit reads local files only"),
    "fit: one image as the data source": ([*FIT, "--data.source", "{zoo}/photos/0.png"],
                                          "is one image; point at a folder of images (such as"),
    "evaluate --out a folder of the user's files": (
        ["evaluate", "--data", "demo:digits", "--methods", "histogram", "--out", "{zoo}/own_files"],
        "holds metrics.json among other files, which this command would overwrite"),
    "duplicates --out a folder of the user's files": (
        ["duplicates", "{zoo}/photos", "--method", "pdq", "--out", "{zoo}/own_files"],
        "holds duplicates.csv"),
    "leaks --out a folder of the user's files": (
        ["leaks", "--data", "{zoo}/photos", "--out", "{zoo}/own_files"], "holds leaks.html among"),
    "search: NaN rows in the index": (["search", "{zoo}/photos/0.png", "--index", "{zoo}/nan_index"],
                                      "embeddings.npy holds numbers that are not finite in 1 row "),
    "evaluate: --methods names none": (["evaluate", "--data", "demo:digits", "--out", OUT, "--methods", ","],
                                       "--methods ',' names no method"),
    "evaluate: --max-pairs 1": (["evaluate", "--data", "demo:digits", "--out", OUT, "--max-pairs", "1"],
                                "--max-pairs: '1' is not a whole number >= 2"),
    "evaluate: a test split of one class": (
        ["evaluate", "--data", "{zoo}/one_class_test.csv", "--out", OUT, "--methods", "histogram"],
        "or mark more of its rows split=test"),
    "evaluate: an empty test split": (
        ["evaluate", "--data", "{zoo}/classes", "--out", OUT, "--methods", "histogram"],
        "(--split-fractions 0 0 1 puts all of it in the test split)"),
    "fit: temperature 0": ([*FIT, "--model.loss", "siamkit.models.InfoNCELoss",
                            "--model.loss.init_args.temperature", "0"],
                           "InfoNCELoss temperature must be a number > 0, not 0"),
    "fit: a negative margin": ([*FIT, "--model.loss.init_args.margin", "-1"],
                               "ContrastiveLoss margin must be a number > 0"),
    "fit: a negative learning rate": ([*FIT, "--model.optimizer.init_args.lr", "-1"],
                                      "model.optimizer: Invalid learning rate: -1.0"),
    "fit: negative warm-up": ([*FIT, "--model.warmup_steps", "-5"], "model.warmup_steps must be"),
    "fit: --ckpt_path best": ([*FIT, "--ckpt_path", "best"], "a fit continues from where it stopped"),
    "test: --ckpt_path a folder": (["test", *TINY, "--ckpt_path", "{zoo}/run/checkpoints"],
                                   "is a folder: pass a .ckpt file"),
    "export: a checkpoints folder": (["export", "--ckpt", "{zoo}/run/checkpoints", "--out", OUT],
                                     "is a folder of checkpoints: pass its run folder"),
    "export: an encoder folder": (["export", "--ckpt", "{zoo}/encoder", "--out", OUT],
                                  "is an encoder folder, exported already"),
    "score: a checkpoints folder": (["score", "{zoo}/photos/0.png", "{zoo}/photos/1.png", "-m",
                                     "{zoo}/run/checkpoints"], "is a folder of checkpoints"),
    "test: --ckpt_path best without one": (["test", *TINY, "--ckpt_path", "best"], "holds no best-*.ckpt"),
    "test: a zip that is not a checkpoint": (["test", *TINY, "--ckpt_path", "{zoo}/not_a_checkpoint.zip"],
                                             "not a checkpoint written by `train fit`"),
    "test: a checkpoint of another architecture": (["test", *TINY, "--ckpt_path", "{zoo}/tiny.ckpt",
                                                    "--model.head.init_args.out_dim", "32"],
                                                   "(head.out_dim: 32 in the config, 64 in the file)"),
    "fit: resume another architecture": ([*FIT, "--ckpt_path", "{zoo}/tiny.ckpt",
                                          "--model.head.init_args.out_dim", "32"],
                                         "config of its run (a copy is logs/version_N/config.yaml"),
    "fit: default_root_dir is a file": ([*FIT, "--trainer.default_root_dir", "{zoo}/file.txt"],
                                        "is a file; a run needs a folder there"),
    "fit: an empty config file": (["fit", "--config", "{zoo}/empty.yaml"],
                                  "config {zoo}/empty.yaml is empty"),
    "fit: a config indented with a tab": (["fit", "--config", "{zoo}/tab.yaml"],
                                          "not valid YAML at line 2, column 1: found character '\\t'"),
    "leaks: a config that is not YAML": (["leaks", "--config", "{zoo}/unclosed.yaml", "--out", OUT],
                                         "config {zoo}/unclosed.yaml is not valid YAML at line 2"),
    "fit: a config that is not UTF-8": (["fit", "--config", "{zoo}/latin1.yaml"],
                                        "config {zoo}/latin1.yaml is not UTF-8 text (byte 18)"),
    "fit: an empty validation split": ([*FIT, "--data.split_fractions", "[0.9, 0.0, 0.1]"],
                                       "the val split of demo:digits is empty; give it a share in "
                                       "`data.split_fractions` (now [0.9, 0.0, 0.1])"),
    "fit: images beside a sub-folder": ([*FIT, "--data.source", "{zoo}/mixed"],
                                         "`--data.kind images` for train fit"),
}


@pytest.fixture(scope="module")
def kept(zoo):
    """What a refused command must leave as it was: the zoo's run folder and photographs."""
    run = zoo / "run" / "checkpoints"
    run.mkdir(parents=True, exist_ok=True)
    shutil.copy(zoo / "tiny.ckpt", run / "last.ckpt")
    return lambda: sorted(p.relative_to(zoo) for p in (zoo / "run").rglob("*")) + sorted(
        p.relative_to(zoo) for p in (zoo / "photos").rglob("*"))


@pytest.mark.parametrize("case", CASES)
def test_refused_before_anything_is_deleted_or_moved(case, zoo, kept, tmp_path, monkeypatch, capsys):
    before = kept()
    (tmp_path / "notes.txt").write_text("the user's own file")
    assert_one_error_line(CASES[case], zoo, tmp_path, monkeypatch, capsys)
    assert kept() == before and (tmp_path / "notes.txt").exists()


def test_file_names_no_list_can_hold_are_skipped_and_named(tmp_path, encoder_folder, capsys):
    """A line break or bytes that are not UTF-8 in a name: listed as skipped with the fix, and the
    index and duplicate reports stay whole."""
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    for i, colour in enumerate(("red", "blue")):
        Image.new("RGB", (40, 40), colour).save(folder / f"{i}.png")
    (folder / "new\nline.png").write_bytes((folder / "0.png").read_bytes())
    os.rename(folder / "1.png", os.fsencode(folder) + b"/caf\xe9.png")
    Image.new("RGB", (40, 40), "green").save(folder / "1.png")
    assert main(["embed", str(folder), "--encoder", str(encoder_folder), "--out", str(tmp_path / "index"),
                 "--num-workers", "0"]) == 0
    assert "skipped 2" in capsys.readouterr().out
    index = EmbeddingIndex.load(tmp_path / "index")
    assert sorted(Path(f).name for f in index.files) == ["0.png", "1.png"]
    reasons = " ".join(bad.reason for bad in index.skipped)
    assert "line break" in reasons and "not valid UTF-8" in reasons
    assert main(["duplicates", str(folder), "--method", "pdq", "--out", str(tmp_path / "dups")]) == 0
    page = (tmp_path / "dups" / "duplicates.html").read_text()
    assert "caf\ufffd.png" in page and "rename it" in page


@pytest.mark.parametrize("folder, message", [("cut_card", "is not valid JSON"),
                                             ("unknown_key", "has unknown field bogus")])
def test_a_broken_card_is_the_one_line_said(folder, message, zoo, capsys):
    """Not a note about falling back to PyTorch first: PyTorch cannot read a broken card either."""
    image = str(zoo / "photos" / "0.png")
    assert main(["score", image, image, "-m", str(zoo / folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


@pytest.mark.parametrize("extra, message", [
    (["--data.source", "{zoo}/leaky/labels.csv", "--data.check_leaks", "error"], "in two splits ("),
    (["--data.source", "{zoo}/photos"], "ContrastiveLoss accepts PairBatch or ClassBatch"),
])
def test_a_run_refused_for_its_data_leaves_no_logs(extra, message, zoo, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["fit", *TINY_WITH_LOGGERS, *(arg.replace("{zoo}", str(zoo)) for arg in extra)]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [], "no log folder, no W&B run, no checkpoints"
