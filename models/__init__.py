"""siamkit.models: backbones, projection heads, losses and the SiameseModule."""

from siamkit.models.backbones import Backbone, OpenClipBackbone, TimmBackbone, TorchvisionBackbone
from siamkit.models.heads import ProjectionHead
from siamkit.models.losses import ContrastiveLoss, InfoNCELoss, SiameseLoss, TripletLoss
from siamkit.models.module import SiameseModule

__all__ = [
    "Backbone", "ContrastiveLoss", "InfoNCELoss", "OpenClipBackbone", "ProjectionHead", "SiameseLoss",
    "SiameseModule", "TimmBackbone", "TorchvisionBackbone", "TripletLoss",
]
