"""siamkit: train, evaluate and export Siamese / contrastive image-similarity models."""

from siamkit.errors import SiamkitError

__version__ = "0.1.0"
__all__ = ["SiamkitError", "__version__"]
