"""load_image and to_square on real files of every mode we promise to read."""

from __future__ import annotations

import os
import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

from internet_cli.errors import InputError
from internet_cli.video import image as image_mod
from internet_cli.video.image import load_image, pad_soft, to_square
from tests.media import make_image, png_header_only

RED = np.array([255, 0, 0])
WHITE = np.array([255, 255, 255])


def close(px, rgb, tol=0):
    return np.abs(np.asarray(px, int) - np.asarray(rgb, int)).max() <= tol


# -- colours per mode --------------------------------------------------------------------------
@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".webp"])
def test_rgb_lossless_formats_exact(tmp_path, ext):
    arr = load_image(make_image(tmp_path / f"a{ext}", "RGB", size=(40, 30)))
    assert arr.shape == (30, 40, 3) and arr.dtype == np.uint8 and arr.flags.c_contiguous
    assert close(arr[10, 20], (0, 200, 0))
    assert close(arr[0, 0], RED)  # marker: also proves RGB, not BGR


def test_jpeg_rgb_approximately(tmp_path):
    arr = load_image(make_image(tmp_path / "a.jpg", "RGB", size=(40, 30)))
    assert arr.shape == (30, 40, 3)
    assert close(arr[20, 30], (0, 200, 0), tol=12)


@pytest.mark.parametrize("ext", [".png", ".webp", ".tif"])
def test_rgba_composited_on_white(tmp_path, ext):
    arr = load_image(make_image(tmp_path / f"a{ext}", "RGBA", size=(40, 32)))
    assert arr.shape == (32, 40, 3)
    assert close(arr[16, 20], RED)  # opaque red square in the middle
    assert close(arr[0, 0], WHITE) and close(arr[-1, -1], WHITE)  # transparent -> white


def test_half_transparent_blends_with_white(tmp_path):
    p = tmp_path / "half.png"
    Image.new("RGBA", (20, 20), (0, 0, 0, 128)).save(p)
    assert close(load_image(p)[5, 5], (127, 127, 127), tol=1)


def test_la_composited_on_white(tmp_path):
    arr = load_image(make_image(tmp_path / "a.png", "LA", size=(40, 32)))
    assert close(arr[16, 20], (0, 0, 0)) and close(arr[0, 0], WHITE)


def test_pa_composited_on_white():
    # No common file format stores PA (Pillow cannot save it), so check the conversion itself.
    pa = Image.new("P", (20, 20), 1)
    pa.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pa = pa.convert("PA")
    pa.putpixel((0, 0), (1, 0))  # transparent corner
    assert pa.mode == "PA"
    arr = image_mod._to_rgb("mem.png", pa)
    assert close(arr[5, 5], RED) and close(arr[0, 0], WHITE)


def test_palette_without_transparency(tmp_path):
    arr = load_image(make_image(tmp_path / "p.png", "P", size=(40, 32)))
    assert close(arr[16, 20], RED) and close(arr[0, 0], (0, 0, 255))


@pytest.mark.parametrize("ext", [".png", ".gif"])
def test_palette_with_transparency(tmp_path, ext):
    arr = load_image(make_image(tmp_path / f"p{ext}", "P", size=(40, 32), color="transparent"))
    assert close(arr[16, 20], RED)
    assert close(arr[0, 0], WHITE)  # palette index 0 is transparent -> white, not blue


def test_grey_l(tmp_path):
    arr = load_image(make_image(tmp_path / "g.png", "L", size=(40, 32)))
    assert close(arr[16, 20], (100, 100, 100)) and close(arr[0, 0], WHITE)


def test_bilevel(tmp_path):
    arr = load_image(make_image(tmp_path / "b.png", "1", size=(40, 32)))
    assert close(arr[16, 20], WHITE) and close(arr[0, 0], (0, 0, 0))


@pytest.mark.parametrize("ext", [".png", ".tif"])
@pytest.mark.parametrize("value, expected", [(65535, 255), (32896, 128), (257, 1), (128, 0), (129, 1)])
def test_sixteen_bit_grey_scaled_not_clipped(tmp_path, ext, value, expected):
    arr = load_image(make_image(tmp_path / f"g16{ext}", "I;16", size=(40, 32), color=value))
    assert arr.dtype == np.uint8
    assert tuple(arr[16, 20]) == (expected,) * 3
    assert tuple(arr[0, 0]) == (0, 0, 0)


