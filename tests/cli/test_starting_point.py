"""Did fine-tuning pay off? An encoder folder records the pretrained backbone it started from,
and `train evaluate` scores that start beside it (``NAME@start``); the start is also a method
of its own, as is any pretrained timm backbone (``timm:MODEL:WEIGHTS``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from siamkit.cli.program import main
from siamkit.errors import SiamkitError
from siamkit.models import Encoder, EncoderSpec, ModuleSpec, TimmBackbone
from siamkit.models.export_variants import at_scales, with_mid_level
from siamkit.runtimes import encoder_location
from siamkit.scoring.registry import get_scorer

LITE0 = {"class_path": "siamkit.models.timm_backbone.TimmBackbone",
         "init_args": {"name": "tf_efficientnet_lite0", "pretrained": "efficientnet-lite0", "pooling": "gem"}}


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory):
    """A Lite0 encoder 'fine-tuned' from the packaged weights (its weights moved), exported."""
    torch.manual_seed(0)
    spec = EncoderSpec(ModuleSpec.from_dict(LITE0), ModuleSpec("siamkit.models.heads.ProjectionHead",
                                                               {"out_dim": 16}))
    encoder = Encoder.from_spec(spec)
    encoder.backbone.load_state_dict(TimmBackbone(**LITE0["init_args"]).state_dict())
    with torch.no_grad():
        for parameter in encoder.backbone.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return encoder.save(tmp_path_factory.mktemp("lite0") / "encoder")


def test_the_card_records_the_start_and_rebuilds_it_as_it_came(fine_tuned):
    card = json.loads((fine_tuned / "config.json").read_text())
    assert card["initialised_from"] == LITE0
    assert card["architecture"]["backbone"]["init_args"]["pretrained"] is None  # weights come from the folder
    start = Encoder.load(fine_tuned).starting_point()
    assert start.head is None and start.embedding_dim == 1280
    assert start.fingerprint == Encoder.load(f"{fine_tuned}@start").fingerprint  # by name, as commands do
    images = torch.from_numpy(np.array(Image.fromarray(data.chelsea()).resize((224, 224)))).permute(2, 0, 1)
    pretrained = Encoder(TimmBackbone(**LITE0["init_args"]), None)
    with torch.no_grad():
        np.testing.assert_allclose(start(images[None]), pretrained(images[None]), atol=1e-5)


def test_a_model_trained_from_scratch_has_no_start(python_encoder):
    assert Encoder.load(python_encoder).card.initialised_from is None
    for load in (get_scorer, Encoder.load):
        with pytest.raises(SiamkitError, match="was trained from scratch"):
            load(f"{python_encoder}@start")


def _pairs(tmp_path):
    """Crops of four photographs: each crop's match is another crop of its photograph."""
    rows = ["a,b,label,split"]
    photos = {"astronaut": data.astronaut(), "coffee": data.coffee(), "chelsea": data.chelsea(),
              "rocket": data.rocket()}
    for name, photo in photos.items():
        for k, (top, left) in enumerate([(0, 0), (40, 60)]):
            Image.fromarray(photo[top:top + 200, left:left + 200]).save(tmp_path / f"{name}{k}.png")
    names = list(photos)
    for i, name in enumerate(names):
        split = "val" if i < 2 else "test"
        rows += [f"{name}0.png,{name}1.png,1,{split}",
                 f"{name}0.png,{names[i ^ 1]}1.png,0,{split}"]
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "pairs.csv"


def test_evaluate_scores_the_start_beside_the_fine_tuned_model(fine_tuned, tmp_path, capsys):
    """Once per start: a second variant fine-tuned from the same start adds no second row."""
    pairs = _pairs(tmp_path)
    variant = shutil.copytree(fine_tuned, tmp_path / "variant")
    assert main(["evaluate", "--data", str(pairs), "--methods", f"histogram,{fine_tuned},{variant}",
                 "--out", str(tmp_path / "report"), "--bootstrap", "0"]) == 0
    document = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert set(document["methods"]) == {"histogram", str(fine_tuned), str(variant), f"{fine_tuned}@start"}
    assert f"{fine_tuned}@start" in (tmp_path / "report" / "report.html").read_text()
    start = f"{fine_tuned}@start"
    assert [(c["method"], c["against"]) for c in document["comparisons"]] == [
        (str(fine_tuned), start), (str(fine_tuned), "histogram"),
        (str(variant), start), (str(variant), "histogram")]
    summary = capsys.readouterr().out
    assert "Did training pay off?" in summary and f"| {variant} | its start, {start} |" in summary
    assert "|---|---|---:|---|" in summary, "words left, the difference right"
    assert "Did training pay off?" in (tmp_path / "report" / "report.html").read_text()


