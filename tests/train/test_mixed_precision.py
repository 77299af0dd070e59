"""A bf16 autocast training step agrees with float32: on the CPU always, on a CUDA GPU where there is one."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from siamkit.data.batches import PairBatch
from siamkit.models import InfoNCELoss, OpenClipBackbone, TorchvisionBackbone
from siamkit.train.module import SiameseModule
from tests.conftest import TINY_VIT

#: each backbone and its input size: CPUs without AVX512-BF16 emulate it, so the ResNet takes 16 px
#: (a bf16 step 4.4 s on such a CPU, 11 s at 32 px); the ViT's size is fixed
BACKBONES = {
    "open_clip": (lambda: OpenClipBackbone(TINY_VIT), 32),
    "resnet": (lambda: TorchvisionBackbone("resnet18", image_size=16, small_input=True), 16),
}
BATCH = 8
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU")])]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", BACKBONES)
def test_a_bf16_mixed_step_agrees_with_float32(name, device):
    torch.manual_seed(0)
    backbone, size = BACKBONES[name]
    model = SiameseModule(backbone(), InfoNCELoss()).to(device).train()
    images = torch.randint(0, 256, (2, BATCH, 3, size, size), dtype=torch.uint8, device=device)
    ids = torch.arange(BATCH, device=device)
    batch = PairBatch(images[0], images[1], torch.ones(BATCH, device=device), ids, ids)

    def step(mixed: bool) -> tuple[torch.Tensor, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=mixed):
            loss = model.compute_loss(batch)
        loss.backward()
        return loss.detach(), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    loss_32, gradient_32 = step(mixed=False)
    loss_bf16, gradient_bf16 = step(mixed=True)
    assert loss_bf16.dtype == torch.float32
    assert torch.isclose(loss_bf16, loss_32, rtol=1e-2), (loss_bf16.item(), loss_32.item())
    # bf16 keeps 8 bits of mantissa: at random initialisation the ResNet's BatchNorm gradients,
    # sums of many small products, agree with float32 only to a cosine of about 0.95 (at 32 px on a
    # CPU and on an H100; 0.954 at 16 px on a CPU). Gradients that do not follow float32 land far below.
    agreement = F.cosine_similarity(gradient_bf16, gradient_32, dim=0).item()
    assert agreement > 0.9, agreement
