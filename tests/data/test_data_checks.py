"""The checks a run's data passes before training: where a val split of classes holds no class
with two images, the message names split fractions that give one two; a run on one's own images
that validates on a bundled demo set is told so."""

import json
import logging
import re
import shutil

import numpy as np
import pytest

from siamkit.data.data_checks import _fractions_for_two_val_images, labelled_val_data
from siamkit.data.datamodule import SiameseDataModule
from siamkit.data.sources import ClassSet
from siamkit.data.splits import SplitRecord
from siamkit.errors import ConfigError


def test_the_split_fractions_named_give_a_class_two_val_images(class_folder):
    """8 images a class, a tenth of each to val: one image each, no match to validate on."""
    data = SiameseDataModule(str(class_folder), num_workers=0, check_leaks="off")
    with pytest.raises(ConfigError, match="no class in it has two images") as refused:
        data.check_fit_splits(validates=True)
    fractions = json.loads(re.search(r"--data.split_fractions '(\[.*?\])'", str(refused.value)).group(1))
    assert "with 8 images in the largest class" in str(refused.value) and sum(fractions) == pytest.approx(1)
    SiameseDataModule(str(class_folder), num_workers=0, check_leaks="off",
                      split_fractions=tuple(fractions)).check_fit_splits(validates=True)


def test_no_fractions_are_named_for_val_data_which_they_do_not_split(class_folder):
    data = SiameseDataModule(str(class_folder / "class0"), num_workers=0, check_leaks="off",
                             val_data=str(class_folder))
    with pytest.raises(ConfigError, match="no class in it has two images") as refused:
        data.check_fit_splits(validates=True)
    assert "other split fractions, or train without validating" in str(refused.value)


def test_classes_too_small_to_split_three_ways_are_sent_to_other_val_data(tmp_path):
    labels = np.repeat([0, 1], [3, 2])
    classes = ClassSet(tmp_path, np.array([f"{i}.png" for i in range(5)]), labels, ["a", "b"], np.full(5, ""))
    assert _fractions_for_two_val_images(classes) == (
        "other data to validate on (--data.val_data: the largest class here has 3 images)")


def test_copies_of_one_file_count_once_in_the_fractions_named(class_folder):
    """A class's copies go to one split together, so they cannot give val its two images."""
    for i in range(8):
        shutil.copy(class_folder / "class0" / "0.png", class_folder / "class0" / f"copy{i}.png")
    data = SiameseDataModule(str(class_folder), num_workers=0, check_leaks="off")
    with pytest.raises(ConfigError, match="no class in it has two images") as refused:
        data.check_fit_splits(validates=True)
    assert "with 8 images in the largest class" in str(refused.value), "16 files, 8 distinct"


def test_a_run_on_ones_own_images_that_validates_on_a_demo_set_is_told_so(class_folder, pairs_table, caplog):
    with caplog.at_level(logging.WARNING):
        labelled_val_data(str(pairs_table), "error", SplitRecord(str(class_folder)))
        labelled_val_data("demo:digits", "error", SplitRecord("demo:digits"))
        assert not caplog.text
        labelled_val_data("demo:digits", "error", SplitRecord(str(class_folder)))
    assert (f"data.val_data is demo:digits, a bundled demo set, while the run trains on {class_folder}: the "
            "best checkpoint is chosen on the demo's images. `train copies --data SOURCE") in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # labelled data has a val split of its own to validate on
        labelled_val_data("demo:digits", "error", SplitRecord(str(class_folder), kind="classes"))
    assert "chosen on the demo's images. --data.val_data null validates on its own val split" in caplog.text
