"""siamkit.data: image decoding, data sources and splits, datasets, samplers, augmentation,
the DataModule and the bundled demo sets."""

from siamkit.data.images import ImageLoadError, load_image
from siamkit.data.transforms import ImageConfig

__all__ = ["ImageConfig", "ImageLoadError", "load_image"]
