"""JPEG's loss on a batch on any device: what libjpeg's baseline encoder throws away (YCbCr,
4:2:0 chroma, 8x8 DCT, the standard quantisation tables scaled by quality; ITU-T T.81 Annex K,
IJG's quality scaling), without the entropy coding, which loses nothing. Plain tensor operations
with one quality per image and nothing read back to the host, for ``augment_on: device``."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

_LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
         14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
         49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
_CHROMA = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
           47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32
_TO_YCBCR = [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]


def jpeg_quantized(images: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 255] and (B,) qualities 1..100 -> the decoded JPEG, (B, 3, H, W)."""
    n, _, h, w = images.shape
    constants = _constants(images.device)
    padded = F.pad(images, (0, -w % 16, 0, -h % 16), mode="replicate")
    ycbcr = torch.einsum("ij,bjhw->bihw", constants["to_ycbcr"], padded)
    luma, chroma = ycbcr[:, :1], F.avg_pool2d(ycbcr[:, 1:], 2)  # chroma centred on 0, not 128
    basis = constants["basis"]
    luma = _quantized(luma - 128, _tables(constants["luma"], quality), basis) + 128
    chroma = _quantized(chroma, _tables(constants["chroma"], quality), basis)
    chroma = F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False)
    rgb = torch.einsum("ij,bjhw->bihw", constants["from_ycbcr"], torch.cat([luma, chroma], 1))
    return rgb[..., :h, :w].clamp(0, 255)


@functools.lru_cache(maxsize=8)
def _constants(device: torch.device) -> dict[str, torch.Tensor]:
    """The colour matrices, tables and DCT basis, copied to ``device`` once (a copy to a GPU from
    ordinary memory waits for it)."""
    to_ycbcr = torch.tensor(_TO_YCBCR, dtype=torch.float64)
    k, i = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    basis = torch.cos((2 * i + 1) * k * math.pi / 16) * math.sqrt(2 / 8)  # the orthonormal DCT-II
    basis[0] /= math.sqrt(2)
    constants = {"to_ycbcr": to_ycbcr, "from_ycbcr": torch.linalg.inv(to_ycbcr), "basis": basis,
                 "luma": torch.tensor(_LUMA).reshape(1, 8, 8),
                 "chroma": torch.tensor(_CHROMA).reshape(1, 8, 8)}
    return {name: value.to(device, torch.float32) for name, value in constants.items()}


def _tables(base: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """(B, 8, 8): IJG's scaling of the standard table by quality."""
    quality = quality.clamp(1, 100)
    scale = torch.where(quality < 50, 5000 / quality, 200 - 2 * quality)
    return ((base * scale[:, None, None] + 50) / 100).floor().clamp(1, 255)


def _quantized(planes: torch.Tensor, tables: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Each 8x8 block's DCT coefficients rounded to multiples of its image's table."""
    n, c, h, w = planes.shape
    blocks = planes.reshape(n, c, h // 8, 8, w // 8, 8).transpose(3, 4)  # (n, c, bh, bw, 8, 8)
    coefficients = basis @ blocks @ basis.T
    table = tables[:, None, None, None]
    restored = basis.T @ ((coefficients / table).round() * table) @ basis
    return restored.transpose(3, 4).reshape(n, c, h, w)
