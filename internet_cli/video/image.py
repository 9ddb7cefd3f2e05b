"""Load a source photo as upright 8-bit RGB, and the one framing rule (``to_square``).

``load_image`` accepts what a user is likely to hand over (JPEG, PNG, WebP, BMP, TIFF, GIF: the
first frame of an animation) in any Pillow mode, honours the EXIF orientation tag, and turns
every problem with the file into one :class:`~internet_cli.errors.InputError` line that names it.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from internet_cli.errors import InputError

MIN_SIDE = 16
"""Smallest accepted width and height in pixels."""

MAX_PIXELS = 100_000_000
"""Largest accepted image (width * height), checked from the header before decoding."""

# Project-wide setting: Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that. We
# check the size ourselves from the header (see ``load_image``) with a clear message, so let
# Pillow's own limit sit at ours: anything it would still complain about is over our limit too.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def check_input_file(path: str | os.PathLike, what: str = "file") -> Path:
    """Check that ``path`` names an existing, readable regular file; return it as a Path.

    Raises InputError (one line naming the file) when it is missing, a directory, not a
    regular file, or cannot be opened for reading. ``what`` words the message ("image",
    "video").
    """
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(f"{p}: {what} not found") from None
    except NotADirectoryError:
        raise InputError(f"{p}: {what} not found (a parent is not a folder)") from None
    except PermissionError:
        raise InputError(f"{p}: permission denied (cannot read this {what})") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot access this {what} ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{p}: is a folder, not a {what} file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{p}: is not a regular file")
    if not os.access(p, os.R_OK):
        raise InputError(f"{p}: permission denied (cannot read this {what})")
    try:
        with open(p, "rb"):
            pass
    except PermissionError:
        raise InputError(f"{p}: permission denied (cannot read this {what})") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read this {what} ({exc.strerror or exc})") from None
    if st.st_size == 0:
        raise InputError(f"{p}: the file is empty, not a {what}")
    return p


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Load an image file as an upright ``(H, W, 3)`` ``uint8`` RGB array.

    - The EXIF orientation tag is applied (a phone photo comes out the way it is shown).
    - Transparent images (RGBA, LA, PA, palette or grey with a transparent colour) are
      composited onto white.
    - 16-bit grey (``I;16*``, and ``I``, taken as 16-bit data) is scaled with
      ``round(v / 257)``, so 65535 -> 255; CMYK, YCbCr, bilevel and others convert to RGB.
    - Multi-frame files (GIF, animated WebP, TIFF pages) give their first frame.

    Raises InputError, one line naming the file, for a missing/unreadable file, a folder,
    content that is not a (complete) image, an image under 16x16 ("too small") or over
    100 megapixels ("too large"; read from the header before any pixel is decoded).
    """
    p = check_input_file(path, "image")
    try:
        with warnings.catch_warnings():
            # Pillow's own size warning becomes an error we word ourselves.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                _check_size(p, im.size)
                if _pillow_ycbcr_tiff_bug(im):
                    return _opencv_rgb(p)
                im.load()
                arr = _to_rgb(p, _exif_upright(im))
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{p}: image too large (over {MAX_PIXELS // 1_000_000} megapixels)") from None
    except Image.UnidentifiedImageError:
        raise InputError(f"{p}: not an image (unknown or unsupported format)") from None
    except MemoryError:
        raise InputError(f"{p}: image too large to decode in memory") from None
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise InputError(f"{p}: permission denied (cannot read this image)") from None
        raise InputError(f"{p}: corrupt or truncated image ({_short(exc)})") from None
    except (SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error) as exc:
        raise InputError(f"{p}: corrupt or unsupported image ({_short(exc)})") from None
    return arr


def _pillow_ycbcr_tiff_bug(im: Image.Image) -> bool:
    """An uncompressed YCbCr TIFF under Pillow 12, which cannot decode it (Pillow issue 9770, fixed
    in 13). Gradio 6, the ``[web]`` extra, holds Pillow below 13."""
    import PIL

    return (int(PIL.__version__.split(".")[0]) < 13 and im.format == "TIFF"
            and im.tag_v2.get(262) == 6 and im.tag_v2.get(259, 1) == 1)


def _opencv_rgb(p: Path) -> np.ndarray:
    """The file decoded by OpenCV (its libtiff) as RGB: the fallback of :func:`_pillow_ycbcr_tiff_bug`."""
    import cv2

    img = cv2.imdecode(np.fromfile(p, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"{p}: corrupt or unsupported image (OpenCV cannot decode it either)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _check_size(p: Path, size: tuple[int, int]) -> None:
    w, h = size
    if w * h > MAX_PIXELS:
        raise InputError(
            f"{p}: image too large ({w}x{h}, {w * h / 1e6:.0f} megapixels; "
            f"the limit is {MAX_PIXELS // 1_000_000})"
        )
    if w < MIN_SIDE or h < MIN_SIDE:
        raise InputError(f"{p}: image too small ({w}x{h}; need at least {MIN_SIDE}x{MIN_SIDE})")


def _exif_upright(im: Image.Image) -> Image.Image:
    try:
        out = ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not reject a good photo
        return im
    return im if out is None else out


def _to_rgb(p: Path, im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES:
        a = np.asarray(im)
        if a.dtype.kind == "f":  # defensive: never seen for these modes
            a = np.clip(a, 0, 65535)
        a = np.clip(a.astype(np.int64), 0, 65535)
        g = ((a * 2 + 257) // 514).astype(np.uint8)  # round(v / 257)
        return np.ascontiguousarray(np.repeat(g[..., None], 3, axis=2))
    if mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0)
        if a.size and float(a.max()) <= 1.0:
            a = a * 255.0
        g = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(g[..., None], 3, axis=2))
    if mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(white, rgba).convert("RGB")
    elif mode == "RGB":
        rgb = im
    else:
        try:
            rgb = im.convert("RGB")
        except (ValueError, OSError):
            raise InputError(f"{p}: unsupported image mode {mode}") from None
    arr = np.asarray(rgb, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"{p}: unsupported image mode {mode}")
    return np.ascontiguousarray(arr)


PAD_RAMP = 0.04
"""The padding fades from the edge pixels to the smooth fill over this share of the image's side."""
PAD_FILL_SIDE = 128
"""The smooth fill is made at most this many pixels on its longer side, then enlarged."""


def _push_pull(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``image`` ``(H, W, C)`` float32 with its unknown pixels (``known`` ``(H, W)`` 0) filled by
    push-pull: the known pixels' means on a pyramid of halvings, then, back up, each level keeps
    what it knows and takes the rest from the level below. A pixel at distance ``d`` from the
    known ones gets their mean over about ``d`` pixels round it, so the fill blurs more the further
    it reaches (the model's background plate, generation/generator.py, is the same scheme with
    2x2 means in place of the Gaussian)."""
    import cv2

    levels = []
    colour, weight = image * known[..., None], known.astype(np.float32)
    while max(colour.shape[:2]) > 1:
        levels.append((colour, weight))
        h, w = colour.shape[:2]  # pyrDown: a Gaussian before each halving, so a known pixel
        colour = cv2.pyrDown(colour).reshape((h + 1) // 2, (w + 1) // 2, -1)  # reaches across
        weight = cv2.pyrDown(weight)  # the halving's cell borders (box means would not)
    fill = colour / np.maximum(weight, 1e-6)[..., None]
    for colour, weight in reversed(levels):
        h, w = colour.shape[:2]
        fill = cv2.resize(fill, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, -1)
        keep = np.clip(2.0 * weight, 0.0, 1.0)[..., None]  # a pixel half known is taken as it is
        fill = keep * colour / np.maximum(weight, 1e-6)[..., None] + (1.0 - keep) * fill
    return fill


def pad_soft(img: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """Pad ``img`` (``(H, W[, C])`` uint8) with a soft fill: no streaks, no copies of the person.

    Repeating the edge pixels (``BORDER_REPLICATE``) draws long streaks beside a person near the
    edge; mirroring draws a second person, whom the pose detector and the person mask then see.
    Here the pad starts with the edge pixels and fades, over :data:`PAD_RAMP` of the side, into a
    push-pull fill (:func:`_push_pull`): the picture's colours near the edge, ever more blurred
    further out, so that a striped edge (a flag, a fence) fades into its mean colour.
    """
    import cv2

    pads = [max(0, int(v)) for v in (top, bottom, left, right)]
    if not any(pads):
        return img
    a = np.ascontiguousarray(img)
    h, w = a.shape[:2]
    padded = cv2.copyMakeBorder(a, *pads, cv2.BORDER_REPLICATE).astype(np.float32)
    H, W = padded.shape[:2]
    t, _, l, _ = pads
    known = np.zeros((H, W), np.float32)
    known[t:t + h, l:l + w] = 1.0
    f = min(1.0, PAD_FILL_SIDE / max(H, W))
    small = (max(1, round(W * f)), max(1, round(H * f)))
    fill = _push_pull(cv2.resize(padded, small, interpolation=cv2.INTER_AREA).reshape(small[1], small[0], -1),
                      cv2.resize(known, small, interpolation=cv2.INTER_AREA))
    fill = cv2.resize(fill, (W, H), interpolation=cv2.INTER_LINEAR).reshape(padded.shape)
    ys, xs = np.arange(H), np.arange(W)
    dy = np.maximum(np.maximum(t - ys, ys - (t + h - 1)), 0)
    dx = np.maximum(np.maximum(l - xs, xs - (l + w - 1)), 0)
    ramp = max(2.0, PAD_RAMP * max(h, w))
    weight = np.clip(np.maximum(dy[:, None], dx[None, :]) / ramp, 0.0, 1.0).astype(np.float32)
    if padded.ndim == 3:
        weight = weight[..., None]
    out = padded + weight * (fill - padded)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def to_square(img: np.ndarray, size: int) -> np.ndarray:
    """Frame an image as a ``size x size`` square: the one framing rule used everywhere.

    The rule (source photo, driving frames and training data all go through it):

    1. Pad the short side symmetrically to make a square with :func:`pad_soft` (the edge
       pixels fading into a blurred fill). With an odd difference the extra pixel goes to the
       right (or bottom). Nothing is cropped, so the whole person stays in the frame.
    2. Resize the square to ``size x size``: ``cv2.INTER_AREA`` when shrinking,
       ``cv2.INTER_CUBIC`` when enlarging (clipped to ``[0, 255]``), none when equal.

    ``img`` is ``(H, W, 3)`` (or ``(H, W)``) ``uint8``; the result has the same channels and is
    ``uint8`` and C-contiguous.
    """
    import cv2

    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    a = np.asarray(img)
    if a.ndim not in (2, 3) or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"expected an (H, W, C) image, got shape {a.shape}")
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    a = np.ascontiguousarray(a)
    h, w = a.shape[:2]
    side = max(h, w)
    if h != w:
        top = (side - h) // 2
        left = (side - w) // 2
        a = pad_soft(a, top, side - h - top, left, side - w - left)
    if side != size:
        interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        out = cv2.resize(a, (size, size), interpolation=interp)
        if out.ndim == 2 and a.ndim == 3:  # cv2 drops a single channel axis
            out = out[..., None]
        a = out
    return np.ascontiguousarray(np.clip(a, 0, 255).astype(np.uint8, copy=False))