def test_each_variant_is_compared_with_its_own_start_and_an_untrained_one_is_its_own(fine_tuned, tmp_path):
    """A variant at other input sizes, or with mid-level features, gets its start embedding the
    same way; a pretrained network saved as it came, never trained, gets no second, identical row."""
    multi = at_scales(Encoder.load(fine_tuned), (0.75, 1.0)).save(tmp_path / "multi")
    mid = with_mid_level(Encoder.load(fine_tuned)).save(tmp_path / "mid")
    untrained = Encoder(TimmBackbone(**LITE0["init_args"], image_size=64), None).save(tmp_path / "as_it_came")
    methods = f"{fine_tuned},{multi},{mid},{untrained}"
    assert main(["evaluate", "--data", str(_pairs(tmp_path)), "--methods", methods,
                 "--out", str(tmp_path / "report"), "--bootstrap", "0"]) == 0
    document = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert set(document["methods"]) == {str(fine_tuned), str(multi), str(mid), str(untrained),
                                        f"{fine_tuned}@start", f"{multi}@start", f"{mid}@start"}
    assert [(c["method"], c["against"]) for c in document["comparisons"]] == [
        (str(fine_tuned), f"{fine_tuned}@start"), (str(multi), f"{multi}@start"), (str(mid), f"{mid}@start")]


def test_a_pretrained_timm_backbone_is_a_method_of_its_own(tmp_path):
    scorer = get_scorer("timm:tf_efficientnet_lite0:efficientnet-lite0")
    photo = data.chelsea()
    assert scorer.score(photo[:200, :200], photo[20:220, 20:220]) > scorer.score(photo[:200, :200],
                                                                                 data.coffee()[:200, :200])