def test_sixteen_bit_rgb_png(tmp_path):
    p = tmp_path / "rgb16.png"
    bgr16 = np.zeros((20, 20, 3), np.uint16)
    bgr16[..., 2] = 65535  # red
    bgr16[..., 1] = 32896  # green at half
    assert cv2.imwrite(str(p), bgr16)
    assert close(load_image(p)[5, 5], (255, 128, 0), tol=1)


@pytest.mark.parametrize("ext, tol", [(".tif", 0), (".jpg", 16)])
def test_cmyk_red(tmp_path, ext, tol):
    arr = load_image(make_image(tmp_path / f"c{ext}", "CMYK", size=(40, 32)))
    assert arr.shape == (32, 40, 3)
    assert close(arr[16, 20], RED, tol=tol)


def test_ycbcr_tiff(tmp_path):
    p = make_image(tmp_path / "y.tif", "YCbCr", size=(40, 32))
    assert Image.open(p).tag_v2[262] == 6  # PhotometricInterpretation YCbCr (Pillow 12 opens it as RGB, 13 as YCbCr)
    arr = load_image(p)
    assert arr[16, 20, 0] > 200 and arr[16, 20, 1] < 40 and arr[16, 20, 2] < 40  # red


def test_animated_gif_first_frame(tmp_path):
    p = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (20, 20), c) for c in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100)
    assert close(load_image(p)[5, 5], RED, tol=8)


# -- EXIF orientation --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "orientation, shape, corner",
    [
        (1, (30, 40), (0, 0)),  # as stored: marker top-left
        (3, (30, 40), (-1, -1)),  # rotated 180: bottom-right
        (6, (40, 30), (0, -1)),  # rotate 90 clockwise for display: top-right
        (8, (40, 30), (-1, 0)),  # rotate 90 counter-clockwise: bottom-left
    ],
)
def test_exif_orientation(tmp_path, orientation, shape, corner):
    p = make_image(tmp_path / "e.jpg", "RGB", size=(40, 30), exif_orientation=orientation)
    arr = load_image(p)
    assert arr.shape[:2] == shape
    y, x = corner
    px = arr[1 if y == 0 else -2, 1 if x == 0 else -2]
    assert px[0] > 180 and px[1] < 90, f"marker not at {corner}: {px}"
    assert not (arr[0, 0][0] > 180 and arr[0, 0][1] < 90) or corner == (0, 0)


