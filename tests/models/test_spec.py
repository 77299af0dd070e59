"""What an encoder's spec records."""

from siamkit.models.spec import ModuleSpec


def test_a_start_from_a_weights_file_is_recorded_by_its_absolute_path(tmp_path, monkeypatch):
    """`FOLDER@start` (which `train evaluate` adds) read the file relative to the folder it ran from."""
    (tmp_path / "weights.pth").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    spec = ModuleSpec("siamkit.models.TimmBackbone", {"name": "resnet18", "pretrained": "weights.pth"})
    assert spec.with_weight_files_absolute().init_args == {"name": "resnet18",
                                                           "pretrained": str(tmp_path / "weights.pth")}
    named = ModuleSpec("siamkit.models.TimmBackbone", {"name": "x", "pretrained": "efficientnet-lite0"})
    assert named.with_weight_files_absolute() == named, "a short name or tag is no file"
