import io
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siamkit.data.images import load_image
from siamkit.errors import ImageLoadError

RED = (200, 30, 30)


def _solid(mode_colour=RED, size=(20, 10)) -> Image.Image:
    return Image.new("RGB", size, mode_colour)


@pytest.mark.parametrize("fmt,suffix", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("BMP", "bmp"),
                                         ("TIFF", "tif"), ("GIF", "gif")])
def test_every_format_decodes_to_rgb_uint8(tmp_path, fmt, suffix):
    path = tmp_path / f"x.{suffix}"
    _solid().save(path, format=fmt)
    image = load_image(path)
    assert image.shape == (10, 20, 3) and image.dtype == np.uint8
    assert np.abs(image.astype(int) - RED).max() <= 12  # lossy formats stay close


def test_gif_gives_first_frame(tmp_path):
    frames = [_solid((255, 0, 0)), _solid((0, 0, 255))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    assert tuple(load_image(tmp_path / "a.gif")[0, 0]) == (255, 0, 0)


def test_exif_orientation_is_applied(tmp_path):
    image = _solid(size=(20, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    image.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (20, 10, 3)
    opened = Image.open(tmp_path / "r.jpg")
    assert load_image(opened).shape == (20, 10, 3)
    assert opened.size == (20, 10) and opened.getexif()[0x0112] == 6, "a caller's image is left as it was"


def test_alpha_is_composited_on_white(tmp_path):
    image = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    image.putpixel((0, 0), (0, 0, 0, 255))
    image.save(tmp_path / "a.png")
    decoded = load_image(tmp_path / "a.png")
    assert tuple(decoded[1, 1]) == (255, 255, 255) and tuple(decoded[0, 0]) == (0, 0, 0)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "1", "LA"])
def test_other_modes_become_rgb(tmp_path, mode):
    suffix = "jpg" if mode == "CMYK" else "png"
    _solid().convert(mode).save(tmp_path / f"m.{suffix}")
    image = load_image(tmp_path / f"m.{suffix}")
    assert image.shape == (10, 20, 3) and image.dtype == np.uint8


def test_sixteen_bit_is_scaled_to_eight(tmp_path):
    array = np.full((4, 4), 65535, np.uint16)
    array[0, 0] = 0
    Image.fromarray(array).save(tmp_path / "deep.png")
    decoded = load_image(tmp_path / "deep.png")
    assert decoded[1, 1, 0] == 255 and decoded[0, 0, 0] == 0


def test_inputs_other_than_paths(tmp_path):
    buffer = io.BytesIO()
    _solid().save(buffer, format="PNG")
    assert load_image(buffer.getvalue()).shape == (10, 20, 3)
    assert load_image(_solid()).shape == (10, 20, 3)
    assert load_image(np.zeros((5, 6), np.float32)).shape == (5, 6, 3)


def test_torch_tensors_are_channels_first_in_any_dtype_and_on_any_device():
    import torch

    image = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    tensor = torch.from_numpy(image).permute(2, 0, 1)
    np.testing.assert_array_equal(load_image(tensor), image)
    np.testing.assert_array_equal(load_image(tensor.float() / 255), image)
    np.testing.assert_array_equal(load_image(tensor.to(torch.bfloat16) / 255), load_image(
        (tensor.to(torch.bfloat16) / 255).float().permute(1, 2, 0).numpy()))
    np.testing.assert_array_equal(load_image(tensor[:1]), np.repeat(image[:, :, :1], 3, axis=2))
    np.testing.assert_array_equal(load_image(tensor[0]), np.repeat(image[:, :, :1], 3, axis=2))


@pytest.mark.parametrize("source, reason", [
    (np.zeros((0, 4, 3), np.uint8), "array of shape (0, 4, 3) has no pixels"),
    (Image.new("RGB", (0, 5)), "0x5 pixels: the image has none"),
    (np.full((4, 4, 3), np.nan), "array holds NaN or infinite values"),  # they became black
    (np.ones((4, 4, 3), complex), "array of dtype complex128 is not an image"),
    (np.array([[1, "a"]], dtype=object), "array of dtype object is not an image"),
    (np.zeros((3, 8, 8), np.uint8),
     "(channels first? a torch tensor is read as (C, H, W), an array as (H, W, C))"),
    (np.full((4, 4, 3), -0.5, np.float32), "holds negative values, as a normalised input would"),  # black
])
def test_inputs_that_are_no_picture_raise_image_load_error(source, reason):
    with pytest.raises(ImageLoadError, match=re.escape(reason)):
        load_image(source)


@pytest.mark.parametrize("shape, reason", [
    ((2, 3, 8, 8),
     "tensor of shape (2, 3, 8, 8) is not an image ((C, H, W) with 1, 3 or 4 channels, or (H, W))"),
    ((8, 8, 3), "tensor of shape (8, 8, 3) is not an image"),  # channels last: an array's layout
])
def test_tensors_that_are_no_picture_raise_image_load_error(shape, reason):
    import torch

    with pytest.raises(ImageLoadError, match=re.escape(f"<tensor {shape} torch.uint8>: {reason}")):
        load_image(torch.zeros(shape, dtype=torch.uint8))
    with pytest.raises(TypeError, match="a PIL image, an array or a torch tensor, not list"):
        load_image([[0, 1]])


def _truncated(tmp_path: Path) -> Path:
    _solid(size=(200, 200)).save(tmp_path / "t.jpg", quality=95)
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    return tmp_path / "t.jpg"


def _write(name: str, data: bytes):
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name
    return make


@pytest.mark.parametrize("make,reason", [
    (lambda p: p / "missing.png", "file not found"),
    (_write("zero.png", b""), "empty file"),
    (_write("notes.png", b"hello"), "not an image"),
    (_write("bad.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 50), "not an image"),
    (_truncated, "truncated"),
    (lambda p: (os.mkfifo(p / "pipe.jpg"), p / "pipe.jpg")[1], "is a named pipe, not an image file"),
    (lambda p: (os.symlink(p / "loop.jpg", p / "loop.jpg"), p / "loop.jpg")[1], "link"),
    (lambda p: (p / "folder.jpg").mkdir() or p / "folder.jpg", "is a folder"),
])
def test_bad_files_raise_image_load_error_naming_file_and_reason(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(ImageLoadError) as caught:
        load_image(path)
    assert str(path) in str(caught.value) and reason in str(caught.value)


def test_decompression_bomb_is_refused(tmp_path):
    Image.new("L", (3000, 3000)).save(tmp_path / "big.png")
    with pytest.raises(ImageLoadError, match="decompression bomb"):
        load_image(tmp_path / "big.png", max_pixels=1_000_000)


def test_an_image_pillow_refuses_to_open_gets_the_same_message_with_the_setting_that_opens_it(tmp_path,
                                                                                               monkeypatch):
    """Twice Pillow's limit, Pillow refuses as it opens; its message had been passed on within ours."""
    Image.new("L", (3000, 3000)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    with pytest.raises(ImageLoadError) as caught:
        load_image(tmp_path / "big.png", max_pixels=1_500_000)
    assert str(caught.value).endswith("9,000,000 pixels exceeds the limit of 1,500,000 (a decompression "
                                      "bomb? For photographs this large: SIAMKIT_MAX_PIXELS=9000000)")


def test_the_pixel_limit_is_siamkits_alone_in_one_message(tmp_path, monkeypatch):
    """Pillow's own warning (at 89 M pixels) had been printed beside siamkit's error."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)  # Pillow warns from here, errs from twice it
    Image.new("L", (1200, 1200)).save(tmp_path / "big.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageLoadError, match=r"1200x1200 pixels exceeds the limit of 1,000,000 \(a d"):
            load_image(tmp_path / "big.png", max_pixels=1_000_000)
        assert load_image(tmp_path / "big.png", max_pixels=2_000_000).shape == (1200, 1200, 3)


def test_photographs_larger_than_the_limit_load_once_the_variable_allows_them(tmp_path, monkeypatch):
    """A 108-megapixel phone photograph had no way in."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400_000)  # Pillow refuses above 800,000 as it opens
    Image.new("L", (1200, 1200)).save(tmp_path / "big.png")
    monkeypatch.setenv("SIAMKIT_MAX_PIXELS", "1000000")
    with pytest.raises(ImageLoadError, match="For photographs this large: SIAMKIT_MAX_PIXELS=1440000"):
        load_image(tmp_path / "big.png")
    monkeypatch.setenv("SIAMKIT_MAX_PIXELS", "1440000")
    assert load_image(tmp_path / "big.png").shape == (1200, 1200, 3)


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1e8"])
def test_a_bad_pixel_limit_is_refused_before_any_command_runs(value, monkeypatch, capsys):
    from siamkit.cli.program import main

    monkeypatch.setenv("SIAMKIT_MAX_PIXELS", value)
    assert main(["score", "a.png", "b.png"]) == 2
    said = capsys.readouterr().err
    assert said.startswith(f"error: SIAMKIT_MAX_PIXELS={value!r}: give the most pixels")
    assert said.count("\n") == 1


def test_draft_decodes_jpeg_smaller_but_not_below_request(tmp_path):
    _solid(size=(800, 600)).save(tmp_path / "big.jpg")
    image = load_image(tmp_path / "big.jpg", draft_size=100)
    assert 100 <= min(image.shape[:2]) < 600


def test_decoded_images_are_writable(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "a.png")
    assert load_image(tmp_path / "a.png").flags.writeable


def test_a_path_written_with_backslashes_names_the_file_it_meant(tmp_path, monkeypatch):
    (tmp_path / "photos").mkdir()
    _solid().save(tmp_path / "photos" / "a.png")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ImageLoadError, match=r"file not found \(photos/a.png is: write / between folders"):
        load_image("photos\\a.png")  # a table written on Windows
    with pytest.raises(ImageLoadError, match=r"photos\\b.png: file not found$"):
        load_image("photos\\b.png")
