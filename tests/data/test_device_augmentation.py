"""Augmentation on the device means what the same config means in the loader: transform by
transform, with their randomness fixed, the two paths give the same images (within rounding, or
the stated difference), and each image of a batch draws its own parameters."""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import pytest
import torch
from skimage import data

from siamkit.data import device_own_transforms
from siamkit.data.augmentations import ColorTwist, OverlayText, PictureInPicture, color_twist_matrix
from siamkit.data.device_augmentation import DeviceAugmentation
from siamkit.data.transforms import COPY_DETECTION_AUGMENT, build_augmentations
from siamkit.errors import ConfigError

PHOTO = cv2.resize(data.astronaut(), (96, 96), interpolation=cv2.INTER_AREA)


def on_device(transform: A.BasicTransform, image: np.ndarray = PHOTO, copies: int = 1) -> np.ndarray:
    batch = torch.from_numpy(image).permute(2, 0, 1)[None].repeat(copies, 1, 1, 1)
    out = DeviceAugmentation([transform], image.shape[0])(batch)
    return out.permute(0, 2, 3, 1).numpy()


def in_loader(transform: A.BasicTransform, image: np.ndarray = PHOTO) -> np.ndarray:
    return A.Compose([transform])(image=image)["image"]


def mean_difference(a: np.ndarray, b: np.ndarray, border: int = 0) -> float:
    inner = (slice(border, a.shape[0] - border), slice(border, a.shape[1] - border))
    return float(np.abs(a[inner].astype(float) - b[inner].astype(float)).mean())


def test_the_colour_twist_is_the_loader_paths_matrix():
    rng = np.random.default_rng(0)
    factors = [rng.uniform(0.6, 1.4, 4) for _ in range(3)] + [rng.uniform(-0.1, 0.1, 4)]
    photos = (data.astronaut(), data.coffee(), data.chelsea(), data.rocket())
    images = np.stack([cv2.resize(image, (32, 32)) for image in photos])
    batch = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    twisted = device_own_transforms.ColorTwist(ColorTwist()).twist(
        batch, *(torch.tensor(f, dtype=torch.float32) for f in factors))
    for k, image in enumerate(images):
        expected = cv2.transform(image, color_twist_matrix(image, *(f[k] for f in factors)))
        got = (twisted[k].permute(1, 2, 0).numpy() * 255).round()
        assert np.abs(got - expected).max() <= 1, k


@pytest.mark.parametrize("transform, tolerance", [
    (A.HorizontalFlip(p=1), 0.0),
    (A.VerticalFlip(p=1), 0.0),
    (A.ToGray(p=1), 1.0),
    (A.RandomResizedCrop(size=(96, 96), scale=(1, 1), ratio=(1, 1), p=1), 1.5),
])
def test_fixed_draws_give_the_loader_paths_image(transform, tolerance):
    assert mean_difference(on_device(transform)[0], in_loader(transform)) <= tolerance


def test_a_quarter_turn_and_a_fixed_blur_agree_inside_the_border():
    turn = A.Rotate(limit=(30, 30), p=1)
    assert mean_difference(on_device(turn)[0], in_loader(turn), border=16) <= 2.5
    blur = A.GaussianBlur(blur_limit=(7, 7), sigma_limit=(1.5, 1.5), p=1)
    assert mean_difference(on_device(blur)[0], in_loader(blur), border=4) <= 1.0


@pytest.mark.parametrize("quality", [5, 20, 60])
def test_jpeg_at_a_fixed_quality_gives_libjpegs_image(quality):
    """albumentations hands OpenCV the RGB image as if it were BGR, so its chroma is computed from
    swapped channels; the device path encodes the colours as they are, as a camera or a website
    would, and loses as much."""
    jpeg = A.ImageCompression(quality_range=(quality, quality), p=1)
    bgr = cv2.cvtColor(PHOTO, cv2.COLOR_RGB2BGR)
    _, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    libjpeg = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    device, loader = on_device(jpeg)[0], in_loader(jpeg)
    assert mean_difference(device, libjpeg) <= 1.5
    loss = mean_difference(loader, PHOTO)
    assert abs(mean_difference(device, PHOTO) - loss) <= 0.1 * loss


def test_a_random_crop_keeps_the_share_of_the_image_it_draws():
    ramp = np.repeat(np.repeat(np.linspace(0, 255, 96)[None, :, None], 96, 0), 3, 2).astype(np.uint8)
    crops = on_device(A.RandomResizedCrop(size=(96, 96), scale=(0.25, 0.25), ratio=(1, 1), p=1), ramp, 16)
    spans = [int(crop[..., 0].max()) - int(crop[..., 0].min()) for crop in crops]  # half the width: 128
    assert all(120 <= span <= 136 for span in spans) and len({crop[0, 0, 0] for crop in crops}) > 4


