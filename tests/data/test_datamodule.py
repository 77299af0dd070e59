import ast

import numpy as np
import pytest
import torch
from PIL import Image

from siamkit.data.batches import ClassBatch, PairBatch, TwoViewBatch
from siamkit.data.datamodule import SiameseDataModule
from siamkit.data.demo import PHOTOS, resolve_source
from siamkit.data.image_config import ImageConfig
from siamkit.data.sources import read_source
from siamkit.data.transforms import build_augmentations, build_transform
from siamkit.errors import ConfigError, SiamkitError

SMALL = ImageConfig(size=16)


def _corrupt(folder):
    (folder / "class0" / "zero.png").write_bytes(b"")
    (folder / "class1" / "text.png").write_text("not an image")
    whole = (folder / "class2" / "0.png").read_bytes()
    (folder / "class2" / "cut.png").write_bytes(whole[: len(whole) // 2])


def test_bad_images_stop_before_training_naming_each_file(class_folder):
    _corrupt(class_folder)
    data = SiameseDataModule(str(class_folder), image_config=SMALL, num_workers=0)
    with pytest.raises(SiamkitError) as caught:
        data.setup("fit")
    message = str(caught.value)
    assert "3 of 35 images cannot be read" in message and "on_bad_image: skip" in message
    for name, reason in (("zero.png", "empty file"), ("text.png", "not an image"), ("cut.png", "truncated")):
        assert name in message and reason in message


def test_skip_policy_drops_and_reports_bad_images(class_folder):
    _corrupt(class_folder)
    data = SiameseDataModule(str(class_folder), image_config=SMALL, num_workers=0, on_bad_image="skip",
                             batch_size=8, m_per_class=2)
    data.setup("fit")
    assert len(data.skipped) == 3 and len(data.data) == 32
    batch = next(iter(data.train_dataloader()))
    assert batch.image.shape == (8, 3, 16, 16)


def test_class_batches_are_m_per_class_and_preprocessed_for_the_backbone(class_folder):
    data = SiameseDataModule(str(class_folder), image_config=SMALL, num_workers=0, batch_size=8,
                             m_per_class=4,
                             augment=[{"HorizontalFlip": {"p": 0.5}}], split_fractions=(0.5, 0.25, 0.25))
    assert data.train_batch_type is ClassBatch
    batch = next(iter(data.train_dataloader()))
    assert isinstance(batch, ClassBatch)
    assert batch.image.shape == (8, 3, 16, 16) and batch.image.dtype == torch.uint8  # normalised by the model
    assert sorted(np.unique(batch.label, return_counts=True)[1]) == [4, 4]


@pytest.mark.parametrize("augment_on", ["workers", "device"])
def test_made_in_python_without_an_image_config_it_preprocesses_as_the_model_embeds(class_folder, augment_on):
    """The CLI links the model's image config into the data; a DataModule given to a Trainer in
    Python took 224 px whatever the model's size, so it trained on other pixels than it embeds."""
    from types import SimpleNamespace

    data = SiameseDataModule(str(class_folder), num_workers=0, batch_size=8, check_leaks="off",
                             split_fractions=(0.5, 0.25, 0.25), augment_on=augment_on)
    data.trainer = SimpleNamespace(lightning_module=SimpleNamespace(image_config=SMALL))  # as fit attaches
    data.prepare_data()
    data.setup("fit")
    assert data.image_config == SMALL
    assert next(iter(data.train_dataloader())).image.shape[-2:] == (16, 16)
    assert augment_on == "workers" or data.device_augmentation.size == 16


def test_with_no_loader_workers_the_augmentation_follows_torchs_seed(class_folder):
    """As in the workers: albumentations left alone would draw a seed of its own, and two runs of
    one config and seed would train on different views."""

    def first_batch() -> torch.Tensor:
        torch.manual_seed(0)
        data = SiameseDataModule(str(class_folder), image_config=SMALL, num_workers=0, batch_size=8,
                                 augment=[{"Affine": {"rotate": [-40, 40], "p": 1}}],
                                 split_fractions=(0.5, 0.25, 0.25))
        return next(iter(data.train_dataloader())).image

    assert torch.equal(first_batch(), first_batch())


def test_unlabelled_images_give_two_views_and_fixed_validation_pairs(class_folder):
    data = SiameseDataModule(str(class_folder / "class0"), image_config=SMALL, num_workers=0, batch_size=2,
                             split_fractions=(0.5, 0.25, 0.25), augment="copy_detection")
    assert data.train_batch_type is TwoViewBatch
    train = next(iter(data.train_dataloader()))
    assert type(train) is TwoViewBatch and train.a.shape == train.b.shape == (2, 3, 16, 16)
    assert torch.equal(train.group_a, train.group_b) and not torch.equal(train.a, train.b)
    assert all(type(b) is PairBatch for b in data.val_dataloader()), "validation has labelled non-matches"
    first = [b.b for b in data.val_dataloader()]
    second = [b.b for b in data.val_dataloader()]
    assert all(torch.equal(x, y) for x, y in zip(first, second)), "validation pairs are the same every epoch"
    labels = torch.cat([b.label for b in data.val_dataloader()])
    assert labels.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_copies_of_one_image_file_share_a_match_group_and_are_no_negatives(class_folder):
    """InfoNCE takes the rest of the batch as negatives, but for those of one group."""
    import shutil

    folder = class_folder / "class0"
    shutil.copy(folder / "0.png", folder / "0 copy.png")
    data = SiameseDataModule(str(folder), image_config=SMALL, num_workers=0, split_fractions=(1, 0, 0))
    views = data.train_dataloader().dataset
    groups = {views.instances.data.path[k]: int(views[k]["group_a"]) for k in range(len(views))}
    assert groups["0 copy.png"] == groups["0.png"] and len(set(groups.values())) == len(groups) - 1
    data = SiameseDataModule(str(folder), image_config=SMALL, num_workers=0, split_fractions=(0, 1, 0))
    pairs = data.val_dataloader().dataset
    for seed in range(9):  # the copy is next to its file, so some seed's offset would pair them
        pairs = type(pairs)(pairs.instances, pairs.preprocess, pairs.augment, seed=seed)
        assert (pairs.instances.groups[pairs.partner] != pairs.instances.groups).all(), seed


def test_val_data_validates_and_tests_a_run_on_unlabelled_images_with_its_labelled_pairs(class_folder,
                                                                                        pairs_table):
    pairs_table.write_text("a,b,label,split\nimg0.png,img1.png,1,train\nimg0.png,img2.png,0,train\n"
                           "img6.png,img7.png,1,val\nimg8.png,img9.png,1,val\nimg6.png,img9.png,0,val\n"
                           "img10.png,img11.png,0,test\n")
    data = SiameseDataModule(str(class_folder / "class0"), image_config=SMALL, num_workers=0, batch_size=4,
                             split_fractions=(0.5, 0.25, 0.25), val_data=str(pairs_table))
    assert data.train_batch_type is TwoViewBatch
    for loader, labels in ((data.val_dataloader(), [1.0, 1.0, 0.0]), (data.test_dataloader(), [0.0])):
        batches = list(loader)
        assert all(type(b) is PairBatch for b in batches)
        assert torch.cat([b.label for b in batches]).tolist() == labels, "the table's rows of that split only"
    assert data.train_dataloader().dataset.instances.data.root == class_folder / "class0"
    pairs_table.write_text("a,b,label,split\nimg6.png,img7.png,1,val\n")
    without_test = SiameseDataModule(str(class_folder / "class0"), num_workers=0, val_data=str(pairs_table))
    with pytest.raises(SiamkitError, match=f"the test split of {pairs_table} is empty"):
        without_test.test_dataloader()


def test_a_leak_between_the_training_images_and_val_data_is_reported(tmp_path, caplog):
    from skimage import data as samples

    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera"):
        Image.fromarray(getattr(samples, name)()).resize((48, 48)).save(tmp_path / f"{name}.png")
    (tmp_path / "photos.csv").write_text("path,split\nastronaut.png,train\ncoffee.png,train\n"
                                         "chelsea.png,val\n")
    Image.open(tmp_path / "astronaut.png").save(tmp_path / "astronaut_copy.jpg", quality=70)
    Image.open(tmp_path / "coffee.png").save(tmp_path / "coffee_copy.jpg", quality=70)
    (tmp_path / "pairs.csv").write_text("a,b,label,split\nrocket.png,astronaut_copy.jpg,0,val\n"
                                        "camera.png,coffee_copy.jpg,0,test\n")
    data = SiameseDataModule(str(tmp_path / "photos.csv"), num_workers=0,
                             val_data=str(tmp_path / "pairs.csv"))
    with caplog.at_level("WARNING"):
        data.setup("fit")
    assert "2 near-duplicate pairs of" in caplog.text and "and data.val_data" in caplog.text
    assert "1 train / val" in caplog.text and "1 test / train" in caplog.text
    assert (f"`train leaks --data {tmp_path / 'photos.csv'} --val-data {tmp_path / 'pairs.csv'} --out DIR` "
            "lists them") in caplog.text  # the command had listed only the leaks within the source


def test_training_decodes_enough_detail_for_its_smallest_random_crop(class_folder):
    crop = {"RandomResizedCrop": {"scale": [0.4, 1.0], "ratio": [0.75, 4 / 3]}}
    assert build_transform(ImageConfig(size=224), [crop]).decode_size(224) == 409  # 224 / sqrt(0.4 * 0.75)
    assert build_transform(ImageConfig(size=224), [{"HorizontalFlip": {}}]).decode_size(224) == 224
    pixel_crop = {"RandomCrop": {"height": 300, "width": 300}}
    assert build_transform(ImageConfig(size=224), [pixel_crop]).decode_size(224) is None, "source pixels"
    data = SiameseDataModule(str(class_folder), image_config=SMALL, num_workers=0, augment=[crop],
                             split_fractions=(0.5, 0.25, 0.25))
    assert data.train_dataloader().dataset.read.size == 30  # ceil(16 / sqrt(0.3))
    assert data.val_dataloader().dataset.read.size == 16


def test_augmentation_entries_are_checked_at_start_up():
    with pytest.raises(ConfigError, match="Did you mean HorizontalFlip"):
        SiameseDataModule("demo:digits", augment=[{"HorizontalFlp": {}}])
    with pytest.raises(ConfigError, match=r"unknown argument \['limitt'\]"):
        build_augmentations([{"Rotate": {"limitt": 3}}], 16)
    with pytest.raises(ConfigError, match=r"unknown augmentation 'name'.*\{TransformName: \{arg: value\}\}"):
        build_augmentations([{"name": "CLAHE"}], 16)
    with pytest.raises(ConfigError, match="augmentation CLAHE: its arguments must be a mapping .*, not 0.5"):
        build_augmentations([{"CLAHE": 0.5}], 16)
    crop = build_augmentations([{"RandomResizedCrop": {"scale": [0.5, 1.0]}}], 24)[0]
    assert tuple(crop.size) == (24, 24), "size defaults to the backbone's"


def test_albumentations_objects_are_refused_with_the_entries_that_build_them():
    import albumentations as A

    compose = A.Compose([A.RandomResizedCrop(size=(24, 24), scale=(0.3, 1.0)), A.HorizontalFlip(),
                         A.ImageCompression(quality_range=(20, 60), p=0.3)])
    with pytest.raises(ConfigError, match="not albumentations objects: write") as refused:
        SiameseDataModule("demo:digits", augment=compose)
    entries = ast.literal_eval(str(refused.value).split("write ", 1)[1])
    assert entries == [{"RandomResizedCrop": {"scale": [0.3, 1.0], "size": [24, 24]}}, {"HorizontalFlip": {}},
                       {"ImageCompression": {"p": 0.3, "quality_range": [20, 60]}}]
    rebuilt = build_augmentations(entries, 16)
    assert [t.get_transform_init_args() for t in rebuilt] == [t.get_transform_init_args() for t in compose]


def test_demo_digits_is_a_class_folder_with_labels_table():
    table = resolve_source("demo:digits")
    data = read_source(table.parent)
    assert len(data) == 1797 and len(data.class_names) == 10
    assert (table.parent / "3").is_dir() and table.read_text().startswith("path,label\n")


def test_demo_photos_split_by_source_photograph():
    pairs = read_source(resolve_source("demo:photos"))
    photo = np.array([p.split("/")[0] for p in pairs.a])
    for split, files in PHOTOS.items():
        names = {f.rsplit(".", 1)[0] for f in files}
        assert set(photo[pairs.split == split]) == names
    assert (pairs.label == 1).sum() == (pairs.label == 0).sum()
    first = pairs.a[0]
    assert Image.open(pairs.root / first).size == (128, 128)


@pytest.mark.parametrize("name", ["demo:photos-hard", "demo:photos-unseen"])
def test_the_hard_edit_sets_hold_only_validation_and_test_photographs_edited_hard(name):
    pairs = read_source(resolve_source(name))
    photo = np.array([p.split("/")[0] for p in pairs.a])
    assert set(pairs.split) == {"val", "test"} and (pairs.split == "val").sum() == 288
    for split in ("val", "test"):
        assert set(photo[pairs.split == split]) == {f.rsplit(".", 1)[0] for f in PHOTOS[split]}
    original, copy = (np.asarray(Image.open(pairs.root / p).convert("RGB"), float)
                      for p in (pairs.a[0], pairs.b[0]))
    assert copy.shape == original.shape and np.abs(copy - original).mean() > 20  # a fifth, JPEG 5-12


def test_the_unseen_edits_are_made_from_the_same_patches_as_the_hard_ones():
    hard, unseen = (read_source(resolve_source(name)) for name in ("demo:photos-hard", "demo:photos-unseen"))
    assert list(hard.a) == list(unseen.a) and list(hard.label) == list(unseen.label)

    def first(pairs, column):
        return np.asarray(Image.open(pairs.root / getattr(pairs, column)[0]))

    assert np.array_equal(first(hard, "a"), first(unseen, "a"))
    assert not np.array_equal(first(hard, "b"), first(unseen, "b"))


def test_an_image_that_breaks_after_the_scan_reaches_the_user_as_one_line(class_folder):
    from torch.utils.data import DataLoader

    from siamkit.cli.program import _message
    from siamkit.data.datasets import ImageListDataset, ImageReader
    from siamkit.data.transforms import build_transform

    dataset = ImageListDataset(["class0/gone.png"], ImageReader(class_folder), build_transform(SMALL))
    batches = iter(DataLoader(dataset, num_workers=1))
    with pytest.raises(SiamkitError) as caught:
        next(batches)
    batches._shutdown_workers()  # now: left to the garbage collector, a later test waits 5 s for it
    gone = class_folder / "class0" / "gone.png"
    assert _message(caught.value) == f"cannot read image {gone}: file not found"


def test_the_reader_keeps_decoded_images_within_its_budget(tmp_path):
    from siamkit.data.datasets import ImageReader

    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):  # 300 x 300 x 3 bytes each: 0.26 MB
        Image.fromarray(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)).save(tmp_path / f"{name}.png")
    reader = ImageReader(tmp_path, cache_mb=1)  # room for three
    first = reader("a.png")
    assert reader("a.png") is first, "decoded once"
    reader("b.png"), reader("c.png")
    tight = ImageReader(tmp_path, cache_mb=0)
    assert tight("a.png") is not tight("a.png"), "no budget, no cache"
    small = ImageReader(tmp_path)
    small.cache_bytes = 2 * first.nbytes  # room for two: the oldest goes
    small("a.png"), small("b.png"), small("c.png")
    assert list(small._cache) == ["b.png", "c.png"] and small._cached_bytes == 2 * first.nbytes


