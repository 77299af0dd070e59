"""``train evaluate``: the same pairs for every method, honest splits, a report people can open."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from siamkit.cli.program import main
from siamkit.data.demo import resolve_source
from siamkit.evaluation.metrics import LOOSE_THRESHOLD
from siamkit.models.encoder import Encoder

QUICK = ["--bootstrap", "20"]


@pytest.fixture(scope="module")
def photos_report(tmp_path_factory, tiny_checkpoint) -> Path:
    """histogram, phash and an exported encoder on demo:photos (the folder left as it was;
    histogram named twice)."""
    out = tmp_path_factory.mktemp("evaluate")
    encoder = Encoder.from_checkpoint(tiny_checkpoint).save(out / "encoder")
    card = (encoder / "config.json").read_bytes()
    assert main(["evaluate", "--data", "demo:photos", "--methods", f"histogram,phash,{encoder},histogram",
                 "--out", str(out / "report"), *QUICK]) == 0
    assert (encoder / "config.json").read_bytes() == card, "evaluation reads; only --calibrate writes"
    return out


def test_every_output_with_stable_keys(photos_report: Path):
    from siamkit.cli.evaluate import REPORT_FILES

    report = photos_report / "report"
    assert {p.name for p in report.iterdir()} == set(REPORT_FILES), "the names --out is checked for"
    document = json.loads((report / "metrics.json").read_text())
    digest = document["data"].pop("split_digest")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert document["data"] | {"skipped_images": []} == {
        "source": "demo:photos", "kind": "pairs", "split": "test", "seed": 0,
        "split_fractions": [0.8, 0.1, 0.1], "pairs": 96, "matches": 48, "threshold_pairs": 288,
        "retrieval_images": 0, "skipped_images": []}
    assert set(document["methods"]) == {"histogram", "phash", str(photos_report / "encoder")}
    assert (report / "summary.md").read_text().count("| histogram |") == 1, "named twice, scored once"
    unmeasured = ("TPR@FPR 1% and 0.1% left out: these pairs hold 48 non-matches, and a false-match rate "
                  "of 1% takes at least 100 to measure (0.1%: 1,000).")
    summary = (report / "summary.md").read_text()
    assert unmeasured in summary and "TPR@FPR" not in summary.split("\n")[0]
    assert unmeasured in (report / "report.html").read_text()
    opening = (report / "report.html").read_text().split("<h2>")[0]
    assert "for retrieval" not in opening and "skipped" not in opening, "pairs: no retrieval; none unreadable"
    classical = {name: document["methods"][name]["val_roc_auc"] for name in ("histogram", "phash")}
    assert [(c["method"], c["against"], c["chosen_on"]) for c in document["comparisons"]] == [
        (str(photos_report / "encoder"), max(classical, key=classical.get), "val")
    ], "trained from scratch: no start; the best classical method on the val pairs"
    for result in document["methods"].values():
        assert {"roc_auc", "average_precision", "eer", "accuracy", "f1", "threshold", "pairs_per_second",
                "peak_memory_mb"} <= set(result)
        assert not {"tpr@fpr=0.01", "tpr@fpr=0.001"} & set(result), "48 non-matches measure neither rate"
        assert result["threshold"]["chosen_on"] == "val"
        low, high = result["roc_auc"]["ci95"]
        assert low <= result["roc_auc"]["value"] <= high


def test_without_bootstrap_no_interval_is_shown_and_metrics_json_stays_json(photos_report: Path, capsys):
    out = photos_report / "no-bootstrap"
    assert main(["evaluate", "--data", "demo:photos", "--methods", f"histogram,{photos_report / 'encoder'}",
                 "--out", str(out), "--bootstrap", "0", "--threshold", "fmr=0.001"]) == 0
    assert ("note: --threshold fmr=0.001: the val pairs hold 144 non-matches, and a false-match rate of 0.1% "
            "takes at least 1,000 to measure") in capsys.readouterr().err

    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    document = json.loads((out / "metrics.json").read_text(), parse_constant=refuse)
    assert document["methods"]["histogram"]["roc_auc"]["ci95"] == [None, None]
    assert document["comparisons"][0]["ci95"] == [None, None]
    assert document["comparisons"][0]["verdict"] == "no interval (--bootstrap 0)"
    for page in ("summary.md", "report.html"):
        assert "(nan" not in (out / page).read_text().lower(), page  # e.g. 0.802 (nan-nan)


def test_calibrate_writes_the_chosen_threshold_into_the_encoder_folder(photos_report: Path, capsys):
    encoder = photos_report / "encoder"
    assert main(["evaluate", "--data", "demo:photos", "--methods", str(encoder), "--out",
                 str(photos_report / "calibration"), "--calibrate", *QUICK]) == 0
    config = json.loads((encoder / "config.json").read_text())
    threshold = json.loads((photos_report / "calibration" / "metrics.json").read_text())["methods"][
        str(encoder)]["threshold"]
    assert config["calibration"]["threshold"] == threshold["value"]
    assert config["calibration"]["split"] == "val"
    said = capsys.readouterr()
    assert (f"calibrated {encoder}: threshold {threshold['value']:.4f} (best_f1 on 288 val pairs; "
            f"{threshold['val_false_match_rate']:.1%} of their non-matches at or above it)") in said.out
    assert threshold["value"] - threshold["same_decisions_above"] < LOOSE_THRESHOLD  # 288 val pairs
    assert "decides these" not in said.err
    image = next(resolve_source("demo:photos").parent.glob("*/p0.jpg"))
    assert main(["score", str(image), str(image), "-m", str(photos_report / "encoder")]) == 0
    assert "same (threshold" in capsys.readouterr().out


def test_class_labelled_data_gets_retrieval_metrics(class_folder, tmp_path, capsys):
    assert main(["evaluate", "--data", str(class_folder), "--methods", "histogram,phash",
                 "--out", str(tmp_path),
                 "--split-fractions", "0.5", "0.25", "0.25", *QUICK]) == 0
    document = json.loads((tmp_path / "metrics.json").read_text())
    assert document["data"]["kind"] == "classes" and document["data"]["retrieval_images"] == 8
    for result in document["methods"].values():
        assert {"recall@1", "recall@5", "recall@10", "precision@1", "map@r"} <= set(result)
    assert document["methods"]["histogram"]["recall@1"] == 1.0  # each class is its own colour
    page = (tmp_path / "report.html").read_text()
    assert "8 images for retrieval (each a query against the others)" in page
    said = capsys.readouterr()
    assert "| histogram |" in said.out and "among 8 of the 32 images in all splits" in said.out
    assert "\r" not in said.err, "a log gets no bar redrawn in place (siamkit.progress)"


def test_a_model_is_never_evaluated_on_its_training_images(tiny_checkpoint, tmp_path, capsys):
    run_folder = tiny_checkpoint.parent.parent  # a run folder stands for its best checkpoint
    args = ["evaluate", "--data", "demo:digits", "--methods", str(run_folder), "--out", str(tmp_path), *QUICK]
    assert main([*args, "--split-seed", "1"]) == 2
    err = capsys.readouterr().err
    assert "was trained on demo:digits split [0.7, 0.15, 0.15] with seed 0, but this splits it" in err
    assert "--allow-overlap" in err
    assert main([*args, "--split", "train"]) == 2  # argparse: not a choice


def test_bad_input(pairs_table, tmp_path, capsys):
    assert main(["evaluate", "--data", "demo:photos", "--methods", "histogram,colour", "--out",
                 str(tmp_path)]) == 2
    assert "unknown scoring method 'colour'; valid: histogram" in capsys.readouterr().err
    (tmp_path / "other.ckpt").write_bytes(b"\x00" * 10)
    assert main(["evaluate", "--data", "demo:photos", "--methods", str(tmp_path / "other.ckpt"),
                 "--out", str(tmp_path)]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err
    (pairs_table.parent / "img3.png").unlink()
    (pairs_table.parent / "img5.png").write_bytes(b"not an image")
    assert main(["evaluate", "--data", str(pairs_table), "--methods", "histogram", "--out",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "2 of 12 images cannot be read" in err and "img3.png: file not found" in err and "img5.png" in err
    assert "--on-bad-image skip" in err


@pytest.mark.parametrize("command", ["evaluate", "fit"])
def test_a_table_whose_paths_start_from_the_working_folder_says_which_root_reads_them(command, pairs_table,
                                                                                      tmp_path, monkeypatch,
                                                                                      capsys):
    """data/pairs.csv naming data/img0.png, from the folder above: every image was "file not
    found", with nothing said of where the paths are read from."""
    from tests.helpers import TINY

    monkeypatch.chdir(pairs_table.parent.parent)
    table = Path(pairs_table.parent.name) / "pairs.csv"
    rows = [row.split(",") for row in table.read_text().splitlines()]
    rows[1:] = [[f"{table.parent}/{a}", f"{table.parent}/{b}", label] for a, b, label in rows[1:]]
    table.write_text("".join(",".join(row) + "\n" for row in rows))
    args = (["evaluate", "--data", str(table), "--methods", "histogram", "--out", str(tmp_path / "out")]
            if command == "evaluate" else ["fit", *TINY, "--data.source", str(table)])
    assert main(args) == 2
    option = "--root" if command == "evaluate" else "--data.root"
    assert (f"A table's paths are read relative to its folder, {table.parent}; 12 of these are found "
            f"relative to the working folder instead: `{option} .` reads them from here."
            ) in capsys.readouterr().err
    if command == "evaluate":
        assert main([*args, "--root", ".", "--split-fractions", "0", "0", "1"]) == 0
    else:  # data.root is not where data.val_data's paths are read from: no hint to set it
        assert main(["fit", *TINY, "--data.val_data", str(table)]) == 2
        assert "file not found" in (err := capsys.readouterr().err) and "data.root" not in err


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="Debian's chromium is not installed (scripts/test.sh "
                                                              "installs it when run as root)")
