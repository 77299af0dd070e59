"""What an encoder file may name: siamkit's own classes and registered ones, checked before any
import; constructor arguments checked against the class's signature."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
import torch
from torch import nn

from siamkit.data.image_config import ImageConfig
from siamkit.errors import SiamkitError
from siamkit.models import Encoder, EncoderSpec, ModuleSpec, ProjectionHead, records_init_args, spec
from siamkit.models.spec import SHIPPED_MODULES, register_module

#: a module that, once imported, leaves a mark: the test that it was never imported
EVIL_MODULE = """
from pathlib import Path
Path({marker!r}).write_text("imported")
class Evil:
    def __init__(self, *args, **kwargs):
        Path({marker!r}).write_text("built")
"""


@pytest.fixture
def evil_module(tmp_path, monkeypatch):
    marker = tmp_path / "marker.txt"
    (tmp_path / "siamkit_test_evil.py").write_text(EVIL_MODULE.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("siamkit_test_evil", None)


def _with_backbone(folder, class_path, init_args):
    card = json.loads((folder / "config.json").read_text())
    card["architecture"]["backbone"] = {"class_path": class_path, "init_args": init_args}
    (folder / "config.json").write_text(json.dumps(card))


def test_a_folder_naming_a_foreign_class_is_refused_before_it_is_imported(encoder_folder, tmp_path,
                                                                           evil_module):
    folder = shutil.copytree(encoder_folder, tmp_path / "crafted")
    _with_backbone(folder, "siamkit_test_evil.Evil", {})
    with pytest.raises(SiamkitError, match=r"architecture\.backbone\.class_path: class "
                                           r"'siamkit_test_evil\.Evil' is not one siamkit builds"):
        Encoder.load(folder)
    assert "siamkit_test_evil" not in sys.modules and not evil_module.exists()


@pytest.mark.parametrize("class_path", ["subprocess.Popen", "siamkit.cli.program.main", "os.system",
                                        "siamkit.models.backbones.nn.Module", 42, None, ["os", "system"]])
def test_only_shipped_classes_pass(class_path):
    with pytest.raises(SiamkitError, match="is not one siamkit builds"):
        ModuleSpec.from_dict({"class_path": class_path}, "architecture.backbone")


def test_unknown_constructor_arguments_are_refused(encoder_folder, tmp_path):
    folder = shutil.copytree(encoder_folder, tmp_path / "extra_arg")
    backbone = json.loads((folder / "config.json").read_text())["architecture"]["backbone"]
    _with_backbone(folder, backbone["class_path"], {**backbone["init_args"], "args": ["touch", "x"]})
    with pytest.raises(SiamkitError, match=r"init_args: TorchvisionBackbone takes no argument args; "
                                           r"it takes name, weights"):
        Encoder.load(folder)


def test_malformed_architecture_is_one_error(encoder_folder, tmp_path):
    folder = shutil.copytree(encoder_folder, tmp_path / "malformed")
    card = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**card, "architecture": {"head": None}}))
    with pytest.raises(SiamkitError, match="architecture must be a mapping with a backbone"):
        Encoder.load(folder)


class _Flat(nn.Module):
    """A user's own backbone: mean colour, (B, 3, S, S) -> (B, 3)."""

    feature_dim = 3

    @records_init_args
    def __init__(self, size: int = 8):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(3))
        self.image_config = ImageConfig(size=size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3)) * self.scale


def test_a_registered_class_of_ones_own_saves_and_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(spec, "_registered", {})
    encoder = Encoder(_Flat(), ProjectionHead(3, 4))
    folder = encoder.save(tmp_path / "own")
    with pytest.raises(SiamkitError, match=r"'tests\.models\.test_trusted_classes\._Flat' is not one"):
        Encoder.load(folder)
    register_module(_Flat)
    images = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(Encoder.load(folder)(images), encoder(images))


def test_a_network_without_what_a_backbone_states_is_one_type_error():
    from siamkit.models import Backbone, InfoNCELoss
    from siamkit.train.module import SiameseModule

    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with pytest.raises(TypeError, match=r"^Sequential is no siamkit backbone: it lacks feature_dim and "
                                        r"image_config\. A backbone of your own subclasses"):
        Encoder(plain, None)
    with pytest.raises(TypeError, match="and nn.Module as its base"):
        Encoder(lambda images: images, None)
    assert Encoder(_Flat(), None).embedding_dim == 3  # an nn.Module that states both embeds
    # training takes a Backbone: freezing and layer-wise rates work on its layer groups
    with pytest.raises(TypeError, match="it lacks siamkit.models.Backbone as its base\\."):
        SiameseModule(_Flat(), InfoNCELoss())

    class Minimal(Backbone):  # no blocks(): one layer group, the whole network
        feature_dim = 4

        def __init__(self):
            super().__init__()
            self.image_config, self.net = ImageConfig(size=8), plain

        def forward(self, images):
            return self.net(images)

    model = SiameseModule(Minimal(), InfoNCELoss(), layer_decay=0.5)
    groups = model.parameter_groups()
    assert sum(len(group["params"]) for group in groups) == len(list(model.parameters()))


def test_the_command_lines_trust_is_an_environment_variable_naming_the_class(tmp_path, monkeypatch):
    monkeypatch.setattr(spec, "_registered", {})
    folder = Encoder(_Flat(), None).save(tmp_path / "own")
    own = "tests.models.test_trusted_classes._Flat"
    with pytest.raises(SiamkitError, match=f"run the command with SIAMKIT_TRUSTED_CLASSES={own} "):
        Encoder.load(folder)
    monkeypatch.setenv("SIAMKIT_TRUSTED_CLASSES", f"elsewhere.Other, {own}")
    assert Encoder.load(folder).embedding_dim == 3

    card = json.loads((folder / "config.json").read_text())
    for class_path, message in (("elsewhere.Other", "trusted by SIAMKIT_TRUSTED_CLASSES, cannot be imported "
                                                    r"\(No module named 'elsewhere'\): put its module on "),
                                ("os.system", "os.system is not an nn.Module subclass")):
        card["architecture"]["backbone"]["class_path"] = class_path
        (folder / "config.json").write_text(json.dumps(card))
        monkeypatch.setenv("SIAMKIT_TRUSTED_CLASSES", class_path)
        with pytest.raises(SiamkitError, match=message):
            Encoder.load(folder)


def test_every_shipped_class_is_where_its_path_says():
    import importlib

    for path in SHIPPED_MODULES:
        module, _, name = path.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, nn.Module) and f"{cls.__module__}.{cls.__qualname__}" == path
    assert EncoderSpec.from_dict({"backbone": {"class_path": "siamkit.models.heads.ProjectionHead",
                                               "init_args": {"out_dim": 8}}}).head is None