def test_a_leak_between_splits_is_reported_before_training(tmp_path, caplog):
    from skimage import data as samples

    rows = ["path,label,split"]
    for i, name in enumerate(("astronaut", "coffee", "chelsea", "rocket")):
        Image.fromarray(getattr(samples, name)()).resize((48, 48)).save(tmp_path / f"{name}.png")
        rows.append(f"{name}.png,{i % 2},{('train', 'train', 'val', 'test')[i]}")
    Image.open(tmp_path / "coffee.png").save(tmp_path / "coffee_test.jpg", quality=70)
    (tmp_path / "labels.csv").write_text("\n".join([*rows, "coffee_test.jpg,1,test"]) + "\n")
    with caplog.at_level("WARNING"):
        SiameseDataModule(str(tmp_path / "labels.csv"), num_workers=0).setup("fit")
    assert "1 near-duplicate pair of" in caplog.text and "1 test / train" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        SiameseDataModule(str(tmp_path / "labels.csv"), num_workers=0, check_leaks="off").setup("fit")
    assert "near-duplicate" not in caplog.text


@pytest.mark.parametrize("source", ["classes", "photographs"])
def test_with_augment_on_device_the_loader_only_decodes_and_training_batches_are_augmented_there(
        source, class_folder):
    from types import SimpleNamespace

    augment = [{"RandomResizedCrop": {"scale": [0.25, 1.0]}}, {"HorizontalFlip": {}},
               {"ColorTwist": {"p": 1}}]
    location = str(class_folder) if source == "classes" else "demo:photographs"
    data = SiameseDataModule(location, image_config=SMALL, batch_size=8, num_workers=0, check_leaks="off",
                             split_fractions=(0.5, 0.25, 0.25), augment=augment, augment_on="device",
                             crops_per_image=1 if source == "classes" else 4)
    batch = next(iter(data.train_dataloader()))
    images = batch.image if source == "classes" else batch.a
    assert images.shape[-2:] == (37, 37)  # 16 px / sqrt(0.25 * 3/4): the smallest crop keeps 16 px
    data.trainer = SimpleNamespace(training=True, strategy=SimpleNamespace(root_device=torch.device("cpu")))
    augmented = data.on_after_batch_transfer(batch, 0)
    assert all(getattr(augmented, name).shape[-2:] == (16, 16) for name in ("image", "a", "b")
               if hasattr(augmented, name))
    assert data.on_after_batch_transfer(images, 0) is images, "the model summary's example images"
    data.trainer.training = False  # validation batches are left as the loader made them
    assert data.on_after_batch_transfer(batch, 0) is batch
    if source == "photographs":
        assert torch.equal(batch.a, batch.b) and not torch.equal(augmented.a, augmented.b)