def test_report_opens_in_headless_chromium_without_errors(photos_report: Path, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 1500})
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
        page.goto((photos_report / "report" / "report.html").as_uri())
        page.screenshot(path=str(tmp_path / "report.png"))
        table_visible = page.locator("table").first.is_visible()
        plots = page.evaluate("Array.from(document.querySelectorAll('img.plot')).map("
                              "i => [i.complete && i.naturalWidth > 0, i.getBoundingClientRect().top])")
        thumbnails = page.evaluate("document.querySelectorAll('table.errors img').length")
        browser.close()
    assert problems == []
    assert table_visible
    assert len(plots) == 3 and all(loaded and top < 1500 for loaded, top in plots)  # in the screenshot
    assert thumbnails == 2 * 2 * 8  # false and missed matches, both images of each pair
    assert (tmp_path / "report.png").stat().st_size > 20_000


def test_a_report_rewritten_keeps_no_plot_of_the_one_before(photos_report, tmp_path):
    """Without a trained model there is no 'did it pay off?' plot; the earlier report's would stay."""
    report = shutil.copytree(photos_report / "report", tmp_path / "report")
    assert main(["evaluate", "--data", "demo:photos", "--methods", "histogram", "--out", str(report),
                 *QUICK]) == 0
    assert not (report / "paid_off.png").exists()
