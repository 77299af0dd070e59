"""Runtimes: onnxruntime and its int8 model stand in for PyTorch only when they match the
weights, agree with them, and say so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image
from skimage import data

from siamkit.cli.program import main
from siamkit.models import quantization
from siamkit.models.card import EncoderCard, EncoderFolderError
from siamkit.models.encoder import Encoder
from siamkit.models.onnx_export import mark_onnx
from siamkit.models.quantization import QuantizationError, quantize_int8
from siamkit.models.runtime import OnnxEncoder, load_encoder
from siamkit.retrieval.index import EmbeddingIndex


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runtime_jpegs")
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera"):
        Image.fromarray(getattr(data, name)()).convert("RGB").save(folder / f"{name}.jpg", quality=85)
    return folder


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_auto_runs_onnx_and_agrees_with_pytorch_on_jpeg_files(quantized_folder, jpegs, tmp_path, capsys):
    paths = sorted(str(p) for p in jpegs.glob("*.jpg"))
    reference = Encoder.load(quantized_folder).embed(paths)
    encoder = load_encoder(quantized_folder)
    assert isinstance(encoder, OnnxEncoder) and encoder.runtime == "onnx"
    assert encoder.fingerprint == Encoder.load(quantized_folder).fingerprint
    assert _cosines(encoder.embed(paths), reference).min() > 1 - 1e-4
    assert main(["embed", str(jpegs), "--encoder", str(quantized_folder), "--out", str(tmp_path / "index"),
                 "--num-workers", "1"]) == 0
    assert "runtime: onnxruntime on model.onnx" in capsys.readouterr().err
    index = EmbeddingIndex.load(tmp_path / "index")
    assert index.meta["runtime"] == "onnx" and index.files == paths
    assert _cosines(np.asarray(index.embeddings), reference).min() > 1 - 1e-4


def test_the_onnx_file_says_how_to_resize_its_input_well_enough_to_run_it_without_siamkit(quantized_folder,
                                                                                          jpegs):
    """What a deployment without siamkit reads: the file's own note, followed with OpenCV alone,
    gives siamkit's embedding. Shrinking as config.json's `interpolation` alone suggests does not."""
    import cv2
    import onnxruntime

    session = onnxruntime.InferenceSession(str(quantized_folder / "model.onnx"))
    said = session.get_modelmeta().custom_metadata_map["siamkit_input"]
    preprocessing = EncoderCard.read(quantized_folder).preprocessing
    size = preprocessing.size
    assert preprocessing.interpolation == "bilinear"
    assert said == (f"uint8 RGB images, (batch, 3, {size}, {size}): the shorter side resized to {size} px, "
                    "shrunk by area (OpenCV's INTER_AREA) or enlarged by bilinear interpolation, then the "
                    f"centre {size} x {size} cropped; the model normalises them itself")
    path = str(jpegs / "astronaut.jpg")
    image = np.asarray(Image.open(path).convert("RGB"))  # 512 x 512: shrunk

    def embedded(interpolation: int) -> np.ndarray:
        resized = cv2.resize(image, (size, size), interpolation=interpolation)  # square: no crop
        return session.run(["embeddings"], {"images": resized.transpose(2, 0, 1)[None]})[0]

    reference = Encoder.load(quantized_folder).embed([path])
    assert _cosines(embedded(cv2.INTER_AREA), reference)[0] > 1 - 1e-4
    assert _cosines(embedded(cv2.INTER_LINEAR), reference)[0] < 1 - 1e-3


def test_int8_is_recorded_close_to_float_and_kept_apart_in_indexes(quantized_folder, jpegs, tmp_path, capsys):
    record = json.loads((quantized_folder / "config.json").read_text())["quantization"]
    assert record["file"] == "model.int8.onnx" and record["calibration_images"] == 32
    assert record["check_data"] == "demo:digits" and record["check_pairs"] > 100
    assert record["roc_auc_float"] - record["roc_auc_int8"] <= 0.005 and record["cosine_min"] > 0.9
    paths = sorted(str(p) for p in jpegs.glob("*.jpg"))
    int8 = load_encoder(quantized_folder, "int8")
    assert int8.fingerprint.endswith("+int8")
    assert _cosines(int8.embed(paths), Encoder.load(quantized_folder).embed(paths)).min() > 0.95
    assert main(["embed", str(jpegs), "--encoder", str(quantized_folder), "--out", str(tmp_path / "index"),
                 "--runtime", "int8", "--num-workers", "0"]) == 0
    capsys.readouterr()
    query = paths[1]
    # --runtime auto embeds the query as the index was embedded: int8
    assert main(["search", query, "--index", str(tmp_path / "index"), "-k", "1", "--json"]) == 0
    out = capsys.readouterr()
    assert "model.int8.onnx" in out.err and json.loads(out.out)["neighbours"][0]["file"] == query
    assert main(["search", query, "--index", str(tmp_path / "index"), "--runtime", "onnx"]) == 2
    assert "search with --runtime int8" in capsys.readouterr().err


def test_a_stale_onnx_file_is_never_used(quantized_folder, tmp_path, capsys):
    folder = tmp_path / "encoder"
    shutil.copytree(quantized_folder, folder)
    # as if exported from other weights
    mark_onnx(folder / "model.onnx", "0123456789abcdef", EncoderCard.read(folder).preprocessing)
    with pytest.raises(EncoderFolderError, match="is stale; export the folder again with --onnx"):
        load_encoder(folder, "onnx")
    assert isinstance(load_encoder(folder), Encoder)
    assert "is stale" in capsys.readouterr().err


def test_an_onnx_file_is_used_only_with_the_card_it_was_exported_with(quantized_folder, tmp_path,
                                                                                capsys):
    """The resize happens before the graph, as config.json says: an edited card would change the
    embeddings under the same fingerprint, or describe vectors of another width."""
    folder = tmp_path / "encoder"
    shutil.copytree(quantized_folder, folder)
    card = json.loads((folder / "config.json").read_text())
    card["preprocessing"]["interpolation"] = "nearest"
    (folder / "config.json").write_text(json.dumps(card))
    refused = '"interpolation": "nearest".* is not what model.*onnx was exported for .*"bilinear"'
    for runtime in ("onnx", "int8"):
        with pytest.raises(EncoderFolderError, match=refused):
            load_encoder(folder, runtime)
    with pytest.raises(EncoderFolderError, match="does not match the architecture's"):
        load_encoder(folder)  # auto: onnxruntime refuses, and so does PyTorch
    assert "is not what model.onnx was exported for" in capsys.readouterr().err

    card = json.loads((quantized_folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**card, "embedding_dim": 32}))
    for runtime in ("onnx", "int8"):
        with pytest.raises(EncoderFolderError, match=f"embedding_dim 32 does not match model.*onnx's "
                                                     f"{card['embedding_dim']}; the folder was edited"):
            load_encoder(folder, runtime)

    older = tmp_path / "older"
    shutil.copytree(quantized_folder, older)
    model = onnx.load(str(older / "model.onnx"))
    del model.metadata_props[1:]  # the fingerprint alone, as files before the preprocessing mark
    onnx.save(model, str(older / "model.onnx"))
    with pytest.raises(EncoderFolderError, match="written before siamkit recorded which preprocessing"):
        load_encoder(older, "onnx")


def test_an_int8_model_that_ranks_worse_is_left_out_and_the_float_export_stands(tiny_checkpoint, tmp_path,
                                                                                monkeypatch, capsys):
    monkeypatch.setattr(quantization, "MAX_ROC_AUC_DROP", -1.0)  # any int8 model now falls short
    out = tmp_path / "encoder"
    assert main(["export", "--ckpt", str(tiny_checkpoint), "--out", str(out), "--quantize", "int8",
                 "--calibration-images", "8"]) == 0
    output = capsys.readouterr()
    assert "Number of tensors" not in output.out  # onnxruntime's calibrator talks to stdout
    note = output.err.strip().splitlines()[-1]
    assert note.startswith("note: the int8 model's ROC-AUC on ") and "so model.int8.onnx was not kept" in note
    assert sorted(path.name for path in tmp_path.iterdir()) == ["encoder"]
    assert sorted(path.name for path in out.iterdir()) == ["config.json", "model.onnx", "model.safetensors"]
    assert json.loads((out / "config.json").read_text())["quantization"] is None
    assert load_encoder(out, runtime="onnx").embed([data.coffee()]).shape[0] == 1


def test_quantizing_needs_the_float_model(quantized_folder, tmp_path):
    folder = tmp_path / "encoder"
    shutil.copytree(quantized_folder, folder)
    (folder / "model.onnx").unlink()
    with pytest.raises(QuantizationError, match="int8 starts from the float model: .* has no model.onnx"):
        quantize_int8(folder, [data.coffee()], "here", (["a"], ["b"], np.array([1])), "here")


def test_a_graph_without_quantizable_operators_is_refused(quantized_folder, tmp_path):
    """Mean colour, normalised: no convolution or matrix product for int8 to speed up."""
    folder = tmp_path / "encoder"
    shutil.copytree(quantized_folder, folder)
    (folder / "model.int8.onnx").unlink()
    nodes = [helper.make_node("Cast", ["images"], ["x"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["x"], ["m"], axes=[2, 3], keepdims=0),
             helper.make_node("LpNormalization", ["m"], ["embeddings"], axis=1, p=2)]
    graph = helper.make_graph(nodes, "mean_colour",
                              [helper.make_tensor_value_info("images", TensorProto.UINT8, ["b", 3, 16, 16])],
                              [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["b", 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(folder / "model.onnx"))
    card = EncoderCard.read(folder)
    mark_onnx(folder / "model.onnx", card.fingerprint, card.preprocessing)
    described = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**described, "embedding_dim": 3}))  # the graph's width
    with pytest.raises(QuantizationError, match="has no operator onnxruntime computes in int8"):
        quantize_int8(folder, [data.coffee(), data.camera()], "here", (["a"], ["b"], np.array([1])), "here")
    assert not (folder / "model.int8.onnx").exists()


def test_duplicates_and_evaluate_take_onnx_by_themselves_and_say_so(quantized_folder, photo_folder, tmp_path,
                                                                     capsys):
    assert main(["duplicates", str(photo_folder), "--encoder", str(quantized_folder), "--out",
                 str(tmp_path / "dups"), "--threshold", "0.99", "--num-workers", "0"]) == 0
    assert "runtime: onnxruntime on model.onnx" in capsys.readouterr().err
    assert main(["evaluate", "--data", "demo:digits", "--methods", str(quantized_folder), "--out",
                 str(tmp_path / "report"), "--max-pairs", "40", "--bootstrap", "0"]) == 0
    assert "runtime: onnxruntime on model.onnx" in capsys.readouterr().err


def test_a_graph_onnxruntime_cannot_prepare_leaves_the_working_directory_clean(quantized_folder, tmp_path,
                                                                              monkeypatch):
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    def incomplete(model, *args, **kwargs):  # what onnxruntime does with a graph it cannot finish
        onnx.save_model(model, "sym_shape_infer_temp.onnx")
        raise Exception("Incomplete symbolic shape inference")

    monkeypatch.setattr(SymbolicShapeInference, "infer_shapes", staticmethod(incomplete))
    folder, work = tmp_path / "encoder", tmp_path / "work"
    shutil.copytree(quantized_folder, folder)
    (folder / "model.int8.onnx").unlink()
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(QuantizationError, match="cannot prepare this encoder's graph for quantization"):
        quantize_int8(folder, [data.coffee()], "here", (["a"], ["b"], np.array([1])), "here")
    assert list(work.iterdir()) == [] and not (folder / "model.int8.onnx").exists()


def test_calibration_images_beyond_whole_batches_are_left_out(quantized_folder, jpegs, tmp_path, monkeypatch):
    """onnxruntime's calibrator cannot stack a short last batch; 20 images calibrate as 16. The
    folder is given relative to the working directory, as `train export --out DIR` gives it."""
    shutil.copytree(quantized_folder, tmp_path / "encoder")
    monkeypatch.chdir(tmp_path)
    paths = sorted(str(p) for p in jpegs.glob("*.jpg"))
    pairs = ([paths[0], paths[1]], [paths[0], paths[2]], np.array([1, 0]))
    record = quantize_int8(Path("encoder"), (paths * 4)[:20], "jpegs", pairs, "jpegs", max_roc_auc_drop=1.0)
    assert record.calibration_images == quantization.CALIBRATION_BATCH
    assert (tmp_path / "encoder" / "model.int8.onnx").exists()


def test_shape_arithmetic_stays_out_of_int8(tmp_path):
    """timm's "same" padding works its pad widths out from the input's shape at run time; int8
    would round those widths (a fine-tuned EfficientNet-Lite0 lost 0.19 of val ROC-AUC so)."""
    import torch
    from timm.layers import Conv2dSame

    path = tmp_path / "same.onnx"
    torch.onnx.export(Conv2dSame(3, 4, 3, stride=2).eval(), (torch.zeros(1, 3, 9, 9),), str(path),
                      input_names=["x"], opset_version=17, dynamo=False, dynamic_axes={"x": {0: "b"}})
    graph = onnx.load(str(path)).graph
    in_float = set(quantization._shape_arithmetic(graph))
    producer = {output: node for node in graph.node for output in node.output}
    pad = next(node for node in graph.node if node.op_type == "Pad")
    assert producer[pad.input[1]].name in in_float  # the pad widths
    convolutions = [node.name for node in graph.node if node.op_type == "Conv"]
    assert pad.name not in in_float and convolutions and not in_float & set(convolutions)
    assert any(n.op_type in ("Add", "Mul", "Sub", "Div") and n.name in in_float for n in graph.node)