def test_class_labelled_training_needs_two_classes_and_a_class_of_two_images(class_folder):
    import shutil

    singles = SiameseDataModule(str(class_folder), image_config=SMALL, num_workers=0, batch_size=4,
                                check_leaks="off", split_fractions=(0.125, 0.5, 0.375))  # 1 of 8 in train
    with pytest.raises(ConfigError, match=r"no class in the train split of .*classes has two images"):
        singles.train_dataloader()
    for other in ("class1", "class2", "class3"):
        shutil.rmtree(class_folder / other)
    data = SiameseDataModule(str(class_folder), image_config=SMALL, num_workers=0, batch_size=4,
                             check_leaks="off")
    with pytest.raises(ConfigError, match=r"train split of .*classes holds images of one class only"):
        data.train_dataloader()
    assert len(data.val_dataloader().dataset), "evaluating one class is still allowed"


def test_a_val_split_that_gives_one_kind_of_pair_is_refused_before_training(class_folder, pairs_table):
    """Validation's ROC-AUC, which picks the best checkpoint, was NaN at every epoch."""
    import shutil

    pairs_table.write_text("a,b,label,split\nimg0.png,img1.png,0,train\nimg6.png,img7.png,1,val\n")
    data = SiameseDataModule(str(class_folder / "class0"), num_workers=0, val_data=str(pairs_table))
    with pytest.raises(ConfigError, match=r"val split of .*pairs.csv can give no non-matches \(label 0\).*"
                                          r"--trainer.limit_val_batches 0"):
        data.check_fit_splits(validates=True)
    data.check_fit_splits(validates=False)
    for other in ("class1", "class2", "class3"):
        shutil.rmtree(class_folder / other)
    one_class = SiameseDataModule(str(class_folder / "class0"), num_workers=0, val_data=str(class_folder))
    with pytest.raises(ConfigError, match="can give no non-matches: it holds one class"):
        one_class.check_fit_splits(validates=True)


