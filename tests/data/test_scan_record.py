"""A scan decodes only the images that are new, or changed, since an earlier scan passed them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siamkit.data import scan
from siamkit.data.scan import scan_images
from siamkit.data.scan_record import ScanRecord
from siamkit.errors import SiamkitError

NAMES = ["a.png", "b.png", "c.png"]


@pytest.fixture
def decoded(tmp_path, monkeypatch) -> list[str]:
    """The images each scan decodes, by name, with the record kept below tmp_path."""
    monkeypatch.setenv("SIAMKIT_CACHE", str(tmp_path / "cache"))
    names: list[str] = []

    def load_image(path, **kwargs):
        names.append(Path(path).name)
        return real(path, **kwargs)

    real = scan.load_image
    monkeypatch.setattr(scan, "load_image", load_image)
    return names


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for i, name in enumerate(NAMES):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(folder / name)
    return folder


def _scan(folder: Path, names: list[str], decoded: list[str]) -> tuple[list[str], list[str]]:
    """(the images decoded, the bad ones) in one scan with the skip policy."""
    decoded.clear()
    bad = scan_images(names, "skip", "", folder)
    return sorted(decoded), sorted(bad)


def test_a_second_scan_decodes_only_new_and_changed_images(folder, decoded):
    assert _scan(folder, NAMES, decoded) == (NAMES, [])
    assert _scan(folder, NAMES, decoded) == ([], [])
    (folder / "b.png").write_bytes(b"\x89PNG truncated")  # broken since it passed
    later = os.stat(folder / "c.png").st_mtime_ns + 10**9
    os.utime(folder / "c.png", ns=(later, later))  # rewritten: the same size, a new time
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "d.png")
    assert _scan(folder, [*NAMES, "d.png"], decoded) == (["b.png", "c.png", "d.png"], ["b.png"])
    assert _scan(folder, [*NAMES, "d.png"], decoded) == (["b.png"], ["b.png"])  # a bad image never passes


def test_a_bad_image_still_stops_a_scan_that_would_stop_on_it(folder, decoded):
    _scan(folder, NAMES, decoded)
    (folder / "a.png").write_bytes(b"not an image")
    with pytest.raises(SiamkitError, match=r"1 of 3 images cannot be read:\n  .*a.png"):
        scan_images(NAMES, "error", "skip them", folder)


@pytest.mark.parametrize("damage", ["{not json", '{"root": "/elsewhere", "passed": {"a.png": [1, 2]}}',
                                    '{"passed": [1]}', '{"root": "ROOT", "passed": {"a.png": "big"}}'])
def test_a_damaged_or_foreign_record_is_ignored(folder, decoded, damage):
    _scan(folder, NAMES, decoded)
    record = ScanRecord(folder)
    record.file.write_text(damage.replace("ROOT", record.root))
    assert _scan(folder, NAMES, decoded) == (NAMES, [])
    assert json.loads(record.file.read_text())["root"] == record.root  # written anew


def test_a_cache_that_cannot_be_written_costs_only_the_decoding(folder, decoded, tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("SIAMKIT_CACHE", str(tmp_path / "a_file"))
    assert _scan(folder, NAMES, decoded) == (NAMES, [])
    assert _scan(folder, NAMES, decoded) == (NAMES, [])


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_a_full_cache_disk_costs_only_the_decoding_and_leaves_no_part_file(folder, decoded):
    record = ScanRecord(folder)
    part = record.file.with_name(f".{record.file.name}.{os.getpid()}.partial")
    part.parent.mkdir(parents=True)
    part.symlink_to("/dev/full")  # every write fails as on a full disk
    assert _scan(folder, NAMES, decoded) == (NAMES, [])
    assert list(part.parent.iterdir()) == []
