"""Every command against a zoo of bad files and bad arguments, in-process: each ends in one
line naming the thing and the fix, exit code 2, no traceback, and nothing left behind that
looks complete."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siamkit.models.encoder import Encoder
from siamkit.models.onnx_export import export_onnx, mark_fingerprint, sample_images
from siamkit.train.cli import main
from tests.train.helpers import TINY

COMPLETE_MARKERS = ("index.json", "config.json", "metrics.json", "duplicates.csv")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, encoder_folder, tiny_checkpoint) -> Path:
    root = tmp_path_factory.mktemp("zoo")
    rng = np.random.default_rng(0)
    (root / "photos").mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / "photos" / f"{i}.png")
    (root / "empty").mkdir()
    (root / "one").mkdir()
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / "one" / "only.png")
    (root / "bad_only").mkdir()
    (root / "bad_only" / "a.png").write_bytes(b"")
    (root / "bad_only" / "b.jpg").write_text("not an image")
    (root / "file.txt").write_text("an existing file where a folder should go")
    (root / "no_data.yaml").write_text("trainer: {max_epochs: 1}\n")
    os.mkfifo(root / "pipe.jpg")
    (root / "text.ckpt").write_text("not a checkpoint")
    (root / "truncated.ckpt").write_bytes(tiny_checkpoint.read_bytes()[:5000])
    shutil.copytree(encoder_folder, root / "encoder")
    shutil.copytree(encoder_folder, root / "stale_onnx")
    export_onnx(Encoder.load(encoder_folder), root / "stale_onnx", sample_images()[:2])
    mark_fingerprint(root / "stale_onnx" / "model.onnx", "0123456789abcdef")  # as if from other weights
    shutil.copy(tiny_checkpoint, root / "tiny.ckpt")
    (root / "leaky").mkdir()
    rows = ["path,label,split"]
    for i in range(8):
        image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
        Image.fromarray(image).save(root / "leaky" / f"{i}.png")
        rows.append(f"{i}.png,{i % 2},{('train', 'val', 'test', 'train')[i % 4]}")
    shutil.copy(root / "leaky" / "0.png", root / "leaky" / "copy_of_0.png")
    (root / "leaky" / "labels.csv").write_text("\n".join([*rows, "copy_of_0.png,0,test"]) + "\n")
    (root / "stale_manifest.jsonl").write_text(
        '{"format": "siamkit-moves/1", "moves": 1}\n'
        + json.dumps({"source": str(root / "gone.png"),
                      "destination": str(root / "moved" / "gone.png")}) + "\n")
    shutil.copytree(encoder_folder, root / "cut_weights")
    weights = root / "cut_weights" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    shutil.copytree(encoder_folder, root / "edited_dim")
    card = json.loads((root / "edited_dim" / "config.json").read_text())
    (root / "edited_dim" / "config.json").write_text(json.dumps({**card, "embedding_dim": 32}))
    assert main(["embed", str(root / "photos"), "--encoder", str(encoder_folder), "--out",
                 str(root / "index"),
                 "--num-workers", "0"]) == 0
    shutil.copytree(root / "index", root / "cut_index")
    vectors = root / "cut_index" / "embeddings.npy"
    vectors.write_bytes(vectors.read_bytes()[:200])
    shutil.copytree(root / "index", root / "other_dim")  # the same fingerprint, vectors of another size
    np.save(root / "other_dim" / "embeddings.npy", np.ones((3, 8), np.float32))
    meta = json.loads((root / "other_dim" / "index.json").read_text())
    (root / "other_dim" / "index.json").write_text(json.dumps({**meta, "dim": 8}))
    return root


P, OUT = "{zoo}/photos/0.png", "{zoo}/out"
PHOTOS = ["fit", "--config", "demo_photos.yaml", "--model.backbone.init_args.image_size", "16",
          "--data.batch_size", "8", "--data.num_workers", "0", "--trainer.logger", "false",
          "--trainer.enable_progress_bar", "false"]
EVALUATE_MODEL = ["evaluate", "--data", "demo:photos", "--out", OUT, "--methods", "{zoo}/encoder"]
DIGITS = ["fit", "--config", "demo_digits.yaml", "--trainer.logger", "false", "--data.num_workers", "0"]
CASES = {
    "score: a named pipe": (["score", "{zoo}/pipe.jpg", P], "is a named pipe, not an image file"),
    "score: a missing image": (["score", "{zoo}/nope.png", P], "file not found"),
    "score: an unknown method": (["score", P, P, "-m", "colour"], "unknown scoring method 'colour'"),
    "score: truncated weights": (["score", P, P, "-m", "{zoo}/cut_weights"],
                                 "truncated or not a safetensors"),
    "score: an edited card": (["score", P, P, "-m", "{zoo}/edited_dim"], "embedding_dim 32 does not match"),
    "score: a text .ckpt": (["score", P, P, "-m", "{zoo}/text.ckpt"], "cannot read checkpoint"),
    "embed: --out is a file": (["embed", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--out",
                                "{zoo}/file.txt"],
                               "is a file, not a folder"),
    "embed: batch size 0": (["embed", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--out", OUT,
                             "--batch-size", "0"], "--batch-size: '0' is not a whole number >= 1"),
    "embed: negative batch size": (["embed", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--out", OUT,
                                    "--batch-size", "-3"], "is not a whole number >= 1"),
    "embed: negative workers": (["embed", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--out", OUT,
                                 "--num-workers", "-1"], "--num-workers: '-1' is not a whole number >= 0"),
    "embed: an unknown device": (["embed", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--out", OUT,
                                  "--device", "tpu9"], "unknown device 'tpu9'"),
    "embed: an empty folder": (["embed", "{zoo}/empty", "--encoder", "{zoo}/encoder", "--out", OUT],
                               "holds no images"),
    "embed: a missing folder": (["embed", "{zoo}/nowhere", "--encoder", "{zoo}/encoder", "--out", OUT],
                                "does not exist"),
    "embed: only unreadable images": (["embed", "{zoo}/bad_only", "--encoder", "{zoo}/encoder", "--out", OUT],
                                      "cannot read image"),
    "embed: only unreadable, skipped": (["embed", "{zoo}/bad_only", "--encoder", "{zoo}/encoder", "--out",
                                         OUT,
                                         "--on-bad-image", "skip"], "none of the 2 images could be read"),
    "embed: a missing encoder": (["embed", "{zoo}/photos", "--encoder", "{zoo}/nope", "--out", OUT],
                                 "does not exist"),
    "embed: --runtime onnx without model.onnx": (["embed", "{zoo}/photos", "--encoder", "{zoo}/encoder",
                                                  "--out", OUT, "--runtime", "onnx"], "has no model.onnx"),
    "embed: a stale model.onnx": (["embed", "{zoo}/photos", "--encoder", "{zoo}/stale_onnx", "--out", OUT,
                                   "--runtime", "onnx"], "is stale; export the folder again with --onnx"),
    "embed: --threads 0": (["embed", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--out", OUT,
                            "--threads", "0"], "--threads: '0' is not a whole number >= 1"),
    "embed: an unknown runtime": (["embed", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--out", OUT,
                                   "--runtime", "tensorrt"], "invalid choice: 'tensorrt'"),
    "search: --runtime int8 without model.int8.onnx": (["search", P, "--index", "{zoo}/index", "--runtime",
                                                        "int8"], "has no model.int8.onnx"),
    "search: an unreadable --background": (["search", P, "--index", "{zoo}/index", "--background",
                                            "{zoo}/bad_only"], "0 readable images"),
    "search: k -2": (["search", P, "--index", "{zoo}/index", "-k", "-2"],
                     "-k: '-2' is not a whole number >= 1"),
    "search: a truncated index": (["search", P, "--index", "{zoo}/cut_index"], "cannot read the index"),
    "search: vectors of another size": (["search", P, "--index", "{zoo}/other_dim"],
                                        "not with the query's encoder"),
    "search: no index": (["search", P, "--index", "{zoo}/empty"], "is not a complete index"),
    "duplicates: --out is a file": (["duplicates", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--out",
                                     "{zoo}/file.txt"], "is a file, not a folder"),
    "duplicates: uncalibrated": (["duplicates", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--out", OUT],
                                 "{zoo}/encoder --calibrate"),
    "duplicates: threshold 2": (["duplicates", "{zoo}/photos", "--encoder", "{zoo}/encoder", "--out", OUT,
                                 "--threshold", "2"], "'2' is not a similarity between -1 and 1"),
    "duplicates: only unreadable": (["duplicates", "{zoo}/bad_only", "--encoder", "{zoo}/encoder", "--out",
                                     OUT,
                                     "--threshold", "0.9", "--on-bad-image", "skip"], "none of the 2 images"),
    "duplicates: --runtime onnx on a checkpoint": (["duplicates", "{zoo}/photos", "--encoder",
                                                    "{zoo}/tiny.ckpt", "--out", OUT, "--threshold", "0.9",
                                                    "--runtime", "onnx"],
                                                   "needs an encoder folder from `train export`"),
    "evaluate: --runtime onnx without model.onnx": ([*EVALUATE_MODEL, "--runtime", "onnx"],
                                                    "has no model.onnx"),
    "score: --runtime int8 without model.int8.onnx": (["score", P, P, "-m", "{zoo}/encoder", "--runtime",
                                                       "int8"], "has no model.int8.onnx"),
    "duplicates: neither --encoder nor --method": (["duplicates", "{zoo}/photos", "--out", OUT],
                                                   "choose what finds duplicates"),
    "duplicates: --background without --threshold": (["duplicates", "{zoo}/photos", "--encoder",
                                                      "{zoo}/encoder", "--out", OUT, "--background",
                                                      "{zoo}/photos"], "pass --threshold"),
    "duplicates: --background with a hash": (["duplicates", "{zoo}/photos", "--method", "pdq", "--out", OUT,
                                              "--background", "{zoo}/photos"], "use it with --encoder"),
    "duplicates: an empty folder": (["duplicates", "{zoo}/empty", "--method", "pdq", "--out", OUT],
                                    "holds no images"),
    "duplicates: only unreadable, by a hash": (["duplicates", "{zoo}/bad_only", "--method", "pdq", "--out",
                                                OUT, "--on-bad-image", "skip"],
                                               "none of the 2 images could be read"),
    "duplicates: unreadable, not skipped": (["duplicates", "{zoo}/bad_only", "--method", "pdq", "--out", OUT],
                                            "none of the 2 images could be read"),
    "duplicates: --against a missing folder": (["duplicates", "{zoo}/photos", "--method", "pdq", "--out", OUT,
                                                "--against", "{zoo}/nope"],
                                               "--against {zoo}/nope does not exist"),
    "duplicates: move into the source folder": (["duplicates", "{zoo}/photos", "--method", "pdq", "--out",
                                                 OUT,
                                                 "--action", "move", "--to", "{zoo}/photos/out"],
                                                "is inside the image folder"),
    "duplicates: move into a full folder": (["duplicates", "{zoo}/photos", "--method", "pdq", "--out", OUT,
                                             "--action", "move", "--to", "{zoo}/bad_only"],
                                            "exists and is not an empty folder"),
    "duplicates: move without --to": (["duplicates", "{zoo}/photos", "--method", "pdq", "--out", OUT,
                                       "--action", "move"], "--action move needs --to DIR"),
    "duplicates: --to without move": (["duplicates", "{zoo}/photos", "--method", "pdq", "--out", OUT,
                                       "--to", "{zoo}/new"], "add --action move"),
    "duplicates: no image folder": (["duplicates", "--method", "pdq", "--out", OUT],
                                    "give IMAGES_DIR and --out"),
    "duplicates: --undo with a folder": (["duplicates", "{zoo}/photos", "--undo",
                                          "{zoo}/stale_manifest.jsonl"],
                                         "--undo MANIFEST takes no image folder"),
    "duplicates: --sift-min-matches 0": (["duplicates", "{zoo}/photos", "--method", "pdq", "--out", OUT,
                                          "--recheck-sift", "--sift-min-matches", "0"],
                                         "'0' is not a whole number >= 1"),
    "duplicates: undo a missing manifest": (["duplicates", "--undo", "{zoo}/nope.jsonl"], "does not exist"),
    "duplicates: undo what has moved since": (["duplicates", "--undo", "{zoo}/stale_manifest.jsonl"],
                                              "files have moved since the manifest was written"),
    "leaks: missing data": (["leaks", "--data", "{zoo}/nope.csv", "--out", OUT], "not found"),
    "leaks: --encoder and --method": (["leaks", "--data", "{zoo}/photos", "--out", OUT, "--method", "pdq",
                                       "--encoder", "{zoo}/encoder"], "choose one of --encoder and --method"),
    "leaks: --background with a hash": (["leaks", "--data", "{zoo}/photos", "--out", OUT, "--background",
                                         "{zoo}/photos"], "use it with --encoder"),
    "leaks: --sift-min-matches 0": (["leaks", "--data", "{zoo}/photos", "--out", OUT, "--recheck-sift",
                                     "--sift-min-matches", "0"], "'0' is not a whole number >= 1"),
    "leaks: neither --data nor --config": (["leaks", "--out", OUT], "give the training source"),
    "leaks: missing config": (["leaks", "--config", "{zoo}/nope.yaml", "--out", OUT],
                              "not found here, and it is not a bundled config"),
    "leaks: config without data.source": (["leaks", "--config", "{zoo}/no_data.yaml", "--out", OUT],
                                          "has no data.source: pass --data SOURCE"),
    "leaks: threshold 2": (["leaks", "--data", "{zoo}/photos", "--out", OUT, "--threshold", "2"],
                           "'2' is not a similarity between -1 and 1"),
    "evaluate: fmr=abc": (["evaluate", "--data", "demo:photos", "--out", OUT, "--threshold", "fmr=abc"],
                          "use best_f1, or fmr=X with 0 < X < 1"),
    "evaluate: fmr=5": (["evaluate", "--data", "demo:photos", "--out", OUT, "--threshold", "fmr=5"],
                        "use best_f1, or fmr=X"),
    "evaluate: --out is a file": (["evaluate", "--data", "demo:photos", "--out", "{zoo}/file.txt"],
                                  "is a file, not a folder"),
    "evaluate: negative bootstrap": (["evaluate", "--data", "demo:photos", "--out", OUT, "--bootstrap", "-1"],
                                     "not a whole number >= 0"),
    "evaluate: missing data": (["evaluate", "--data", "{zoo}/nope.csv", "--out", OUT], "not found"),
    "evaluate: cuda without a GPU": (["evaluate", "--data", "demo:photos", "--out", OUT, "--device", "cuda"],
                                     "no CUDA GPU is available here"),
    "evaluate: an empty --background": ([*EVALUATE_MODEL, "--background", "{zoo}/empty"], "holds no images"),
    "evaluate: an unreadable --background": ([*EVALUATE_MODEL, "--background", "{zoo}/bad_only"],
                                             "0 readable images"),
    "evaluate: --background with --calibrate": ([*EVALUATE_MODEL, "--background", "{zoo}/photos",
                                                 "--calibrate"], "calibrate without --background"),
    "export: --out is a file": (["export", "--ckpt", "{zoo}/text.ckpt", "--out", "{zoo}/file.txt", "--force"],
                                "is a file, not a folder"),
    "export: a text checkpoint": (["export", "--ckpt", "{zoo}/text.ckpt", "--out", OUT],
                                  "cannot read checkpoint"),
    "export: a truncated checkpoint": (["export", "--ckpt", "{zoo}/truncated.ckpt", "--out", OUT],
                                       "cannot read checkpoint"),
    "export: over an encoder": (["export", "--ckpt", "{zoo}/truncated.ckpt", "--out", "{zoo}/encoder"],
                                "already exists and is not empty"),
    "export: --check-data without --quantize": (["export", "--ckpt", "{zoo}/tiny.ckpt", "--out", OUT,
                                                 "--check-data", "demo:photos"], "add --quantize int8"),
    "export: int8 checked on unlabelled data": (["export", "--ckpt", "{zoo}/tiny.ckpt", "--out", OUT,
                                                 "--quantize", "int8", "--check-data", "{zoo}/photos"],
                                                "checks the model on labelled val pairs"),
    "export: no calibration images": (["export", "--ckpt", "{zoo}/tiny.ckpt", "--out", OUT, "--quantize",
                                       "int8", "--calibration-images", "0"], "not a whole number >= 1"),
    "fit: a leak between splits": (["fit", *TINY, "--data.source", "{zoo}/leaky/labels.csv",
                                    "--data.check_leaks", "error"], "sit in two splits"),
    "fit: an unknown leak check": (["fit", *TINY, "--data.check_leaks", "maybe"],
                                    "data.check_leaks must be warn, error or off, not 'maybe'"),
    "fit: batch size 0": (["fit", *TINY, "--data.batch_size", "0"],
                          "data.batch_size must be a whole number >= 1"),
    "fit: negative workers": (["fit", *TINY, "--data.num_workers", "-1"], "data.num_workers must be"),
    "fit: an unknown precision": (["fit", *TINY, "--trainer.precision", "bf17"],
                                  "trainer.precision: 'bf17' is not one of 64, 32, 16, 'transformer-engine'"),
    "fit: max_epochs not a number": (["fit", *TINY, "--trainer.max_epochs", "abc"],
                                     "trainer.max_epochs: 'abc' is not a whole number or null"),
    "fit: a text --ckpt_path": (["fit", *TINY, "--ckpt_path", "{zoo}/text.ckpt"],
                                "not a checkpoint written by"),
    "fit: a truncated --ckpt_path": (["fit", *TINY, "--ckpt_path", "{zoo}/truncated.ckpt"], "truncated"),
    "test: a missing --ckpt_path": (["test", *TINY, "--ckpt_path", "{zoo}/nope.ckpt"], "no such file"),
    "fit: a loss that does not fit the data": (["fit", *TINY, "--data.source", "{zoo}/photos"],
                                               "ContrastiveLoss accepts PairBatch or ClassBatch"),
    "fit: init_from a missing model": (["fit", *TINY, "--model.init_from", "{zoo}/nope"],
                                       "model.init_from: encoder {zoo}/nope does not exist"),
    "fit: init_from another architecture": (["fit", *TINY, "--model.init_from", "{zoo}/encoder",
                                             "--model.head.init_args.out_dim", "32"], "different shape"),
    "fit: a negative entropy weight": ([*PHOTOS, "--model.loss.init_args.entropy_weight", "-1"],
                                       "entropy_weight must be >= 0"),
    "fit: a queue not a multiple of the batch": ([*PHOTOS, "--model.loss.init_args.queue_size", "50"],
                                                 "queue_size 50 is not a multiple of the batch size 8"),
    "fit: one unlabelled image": ([*PHOTOS, "--data.source", "{zoo}/one"], "needs at least two"),
    "fit: regions of labelled data": (["fit", *TINY, "--data.crops_per_image", "4"],
                                      "data.crops_per_image applies to unlabelled images"),
    "fit: mixing views of labelled data": (["fit", *TINY, "--data.mix_views", "0.2"],
                                           "data.mix_views mixes views of unlabelled images"),
    "fit: mixing more views than there are": ([*PHOTOS, "--data.mix_views", "1.5"],
                                              "data.mix_views must be between 0 and 1"),
    "fit: GeM on a ViT": ([*DIGITS, "--model.backbone", "siamkit.models.TimmBackbone",
                           "--model.backbone.init_args.name", "test_vit",
                           "--model.backbone.init_args.pooling", "gem"], "needs a CNN's feature maps"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_and_exit_2(case, zoo, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args, expected = CASES[case]
    args = [arg.replace("{zoo}", str(zoo)) for arg in args]
    shutil.rmtree(zoo / "out", ignore_errors=True)
    code = main(args)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert code == 2, err
    assert len(errors) == 1 and err.rstrip().endswith(errors[0]) and "Traceback" not in err, err
    assert expected.replace("{zoo}", str(zoo)) in errors[0]
    assert not any((zoo / "out" / marker).exists() for marker in COMPLETE_MARKERS)
    assert not list(tmp_path.rglob("*.ckpt")) and not list(tmp_path.rglob("config.yaml"))


def test_a_bug_is_one_line_with_the_debug_hint(monkeypatch, capsys):
    from siamkit.train import score

    monkeypatch.setattr(score, "main", lambda argv: {}["oops"])
    assert main(["score", "a", "b"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unexpected KeyError" in err and "--debug" in err
