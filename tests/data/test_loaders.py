"""The loaders a run gets: as many workers as it asks for, and no more than it has CPUs for."""

import os

from siamkit.data import datasets
from siamkit.data.datamodule import SiameseDataModule
from siamkit.data.image_config import ImageConfig


def test_more_workers_than_usable_cpus_load_with_one_a_cpu_and_say_so(class_folder, monkeypatch, capsys):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    datasets.fewer_workers.cache_clear()
    data = SiameseDataModule(str(class_folder), image_config=ImageConfig(size=16), num_workers=8,
                             batch_size=8, m_per_class=2)
    data.setup("fit")
    assert data.train_dataloader().num_workers == 2 and data.val_dataloader().num_workers == 2
    assert capsys.readouterr().err.count("note: data.num_workers 8 is more than the 2 CPUs this process may "
                                         "use: loading with 2 workers") == 1
    assert datasets.fewer_workers(1) == 1
    datasets.fewer_workers.cache_clear()