# -- bad input ---------------------------------------------------------------------------------
def _err(path) -> str:
    with pytest.raises(InputError) as info:
        load_image(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg or os.path.basename(str(path)) in msg
    return msg


def test_missing(tmp_path):
    assert "not found" in _err(tmp_path / "nope.png")


def test_directory(tmp_path):
    d = tmp_path / "dir.png"
    d.mkdir()
    assert "folder" in _err(d)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    assert "empty" in _err(p)


def test_text_is_not_an_image(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("hello, not a picture\n" * 20)
    assert "not an image" in _err(p)


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_truncated(tmp_path, ext):
    src = tmp_path / f"full{ext}"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(src)
    data = src.read_bytes()
    p = tmp_path / f"cut{ext}"
    p.write_bytes(data[: len(data) // 2])
    assert "truncated" in _err(p) or "corrupt" in _err(p)


def test_too_small(tmp_path):
    p = tmp_path / "tiny.png"
    Image.new("RGB", (15, 40)).save(p)
    assert "too small" in _err(p)
    ok = tmp_path / "ok.png"
    Image.new("RGB", (16, 16)).save(ok)
    assert load_image(ok).shape == (16, 16, 3)


@pytest.mark.parametrize("w, h", [(10001, 10000), (11000, 10000), (30000, 30000)])
def test_too_large_from_header_without_pil_warning(tmp_path, w, h):
    p = png_header_only(tmp_path / "huge.png", w, h)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PIL's DecompressionBombWarning must not leak
        assert "too large" in _err(p)


def test_decompression_bomb_error_is_input_error(tmp_path, monkeypatch):
    p = make_image(tmp_path / "a.png", "RGB", size=(40, 30))

    def bomb(*a, **k):
        raise Image.DecompressionBombError("boom")

    monkeypatch.setattr(image_mod.Image, "open", bomb)
    assert "too large" in _err(p)


def test_unreadable_via_access(tmp_path, monkeypatch):
    p = make_image(tmp_path / "a.png", "RGB", size=(40, 30))
    real = os.access
    monkeypatch.setattr(image_mod.os, "access", lambda q, m: False if str(q) == str(p) else real(q, m))
    assert "permission denied" in _err(p)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_chmod(tmp_path):
    p = make_image(tmp_path / "a.png", "RGB", size=(40, 30))
    p.chmod(0)
    try:
        assert "permission denied" in _err(p)
    finally:
        p.chmod(0o644)


# -- to_square ---------------------------------------------------------------------------------
def test_to_square_shapes():
    for h, w in [(30, 40), (40, 30), (33, 33), (7, 100), (600, 300)]:
        out = to_square(np.zeros((h, w, 3), np.uint8), 64)
        assert out.shape == (64, 64, 3) and out.dtype == np.uint8 and out.flags.c_contiguous


def test_to_square_pads_with_a_smooth_fill_that_starts_at_the_edge_pixels():
    img = np.zeros((100, 200, 3), np.uint8)
    img[:50] = (255, 0, 0)  # top half red
    img[50:] = (0, 0, 255)  # bottom half blue
    img[0, ::2] = (255, 255, 255)  # stripes on the top row: repeated upwards they would be streaks
    out = to_square(img, 200)  # no resize: padding only
    assert np.array_equal(out[50:150], img)  # 50 rows above, 50 below; the picture untouched
    assert np.abs(out[49].astype(int) - img[0]).max() <= 60  # next to the edge: close to the edge row
    assert np.abs(np.diff(out[:30].astype(int), axis=1)).max() <= 3  # far from it: no streaks
    assert (out[:20, :, 0] > 200).all() and (out[-20:, :, 2] > 200).all()  # the colours of each edge


def test_pad_soft_blurs_a_striped_edge_more_the_further_it_reaches():
    img = np.zeros((200, 100, 3), np.uint8)
    img[(np.arange(200) // 25) % 2 == 1] = (230, 30, 30)  # a flag's stripes, 25 px each, run into the left pad
    img[(np.arange(200) // 25) % 2 == 0] = (240, 240, 240)
    out = pad_soft(img, 0, 0, 100, 0).astype(int)
    assert np.array_equal(out[:, 100:], img)
    spread = [np.ptp(out[20:180, x, 1]) for x in (90, 75, 50, 0)]  # 10, 25, 50 and 100 px out
    assert spread[0] > 20  # next to the edge the stripes still show
    assert all(a > b for a, b in zip(spread, spread[1:]))  # and fade with distance
    assert spread[-1] <= 6  # far out: their mean colour, no streaks across the pad
    assert np.abs(out[100, 0] - img.reshape(-1, 3).mean(0)).max() <= 12


def test_to_square_odd_padding_puts_the_extra_pixel_right():
    img = np.full((40, 21, 3), 90, np.uint8)
    out = to_square(img, 40)
    # 19 columns of padding: 9 left, 10 right (extra pixel to the right)
    assert np.array_equal(out[:, 9:30], img)
    assert (np.abs(out.astype(int) - 90) <= 1).all()  # a flat picture pads flat


def test_to_square_interpolation_rule():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    padded = pad_soft(img, 10, 10, 0, 0)
    down = to_square(img, 20)
    assert np.array_equal(down, cv2.resize(padded, (20, 20), interpolation=cv2.INTER_AREA))
    up = to_square(img, 128)
    assert np.array_equal(up, cv2.resize(padded, (128, 128), interpolation=cv2.INTER_CUBIC))
    same = to_square(img, 50)
    assert np.array_equal(same, padded)


def test_to_square_noncontiguous_input():
    img = np.rot90(np.arange(30 * 20 * 3, dtype=np.uint8).reshape(30, 20, 3))
    assert to_square(img, 32).shape == (32, 32, 3)
