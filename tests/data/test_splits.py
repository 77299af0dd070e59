import dataclasses

import numpy as np
import pytest
from PIL import Image

from siamkit.data.splits import SplitMismatch, SplitRecord, check_same_splits, split_source


def test_the_record_says_what_was_read_and_the_same_data_gives_the_same_digest(class_folder):
    data, record = split_source(SplitRecord(str(class_folder), fractions=(0.5, 0.25, 0.25), seed=3))
    assert record.kind == "classes" and record.counts == {"train": 16, "val": 8, "test": 8}
    assert len(record.digest) == 64
    assert split_source(SplitRecord(str(class_folder), fractions=(0.5, 0.25, 0.25), seed=3))[1] == record
    assert split_source(record)[1] == record  # a record with its digest reproduces itself
    assert SplitRecord.from_dict(record.to_dict()) == record
    assert (data.split == "val").sum() == 8


def test_another_seed_another_image_or_another_label_changes_the_digest(class_folder):
    _, record = split_source(SplitRecord(str(class_folder), fractions=(0.5, 0.25, 0.25)))
    assert split_source(dataclasses.replace(record, seed=1, digest=None))[1].digest != record.digest
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(class_folder / "class0" / "new.png")
    with pytest.raises(SplitMismatch, match=r"no longer splits as when the model was trained on it \(then "
                                            r"16/8/8 train/val/test.*now 17/8/8 train/val/test"):
        split_source(record)
    (class_folder / "class0" / "new.png").unlink()
    (class_folder / "class0" / "0.png").rename(class_folder / "class1" / "moved.png")
    with pytest.raises(SplitMismatch, match="added, removed or relabelled"):
        split_source(record)


def test_other_settings_on_the_same_source_are_refused_and_another_source_is_no_mismatch(class_folder,
                                                                                       pairs_table):
    _, trained = split_source(SplitRecord(str(class_folder), fractions=(0.5, 0.25, 0.25)))
    _, reseeded = split_source(SplitRecord(str(class_folder), fractions=(0.5, 0.25, 0.25), seed=2))
    with pytest.raises(SplitMismatch, match=r"split \[0.5, 0.25, 0.25\] with seed 0, but this splits it "
                                            r"\[0.5, 0.25, 0.25\] with seed 2"):
        check_same_splits(trained, reseeded)
    _, other = split_source(SplitRecord(str(pairs_table)))
    check_same_splits(trained, other)  # evaluating on other data is the point, not a leak


def test_cards_written_before_digests_still_read():
    old = {"source": "demo:digits", "root": None, "split_fractions": [0.7, 0.15, 0.15], "split_seed": 0}
    record = SplitRecord.from_dict(old)
    assert record == SplitRecord("demo:digits", None, "auto", (0.7, 0.15, 0.15), 0, None, None, False)
    assert SplitRecord.from_dict({"source": "x", "split_fractions": None, "split_seed": None}).fractions == (
        0.8, 0.1, 0.1)


def test_sources_are_recorded_as_absolute_paths_and_bundled_sets_by_name(class_folder, tmp_path, monkeypatch):
    """A record of a relative path named other data when read from another folder."""
    from siamkit.data.datamodule import SiameseDataModule

    monkeypatch.chdir(class_folder.parent)
    _, record = split_source(SplitRecord(class_folder.name))
    assert record.source == str(class_folder.resolve())
    assert split_source(SplitRecord("demo:digits"))[1].source == "demo:digits"
    data = SiameseDataModule(class_folder.name, val_data=class_folder.name, num_workers=0, check_leaks="off")
    data.setup("fit")
    assert data.hparams.val_data == str(class_folder.resolve()), "as checkpoints record what validation used"


def test_a_record_from_before_copies_went_together_reproduces_its_split(class_folder):
    """Runs recorded before siamkit kept copies of one file in one split still split as they did,
    so their val and test splits are known, not refused as data changed since."""
    import shutil

    folder = class_folder / "class0"
    shutil.copy(folder / "0.png", folder / "0 copy.png")
    for seed in range(20):
        new_data, new = split_source(SplitRecord(str(folder), fractions=(0.5, 0.25, 0.25), seed=seed))
        written_before = {key: value for key, value in new.to_dict().items()
                          if key not in ("copies_together", "digest")}
        old_data, old = split_source(SplitRecord.from_dict(written_before))
        split = dict(zip(old_data.path, old_data.split))
        if split["0.png"] != split["0 copy.png"]:  # a seed that, without the rule, set the copy apart
            break
    else:
        pytest.fail("no seed split the copy apart without the rule")
    assert not old.copies_together and split_source(old)[1].digest == old.digest, "reproduced as it was"
    split = dict(zip(new_data.path, new_data.split))
    assert new.copies_together and split["0.png"] == split["0 copy.png"]


def test_a_run_whose_val_or_test_holds_what_its_init_from_model_chose_its_weights_on_is_refused(class_folder,
                                                                                             tmp_path):
    """model.init_from a model trained on class folders, for a run on pairs of copies of those
    files: its test split would score the model on its own training images."""
    import shutil

    from siamkit.data.data_checks import check_earlier_training
    from siamkit.errors import ConfigError

    trained_on = split_source(SplitRecord(str(class_folder)))[1]
    copies = tmp_path / "copies"
    shutil.copytree(class_folder, copies)
    rows = ["a,b,label,split"] + [f"class{c}/{i}.png,class{c}/{i + 1}.png,1,{split}"
                                  for c in range(4) for i, split in ((0, "train"), (2, "test"))]
    (copies / "pairs.csv").write_text("\n".join(rows) + "\n")
    data, now = split_source(SplitRecord(str(copies / "pairs.csv")))
    with pytest.raises(ConfigError, match=r"this run's val and test splits hold \d+ images? that "
                                          r"model.init_from old.ckpt was trained or validated on "):
        check_earlier_training(trained_on, "old.ckpt", data, now, None)
    other_seed = split_source(SplitRecord(str(class_folder), seed=1))
    with pytest.raises(ConfigError, match=r"model.init_from old.ckpt was trained on .* with seed 0, but "
                                          r"this splits it .* with seed 1: .* data.check_leaks: off trains"):
        check_earlier_training(trained_on, "old.ckpt", *other_seed, None)
    check_earlier_training(trained_on, "old.ckpt", *split_source(SplitRecord(str(class_folder))), None)
