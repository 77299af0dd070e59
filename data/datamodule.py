"""One DataModule for all three data shapes (pairs, class-labelled, unlabelled images)."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, Optional

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.trainer.states import TrainerFn
from torch.utils.data import DataLoader, Dataset, RandomSampler

from siamkit.data.bad_images import BadImage
from siamkit.data.batches import Batch, ClassBatch, PairBatch, TwoViewBatch
from siamkit.data.data_checks import (
    check_earlier_training,
    check_leaks,
    check_settings,
    check_train_classes,
    check_unlabelled_settings,
    check_val_pairs,
    empty_split,
    labelled_val_data,
    without_bad_images,
    without_copies_labelled_different,
)
from siamkit.data.datasets import (
    ClassImageDataset,
    FixedViewPairs,
    ImageListDataset,
    ImageReader,
    Instances,
    PairDataset,
    TwoViewDataset,
    seeded_loader,
)
from siamkit.data.device_augmentation import DeviceAugmentation
from siamkit.data.image_config import ImageConfig
from siamkit.data.samplers import MPerClassBatchSampler
from siamkit.data.scan import BadImagePolicy
from siamkit.data.sources import DEFAULT_SPLIT_FRACTIONS, ClassSet, DataSet, ImageSet, PairSet, SourceKind
from siamkit.data.splits import SplitRecord, check_same_splits, recorded_location, split_source
from siamkit.data.transforms import (
    COPY_DETECTION_AUGMENT,
    ImagePipeline,
    build_augmentations,
    build_transform,
)
from siamkit.data.view_mix import ViewMix


class SiameseDataModule(pl.LightningDataModule):
    """Loads ``source`` and serves train / val / test / predict loaders.

    Args:
        source: a folder (a sub-folder per class, or flat unlabelled images), a table
            (.csv / .jsonl / .parquet: pairs ``a,b,label``; classes ``path,label``;
            images ``path``), or a bundled set ``demo:digits`` / ``demo:photos``.
        root: folder the table's image paths are relative to (default: the table's folder).
        kind: force the data shape instead of inferring it from the columns / folders.
        split_fractions: train / val / test fractions, used when the data has no ``split`` column.
        batch_size: images (classes) or pairs (pairs, unlabelled) per batch.
        m_per_class: images per class in each training batch of class-labelled data.
        augment: albumentations transforms for training, ``[{Name: {arg: value}}, ...]``;
            ``"copy_detection"`` selects the bundled copy-detection set.
        on_bad_image: ``error`` stops before training with the files and reasons; ``skip``
            drops them and reports which.
        crops_per_image: for unlabelled images, how many random regions of each image an epoch
            trains on, each an instance of its own (two views of a region match; other
            regions, of the same image or not, do not). 1 uses each image whole.
        crop_scale: the share of an image's area a region covers, drawn from this range.
        cache_decoded_mb: with regions, each worker keeps up to this many megabytes of decoded
            images, so a photograph is decoded once however many regions it gives.
        mix_views: for unlabelled images, the share of each training batch's second views
            that ``ViewMix`` blends with, or pastes a box from, another instance's view; such a
            view matches both instances (SSCD's mixup / cutmix). 0 turns it off.
        check_leaks: before training, look for near-duplicate images on two sides of the
            splits (PDQ, no model): ``warn`` (default) says so, ``error`` stops, ``off`` skips
            the check (also ``false``: YAML reads an unquoted off as false). `train leaks` lists them.
        val_data: labelled pairs or classes (a table, folder or ``demo:NAME``) whose val split
            validates the run (and whose test split ``train test`` scores) in place of the
            source's own: for unlabelled images, pairs with the edits the model is for
            (``demo:photos`` for ``demo:photographs``), so that ``val/roc_auc`` and
            ``best-*.ckpt`` answer that question rather than one about the training augmentations.
        augment_on: where training augmentation runs: ``workers`` (the loader's processes,
            albumentations) or ``device`` (batched on the model's device, the GPU in a GPU run:
            the loader then only decodes, once per worker, and resizes; see
            ``siamkit.data.device_augmentation`` for what each transform becomes there).
        image_config: the backbone's preprocessing (linked from the model by the CLI; left out,
            the model's that the Trainer attaches, so that a DataModule made in Python resizes as
            the model embeds).
    """

    def __init__(
        self,
        source: str,
        root: Optional[str] = None,
        kind: SourceKind = "auto",
        split_fractions: tuple[float, float, float] = DEFAULT_SPLIT_FRACTIONS,
        split_seed: int = 0,
        batch_size: int = 64,
        m_per_class: int = 4,
        num_workers: int = 2,
        augment: list[dict[str, Any]] | Literal["copy_detection"] | None = None,
        on_bad_image: BadImagePolicy = "error",
        crops_per_image: int = 1,
        crop_scale: tuple[float, float] = (0.05, 0.5),
        cache_decoded_mb: int = 512,
        mix_views: float = 0.0,
        check_leaks: str | bool = "warn",
        val_data: Optional[str] = None,
        augment_on: Literal["workers", "device"] = "workers",
        image_config: Optional[ImageConfig] = None,
    ):
        super().__init__()
        self.leak_check = "off" if check_leaks is False else check_leaks
        check_settings(dict(batch_size=batch_size, m_per_class=m_per_class, num_workers=num_workers,
                             crops_per_image=crops_per_image, cache_decoded_mb=cache_decoded_mb,
                             split_seed=split_seed),
                        split_fractions, crop_scale, self.leak_check, augment_on)
        self.save_hyperparameters(ignore=["image_config"])
        self._image_config_given = image_config is not None
        self.image_config = image_config or ImageConfig()
        self.augment = COPY_DETECTION_AUGMENT if augment == "copy_detection" else augment
        # fail on a bad entry now, not in a worker or on the device (left out, unlabelled images
        # get the copy-detection set)
        build_augmentations(self.augment or COPY_DETECTION_AUGMENT, self.image_config.size)
        self.device_augmentation = None
        self._build_device_augmentation()
        self.mix = ViewMix(mix_views) if mix_views else None
        self.data: DataSet | None = None
        #: how ``data`` was split; checkpoints carry it, and a run resumed or tested from one
        #: refuses data that no longer splits the same way
        self.split_record: SplitRecord | None = None
        self.skipped: list[BadImage] = []
        self.val_data: DataSet | None = None
        self._leaks_checked = False

    @property
    def train_batch_type(self) -> type[Batch]:
        """The typed batch the training loader yields: ``PairBatch`` for labelled pairs,
        ``ClassBatch`` for class-labelled images, ``TwoViewBatch`` for unlabelled images."""
        return {PairSet: PairBatch, ClassSet: ClassBatch, ImageSet: TwoViewBatch}[type(self._loaded())]

    @property
    def kind(self) -> str:
        """The data's shape in words, for messages."""
        shape = {PairBatch: "labelled pairs", ClassBatch: "class-labelled images"}.get(self.train_batch_type)
        return f"{self.hparams.source}, {shape or 'unlabelled images'}"

    def prepare_data(self) -> None:
        # reads and checks the data before Lightning starts the loggers (between prepare_data and
        # setup), so a run refused for its data leaves no log folder behind; DDP's other ranks read
        # it in setup. SiameseModule.prepare_data runs the leak check after its own, cheaper checks
        self._take_the_models_image_config()
        self._read()

    def setup(self, stage: str | None = None) -> None:
        self._take_the_models_image_config()
        self._read()
        self.check_leaks_once()

    def _take_the_models_image_config(self) -> None:
        model = getattr(self.trainer, "lightning_module", None)
        config = getattr(model, "image_config", None)
        if not self._image_config_given and isinstance(config, ImageConfig) and config != self.image_config:
            self.image_config = config
            self._build_device_augmentation()

    def _build_device_augmentation(self) -> None:
        """Before the data is read (``_read`` then leaves labelled data without augmentation)."""
        if self.hparams.augment_on == "device":
            steps = build_augmentations(self.augment or COPY_DETECTION_AUGMENT, self.image_config.size)
            self.device_augmentation = DeviceAugmentation(steps, self.image_config.size)

    def check_leaks_once(self) -> None:
        """``data.check_leaks``: PDQ over every image, the slowest of the checks before training (not
        before predict, which embeds every image, split or not)."""
        if not self._leaks_checked and self.leak_check != "off" and not self._predicting():
            check_leaks(self.data, self.hparams.source, self.leak_check, self.val_data, self.hparams.val_data)
        self._leaks_checked = True

    def check_earlier_training(self, record: SplitRecord, name: str) -> None:
        """``model.init_from``'s training data against this run's val and test splits, unless
        ``data.check_leaks`` is off."""
        if self.leak_check != "off":
            check_earlier_training(record, name, self._loaded(), self.split_record, self.val_data)

    def check_fit_splits(self, validates: bool) -> None:
        """Training needs images in train (and in val when it validates), said before it starts."""
        self._split("train")
        if validates:
            # --data.split_fractions splits the source, not data.val_data: fractions are named for it alone
            check_val_pairs(self._split("val"), self.hparams.val_data or self.hparams.source,
                            self._loaded() if self.val_data is None else None)

    def _read(self, copies_together: bool = True) -> None:
        if self.data is not None:
            return
        hp = self.hparams
        asked = SplitRecord(hp.source, hp.root, hp.kind, tuple(hp.split_fractions), hp.split_seed,
                            copies_together=copies_together)
        data, self.split_record = split_source(asked)
        data, self.skipped = without_bad_images(data, hp.on_bad_image)
        self.data = without_copies_labelled_different(data, hp.source)
        if self.device_augmentation is not None and not self._train_augmentations():
            self.device_augmentation = DeviceAugmentation([], self.image_config.size)
        check_unlabelled_settings(self.data, hp.source, hp.crops_per_image, self.mix is not None)
        if hp.val_data:
            val_data, skipped = labelled_val_data(hp.val_data, hp.on_bad_image, self.split_record)
            self.val_data = without_copies_labelled_different(val_data, hp.val_data)
            self.skipped += skipped
            hp.val_data = recorded_location(hp.val_data)  # as checkpoints name it: found from any folder

    def state_dict(self) -> dict[str, Any]:
        return {"splits": self.split_record.to_dict()} if self.split_record else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # checkpoints written before splits were recorded have none; predict embeds every image,
        # split or not, so data that changed since is no leak there
        if "splits" in state_dict and not self._predicting():
            recorded = SplitRecord.from_dict(state_dict["splits"])
            if not recorded.copies_together:  # recorded before copies of a file went together: its
                self.data = None  # split as it was, which a resumed run goes on with
                self._read(copies_together=False)
            self._loaded()
            check_same_splits(recorded, self.split_record, "the checkpoint's model")

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Augments training batches on their device (``augment_on: device``), then mixes batches
        of two views; anything else (the model summary's example images) passes untouched."""
        if not isinstance(batch, Batch):
            return batch
        if self.device_augmentation is not None and self.trainer is not None and self.trainer.training:
            batch = batch.map_images(self.device_augmentation.to(self.trainer.strategy.root_device))
        return self.mix(batch) if self.mix is not None and isinstance(batch, TwoViewBatch) else batch

    def _predicting(self) -> bool:
        return self.trainer is not None and self.trainer.state.fn == TrainerFn.PREDICTING

    def _loaded(self) -> DataSet:
        self._read()
        return self.data

    def _split(self, split: str) -> DataSet:
        """The source's ``split``; with ``val_data``, that data's val and test splits instead."""
        data, source, fractions = self._loaded(), self.hparams.source, self.hparams.split_fractions
        if split != "train" and self.val_data is not None:  # split as `train evaluate` splits it
            data, source, fractions = self.val_data, self.hparams.val_data, DEFAULT_SPLIT_FRACTIONS
        part = data.subset(data.split == split)
        if not len(part):
            raise empty_split(split, data, source, list(fractions))
        return part

    def _reader(self, transform: ImagePipeline, data: DataSet) -> ImageReader:
        """Decodes ``data``'s images with as little detail as ``transform`` can use: JPEGs at a
        fraction of their size where even its smallest random crop keeps the backbone's resolution."""
        return ImageReader(data.root, transform.decode_size(self.image_config.size))

    def _dataset(self, split: str) -> Dataset:
        part = self._split(split)
        train = split == "train"
        if train and self.device_augmentation is not None:
            return self._device_augmented(part)
        transform = build_transform(self.image_config, self.augment if train else None)
        if isinstance(part, PairSet):
            return PairDataset(part, self._reader(transform, part), transform)
        if isinstance(part, ClassSet):
            return ClassImageDataset(part, self._reader(transform, part), transform)
        if train:
            transform = build_transform(self.image_config, self._train_augmentations())
            return TwoViewDataset(self._instances(part, transform), transform)
        views = ImagePipeline(build_augmentations(self._train_augmentations(),
                                                  self.image_config.size))
        return FixedViewPairs(self._instances(part, views), transform, views, seed=self.hparams.split_seed)

    def _device_augmented(self, part: DataSet) -> Dataset:
        """Training images for ``augment_on: device``: decoded once per worker (up to
        ``cache_decoded_mb``) and resized to the square the augmentations start from."""
        views = ImagePipeline(build_augmentations(self._train_augmentations(), self.image_config.size))
        size = views.decode_size(self.image_config.size)  # never None: pixel crops have no device version
        resize = build_transform(dataclasses.replace(self.image_config, size=size))
        if isinstance(part, ImageSet):
            return TwoViewDataset(self._instances(part, views), resize)
        reader = ImageReader(self._loaded().root, size, self.hparams.cache_decoded_mb)
        dataset = PairDataset if isinstance(part, PairSet) else ClassImageDataset
        return dataset(part, reader, resize)

    def _train_augmentations(self) -> list[dict[str, Any]]:
        """``data.augment``; left out, the copy-detection set for unlabelled images, none for labelled."""
        if self.augment is not None:
            return self.augment
        return COPY_DETECTION_AUGMENT if isinstance(self._loaded(), ImageSet) else []

    def _instances(self, part: ImageSet, views: ImagePipeline) -> Instances:
        """Whole images, or ``crops_per_image`` regions of each, decoded in full once per worker
        and cut to the detail the views need."""
        hp = self.hparams
        if hp.crops_per_image == 1:
            return Instances(part, self._reader(views, part))
        size = views.decode_size(self.image_config.size) or 2 * self.image_config.size
        reader = ImageReader(self._loaded().root, None, hp.cache_decoded_mb)
        return Instances(part, reader, hp.crops_per_image, size, hp.crop_scale)

    def train_dataloader(self) -> DataLoader:
        dataset = self._dataset("train")
        if isinstance(dataset, ClassImageDataset):
            hp = self.hparams
            check_train_classes(dataset.data.label, hp.source)
            sampler = MPerClassBatchSampler(RandomSampler(dataset), dataset.data.label, hp.batch_size,
                                            hp.m_per_class, drop_last=True, seed=hp.split_seed)
            return self._loader(dataset, batch_sampler=sampler)
        return self._loader(dataset, batch_size=min(self.hparams.batch_size, len(dataset)), shuffle=True,
                            drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("val"), batch_size=self.hparams.batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("test"), batch_size=self.hparams.batch_size)

    def predict_dataloader(self) -> DataLoader:
        """Every image of the source (all splits), in a stable order: see ``predict_paths``."""
        transform = build_transform(self.image_config)
        reader = self._reader(transform, self._loaded())
        dataset = ImageListDataset(list(self.predict_paths()), reader, transform)
        return self._loader(dataset, batch_size=self.hparams.batch_size)

    def predict_paths(self) -> np.ndarray:
        return self._loaded().paths()

    def _loader(self, dataset: Dataset, **kwargs: Any) -> DataLoader:
        return seeded_loader(dataset, self.hparams.num_workers, **kwargs)
