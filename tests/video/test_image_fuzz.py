"""Fuzzing the source loader: whatever the bytes, ``load_image`` returns an RGB array or raises InputError.

Inputs are small: random bytes, and real small images in every format we accept with their bytes
cut, flipped or overwritten, and PNG headers with random sizes, colour types and bit depths
(with correct CRCs, so the decoder really gets to them).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from internet_cli.errors import InputError
from internet_cli.video.image import load_image

FORMATS = ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"]
MODES = ["RGB", "RGBA", "L", "P", "I;16", "CMYK", "1", "LA"]


def _seed_image(fmt: str, mode: str, w: int, h: int) -> bytes:
    rng = np.random.default_rng(w * 31 + h)
    base = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    if mode == "I;16":
        im = Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
    else:
        im = base.convert(mode)
    buf = io.BytesIO()
    try:
        im.save(buf, format=fmt)
    except (OSError, ValueError, KeyError):
        buf = io.BytesIO()
        base.save(buf, format=fmt)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@st.composite
def png_headers(draw) -> bytes:
    """A PNG with a random (CRC-valid) IHDR and a short random or real zlib stream."""
    w = draw(st.integers(0, 3000))
    h = draw(st.integers(0, 3000))
    depth = draw(st.sampled_from([1, 2, 4, 8, 16, 0, 3, 255]))
    colour = draw(st.sampled_from([0, 2, 3, 4, 6, 1, 7]))
    interlace = draw(st.integers(0, 2))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, interlace)
    payload = draw(st.binary(max_size=64))
    idat = zlib.compress(payload) if draw(st.booleans()) else payload
    parts = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", ihdr)]
    if colour == 3 and draw(st.booleans()):
        parts.append(_chunk(b"PLTE", draw(st.binary(max_size=24))))
    parts += [_chunk(b"IDAT", idat), _chunk(b"IEND", b"")]
    return b"".join(parts)


@st.composite
def mutated_images(draw) -> bytes:
    data = bytearray(_seed_image(draw(st.sampled_from(FORMATS)), draw(st.sampled_from(MODES)),
                                 draw(st.integers(16, 24)), draw(st.integers(16, 24))))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "cut", "overwrite"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[i:]
        else:  # header fields live in the first bytes: overwrite there most of the time
            j = draw(st.integers(0, min(len(data) - 1, 64)))
            blob = draw(st.binary(min_size=1, max_size=4))
            data[j:j + len(blob)] = blob
    return bytes(data)


inputs = st.one_of(st.binary(max_size=512), mutated_images(), png_headers())


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "photo.img"


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")
@settings(max_examples=int(os.environ.get("INTERNET_FUZZ_EXAMPLES", "200")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=inputs)
def test_load_image_returns_rgb_or_input_error(fuzz_file, data):
    fuzz_file.write_bytes(data)
    try:
        arr = load_image(fuzz_file)
    except InputError as exc:
        assert "\n" not in str(exc) and str(fuzz_file) in str(exc)
        return
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
    assert arr.shape[0] >= 16 and arr.shape[1] >= 16 and arr.flags.c_contiguous