def test_a_checkpoint_recorded_before_copies_went_together_goes_on_with_its_split(class_folder):
    """A run on a folder with copies of one file, resumed or tested, splits as it did then."""
    import shutil

    from siamkit.data.splits import SplitRecord, split_source

    folder = class_folder / "class0"
    shutil.copy(folder / "0.png", folder / "0 copy.png")
    then = split_source(SplitRecord(str(folder), fractions=(0.5, 0.25, 0.25), copies_together=False))[1]
    checkpoint = {"splits": {k: v for k, v in then.to_dict().items() if k != "copies_together"}}
    data = SiameseDataModule(str(folder), image_config=SMALL, num_workers=0,
                             split_fractions=(0.5, 0.25, 0.25))
    data.setup("fit")
    assert data.split_record.digest != then.digest, "split with copies together, the folder splits otherwise"
    data.load_state_dict(checkpoint)
    assert data.split_record.digest == then.digest


def test_a_pair_of_two_files_with_the_same_bytes_labelled_different_is_left_out_with_a_warning(pairs_table,
                                                                                                caplog):
    """No model can tell them apart; training on one pushed two views of a picture apart."""
    root = pairs_table.parent
    (root / "copy0.png").write_bytes((root / "img0.png").read_bytes())
    with open(pairs_table, "a") as table:
        table.write("img0.png,copy0.png,0\n")
    data = SiameseDataModule(str(pairs_table), image_config=SMALL, num_workers=0, split_fractions=(1, 0, 0))
    data.setup("fit")
    assert len(data.data) == 12, "the 12 pairs, not the 13th"
    assert "1 pair labelled 0 (different) is two files with the same bytes (first: img0.png | copy0.png)" in (
        caplog.text)