def test_the_start_embeds_and_searches_as_any_encoder_does(fine_tuned, tmp_path, capsys):
    """``FOLDER@start`` wherever a command takes an encoder; its index is searched with it again."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("astronaut", "coffee", "rocket"):
        Image.fromarray(getattr(data, name)()[:160, :160]).save(photos / f"{name}.png")
    start = f"{fine_tuned}@start"
    assert main(["embed", str(photos), "--encoder", start, "--out", str(tmp_path / "index"),
                 "--num-workers", "0"]) == 0
    meta = json.loads((tmp_path / "index" / "index.json").read_text())
    assert meta["fingerprint"] == Encoder.load(fine_tuned).starting_point().fingerprint
    capsys.readouterr()
    assert main(["search", str(photos / "coffee.png"), "--index", str(tmp_path / "index"), "-k", "1",
                 "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["neighbours"]
    assert [Path(hit["file"]).name for hit in found] == ["coffee.png"]
    assert found[0]["score"] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("named", [False, True], ids=["FOLDER@start", "timm:MODEL:WEIGHTS"])
@pytest.mark.parametrize("command, message", [
    (["embed", "{photos}", "--encoder", "{start}", "--out", "{photos}/index", "--runtime", "int8"],
     "is a pretrained network as it came, with no ONNX file"),
    (["duplicates", "{photos}", "--encoder", "{start}", "--out", "{photos}/found"],
     "has no calibrated threshold (no folder of its own to hold one): pass --threshold"),
])
def test_what_the_start_cannot_do_is_said(command, message, named, fine_tuned, tmp_path, capsys):
    Image.fromarray(data.coffee()).save(tmp_path / "coffee.png")
    start = "timm:tf_efficientnet_lite0:efficientnet-lite0" if named else f"{fine_tuned}@start"
    assert main([arg.format(photos=tmp_path, start=start) for arg in command]) == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_pretrained_network_by_name_embeds_and_searches_as_an_encoder_folder_does(tmp_path, capsys):
    """As the article embeds a collection with CLIP as it came: the name is the encoder, recorded
    as a name in the index (not a path), so `train search` loads it again by itself."""
    photos = tmp_path / "project" / "photos"
    photos.mkdir(parents=True)
    for name in ("astronaut", "coffee", "rocket"):
        Image.fromarray(getattr(data, name)()[:160, :160]).save(photos / f"{name}.png")
    named = "timm:tf_efficientnet_lite0:efficientnet-lite0"
    index = tmp_path / "project" / "index"
    assert main(["embed", str(photos), "--encoder", named, "--out", str(index), "--num-workers", "0"]) == 0
    assert json.loads((index / "index.json").read_text())["encoder"] == named
    capsys.readouterr()
    assert main(["search", str(photos / "rocket.png"), "--index", str(index), "-k", "1", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["neighbours"]
    assert [Path(hit["file"]).name for hit in found] == ["rocket.png"]


def test_with_a_background_the_start_is_normalised_as_the_model_is(fine_tuned, tmp_path, monkeypatch):
    """Else "did it pay off?" would compare normalised scores with plain cosines."""
    from siamkit.scoring import embedding

    background = tmp_path / "background"
    background.mkdir()
    for name in ("camera", "moon"):
        Image.fromarray(getattr(data, name)()).convert("RGB").save(background / f"{name}.png")
    normalised = []
    monkeypatch.setattr(embedding.NormalizedEmbeddingScorer, "__init__", _recording(
        embedding.NormalizedEmbeddingScorer.__init__, normalised))
    assert main(["evaluate", "--data", str(_pairs(tmp_path)), "--methods", str(fine_tuned), "--out",
                 str(tmp_path / "report"), "--bootstrap", "0", "--background", str(background)]) == 0
    assert sorted(normalised) == [str(fine_tuned), f"{fine_tuned}@start"]


def _recording(init, names: list):
    def recorded(self, *args, **kwargs):
        init(self, *args, **kwargs)
        names.append(self.name)
    return recorded


def _tiny_fine_tune(tmp_path) -> tuple[Path, Path]:
    """A small encoder (its weights not the start's) whose start is a weights file on this machine:
    the encoder folder and that file. Cheaper to embed than the Lite0 of ``fine_tuned``."""
    weights = tmp_path / "machine_a" / "resnet_start.pth"
    weights.parent.mkdir()
    torch.save(TimmBackbone("test_resnet").net.state_dict(), weights)
    backbone = ModuleSpec("siamkit.models.timm_backbone.TimmBackbone",
                          {"name": "test_resnet", "pretrained": str(weights), "image_size": 32})
    return Encoder.from_spec(EncoderSpec(backbone, None)).save(tmp_path / "encoder"), weights


def test_a_start_from_a_weights_file_is_found_in_the_moved_folder(tmp_path, capsys):
    """The card names the start's file by the path it had where training ran; on another machine
    the folder's own copy of it (by its name) is scored, and without one a note says where to copy it."""
    trained, weights = _tiny_fine_tune(tmp_path)
    start = Encoder.load(f"{trained}@start").fingerprint
    moved = shutil.move(trained, tmp_path / "machine_b" / "encoder")
    shutil.move(weights, tmp_path / "elsewhere.pth")
    pairs, report = _pairs(tmp_path), tmp_path / "report"
    assert main(["evaluate", "--data", str(pairs), "--methods", str(moved), "--out", str(report),
                 "--bootstrap", "0"]) == 0
    note = (f"note: {moved}@start is left out: the start's weights file {weights} does not exist here; to "
            f"score the start, copy that file into {moved}, where it is looked for by its name")
    assert note in capsys.readouterr().err
    index = tmp_path / "index"
    assert main(["embed", str(tmp_path), "--encoder", f"{moved}@start", "--out", str(index)]) == 2
    assert note.removeprefix(f"note: {moved}@start is left out: ") in capsys.readouterr().err
    assert not index.exists()
    assert set(json.loads((report / "metrics.json").read_text())["methods"]) == {str(moved)}
    shutil.copy(tmp_path / "elsewhere.pth", Path(moved) / weights.name)
    assert Encoder.load(f"{moved}@start").fingerprint == start
    assert main(["evaluate", "--data", str(pairs), "--methods", str(moved), "--out", str(tmp_path / "again"),
                 "--bootstrap", "0"]) == 0
    assert set(json.loads((tmp_path / "again" / "metrics.json").read_text())["methods"]) == {
        str(moved), f"{moved}@start"}


def test_a_start_listed_under_another_models_name_is_its_row(tmp_path):
    """A variant's start is the fine-tuned model's too: listed once by the user, not added again."""
    fine_tuned, _ = _tiny_fine_tune(tmp_path)
    variant = shutil.copytree(fine_tuned, tmp_path / "variant")
    assert main(["evaluate", "--data", str(_pairs(tmp_path)), "--methods", f"{variant}@start,{fine_tuned}",
                 "--out", str(tmp_path / "report"), "--bootstrap", "0"]) == 0
    document = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert set(document["methods"]) == {f"{variant}@start", str(fine_tuned)}
    compared = [(c["method"], c["against"]) for c in document["comparisons"]]
    assert compared == [(str(fine_tuned), f"{variant}@start")]


def test_a_named_networks_weights_file_is_recorded_so_it_holds_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.pth").write_bytes(b"weights")
    here = tmp_path.resolve()
    assert encoder_location("timm:resnet18:w.pth") == f"timm:resnet18:{here / 'w.pth'}"
    for name in ("timm:tf_efficientnet_lite0:efficientnet-lite0", "open_clip:RN50:openai", "timm:resnet18"):
        assert encoder_location(name) == name, "a packaged short name or a tag is no file"
    assert encoder_location("encoders/mine") == str(here / "encoders" / "mine")
