"""siamkit.models: plain PyTorch, no Lightning. Backbones, heads, losses, the input
normalisation, and ``Encoder`` with its folder format (ONNX and sentence-transformers export
live in ``siamkit.models.onnx_export`` and ``siamkit.models.st_layout``).

``Preprocess`` and ``ImageConfig`` are defined in ``siamkit.data`` (the training data
pipeline builds on them too) and offered here, beside the encoder that owns them.
"""

from siamkit.data.image_config import ImageConfig
from siamkit.data.preprocess import Preprocess
from siamkit.models.backbones import Backbone, OpenClipBackbone, TorchvisionBackbone
from siamkit.models.card import EncoderCard, EncoderFolderError
from siamkit.models.encoder import Encoder
from siamkit.models.heads import ProjectionHead
from siamkit.models.infonce import InfoNCELoss
from siamkit.models.input_normalization import InputNormalization
from siamkit.models.losses import ContrastiveLoss, SiameseLoss, TripletLoss
from siamkit.models.pooling import GeM
from siamkit.models.spec import EncoderSpec, ModuleSpec, records_init_args, register_module
from siamkit.models.timm_backbone import TimmBackbone

__all__ = [
    "Backbone", "ContrastiveLoss", "GeM", "Encoder", "EncoderCard", "EncoderFolderError", "EncoderSpec",
    "ImageConfig", "InfoNCELoss", "InputNormalization", "ModuleSpec", "OpenClipBackbone", "Preprocess",
    "ProjectionHead",
    "SiameseLoss", "TimmBackbone", "TorchvisionBackbone", "TripletLoss", "records_init_args",
    "register_module",
]