def test_each_image_draws_its_own_parameters_and_p_is_kept():
    outputs = on_device(A.Rotate(limit=40, p=1), copies=8)
    assert len({out.tobytes() for out in outputs}) == 8
    flips = on_device(A.HorizontalFlip(p=0.5), copies=64)
    flipped = sum(np.array_equal(out, PHOTO[:, ::-1]) for out in flips)
    assert 16 <= flipped <= 48 and flipped + sum(np.array_equal(out, PHOTO) for out in flips) == 64


def test_quarter_turns_are_numpys_and_each_image_draws_its_own():
    square = PHOTO[:, :, :]
    turns = {np.rot90(square, k).tobytes(): k for k in range(4)}
    outputs = on_device(A.RandomRotate90(p=1), square, copies=32)
    drawn = [turns.get(out.tobytes()) for out in outputs]
    assert None not in drawn and set(drawn) == {0, 1, 2, 3}


def test_picture_in_picture_leaves_the_same_share_of_canvas_on_both_paths():
    picture = PictureInPicture(scale=(0.5, 0.5), p=1)

    def canvas_share(image: np.ndarray) -> float:
        return float((np.abs(image.astype(int) - image[0, 0].astype(int)).max(-1) <= 2).mean())

    assert abs(canvas_share(in_loader(picture)) - 0.75) <= 0.03
    assert all(abs(canvas_share(out) - 0.75) <= 0.05 for out in on_device(picture, copies=8))


def test_overlays_cover_part_of_the_image_and_p_0_leaves_it():
    torch.manual_seed(0)
    covered = on_device(OverlayText(p=1), copies=16)
    changed = [(out != PHOTO).any(-1).mean() for out in covered]
    assert all(0 < share < 0.9 for share in changed) and len({out.tobytes() for out in covered}) > 8
    assert np.array_equal(on_device(OverlayText(p=0))[0], PHOTO)


def test_the_copy_detection_set_runs_on_the_device_at_the_backbone_size():
    augment = DeviceAugmentation(build_augmentations(COPY_DETECTION_AUGMENT, 32), 32)
    out = augment(torch.randint(0, 256, (6, 3, 55, 55), dtype=torch.uint8))
    assert out.shape == (6, 3, 32, 32) and out.dtype == torch.uint8


def test_nothing_reads_a_value_back_from_the_device():
    """On a GPU, reading a value (``.item()``, a boolean mask, ``nonzero``) makes the host wait for
    every step queued before it; these operations are recorded here, on the CPU, as they run."""
    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten
    reads = {aten._local_scalar_dense.default, aten.nonzero.default, aten.masked_select.default,
             aten.is_nonzero.default, aten.equal.default}

    class HostReads(TorchDispatchMode):
        found: list = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            masks = func is aten.index.Tensor and any(i is not None and i.dtype == torch.bool
                                                      for i in args[1])
            if func in reads or masks:
                self.found.append(str(func))
            return func(*args, **(kwargs or {}))

    entries = [*COPY_DETECTION_AUGMENT, {"RandomRotate90": {}}, {"PictureInPicture": {}}]
    augment = DeviceAugmentation(build_augmentations(entries, 32), 32)
    images = torch.randint(0, 256, (8, 3, 55, 55), dtype=torch.uint8)
    augment(images)  # draws the overlay layers, once
    with HostReads() as mode:
        augment(images)
    assert mode.found == []


@pytest.mark.parametrize("entry, message", [
    ({"Affine": {"rotate": [-10, 10]}},
     "augmentation Affine has no device version; data.augment_on: device takes ColorTwist, GaussianBlur"),
    ({"ColorJitter": {}}, "ColorJitter has no device version (ColorTwist is its device-ready kin)"),
    ({"Rotate": {"limit": 10, "border_mode": cv2.BORDER_REFLECT_101}},
     "Rotate: border_mode 4 has no device version"),
    ({"ToGray": {"method": "average"}}, "ToGray: method 'average' has no device version (it follows "
                                        "'weighted_average' only)"),
])
def test_a_transform_without_a_device_version_is_refused_in_one_line(entry, message):
    with pytest.raises(ConfigError, match=None) as refused:
        DeviceAugmentation(build_augmentations([entry], 32), 32)
    assert message in str(refused.value) and "\n" not in str(refused.value)
