"""Build small, real media files for tests (PyAV, Pillow and imageio-ffmpeg's ffmpeg binary).

Frames of ``make_video`` show a recognisable pattern so that orientation and timing can be
checked from decoded pixels:

- a horizontal gradient background (dark blue on the left, brighter to the right),
- a red 8-pixel marker square in the top-left corner (orientation),
- a white square moving left to right, one step per frame (``square_x(i, W)``).
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

MARK = 8  # side of the red corner marker


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def square_side(w: int, h: int) -> int:
    return max(4, min(w, h) // 4)


def square_x(i: int, w: int, h: int, frames: int) -> int:
    """Left edge of the moving white square in frame ``i``."""
    side = square_side(w, h)
    travel = max(1, w - side - MARK - 1)
    return MARK + 1 + (i * travel) // max(1, frames - 1)


def pattern_frame(i: int, w: int, h: int, frames: int, pattern: str = "moving") -> np.ndarray:
    """The ``(h, w, 3)`` uint8 RGB test frame number ``i``."""
    img = np.zeros((h, w, 3), np.uint8)
    if pattern == "noise":  # hard to compress: makes real-sized packets
        rng = np.random.default_rng(i)
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    img[..., 2] = 120
    img[..., 1] = np.linspace(0, 120, w, dtype=np.uint8)[None, :]
    img[:MARK, :MARK] = (255, 0, 0)
    if pattern == "moving":
        side = square_side(w, h)
        x = square_x(i, w, h, frames)
        y = (h - side) // 2
        img[y:y + side, x:x + side] = 255
    return img


def make_video(
    path: str | Path,
    frames: int = 20,
    fps: float | Fraction = 25,
    size: tuple[int, int] = (64, 48),
    audio: bool = False,
    codec: str = "libx264",
    rotation: int = 0,
    pattern: str = "moving",
    pix_fmt: str | None = None,
    faststart: bool = False,
    audio_seconds: float | None = None,
    times: list[float] | None = None,
    gop: int | None = None,
) -> Path:
    """Write a real video file; ``size`` is ``(W, H)`` as stored (before any rotation).

    ``audio``: add a 440 Hz sine AAC track (``audio_seconds`` long, default: the video's
    length). ``rotation``: display-matrix rotation in degrees (counter-clockwise), applied with
    ``ffmpeg -display_rotation R -c copy``. ``times``: explicit frame times in seconds
    (variable frame rate). ``faststart``: moov atom first (a truncated copy stays readable).
    ``gop``: key frame interval (to exercise seeking).
    """
    path = Path(path)
    w, h = size
    rate = Fraction(fps).limit_denominator(100000)
    if pix_fmt is None:
        pix_fmt = "yuv420p" if (w % 2 == 0 and h % 2 == 0) else "yuv444p"
    target = path if rotation == 0 else path.with_name(path.stem + ".norot" + path.suffix)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(target), "w", options=options) as c:
        vs = c.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        if codec in ("libx264", "libx265"):
            vs.codec_context.options = {"preset": "ultrafast"}
        if gop is not None:
            vs.codec_context.gop_size = gop
        tb = Fraction(1, 90000) if times is not None else None
        if tb is not None:
            vs.time_base = tb
            vs.codec_context.time_base = tb
        a_stream = None
        if audio:
            a_stream = c.add_stream("aac", rate=44100, layout="mono")
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(pattern_frame(i, w, h, frames, pattern), format="rgb24")
            if times is not None:
                f.pts = round(times[i] / tb)
                f.time_base = tb
            for p in vs.encode(f):
                c.mux(p)
        for p in vs.encode(None):
            c.mux(p)
        if a_stream is not None:
            seconds = audio_seconds if audio_seconds is not None else frames / float(rate)
            n = int(round(seconds * 44100))
            t = np.arange(n) / 44100.0
            x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for s in range(0, n, 4096):
                chunk = x[None, s:s + 4096]
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
                af.sample_rate = 44100
                af.pts = s
                af.time_base = Fraction(1, 44100)
                for p in a_stream.encode(af):
                    c.mux(p)
            for p in a_stream.encode(None):
                c.mux(p)
    if rotation:
        subprocess.run(
            [ffmpeg_exe(), "-y", "-v", "error", "-display_rotation", str(rotation),
             "-i", str(target), "-c", "copy", str(path)],
            check=True, capture_output=True,
        )
        target.unlink()
    return path


def make_audio_only(path: str | Path, seconds: float = 1.0) -> Path:
    """A sine-tone audio file without any video stream (AAC in .m4a/.mp4, or per extension)."""
    path = Path(path)
    fmt = "mp4" if path.suffix in (".mp4", ".m4a", ".mov") else None
    subprocess.run(
        [ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i",
         f"sine=frequency=440:duration={seconds}", "-c:a", "aac",
         *(["-f", fmt] if fmt else []), str(path)],
        check=True, capture_output=True,
    )
    return path


def make_unknown_codec_avi(path: str | Path) -> Path:
    """An AVI whose video FourCC no FFmpeg decoder knows ("ZQZQ"): a stream we cannot decode."""
    path = Path(path)
    tmp = path.with_name(path.stem + ".src.avi")
    subprocess.run(
        [ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=10:duration=0.5",
         "-c:v", "mpeg4", str(tmp)],
        check=True, capture_output=True,
    )
    data = bytearray(tmp.read_bytes())
    tmp.unlink()
    strh = data.find(b"strh")
    assert strh > 0 and data[strh + 8:strh + 12] == b"vids"
    data[strh + 12:strh + 16] = b"ZQZQ"  # fccHandler
    strf = data.find(b"strf", strh)
    data[strf + 8 + 16:strf + 8 + 20] = b"ZQZQ"  # BITMAPINFOHEADER.biCompression
    path.write_bytes(bytes(data))
    return path


def make_image(
    path: str | Path,
    mode: str = "RGB",
    size: tuple[int, int] = (40, 30),
    exif_orientation: int | None = None,
    color=None,
    fmt: str | None = None,
) -> Path:
    """Write an image in Pillow ``mode``; ``size`` is ``(W, H)`` as stored.

    Default content: ``color`` (per mode) everywhere, with a marker in the top-left 4x4 corner
    (the mode's "other" value), so that EXIF rotations can be checked. Transparent modes get a
    transparent background and an opaque ``color`` square in the middle.
    """
    path = Path(path)
    w, h = size
    if mode in ("RGBA", "LA"):
        im = Image.new(mode, size, (0, 0, 0, 0) if mode == "RGBA" else (0, 0))
        fill = color if color is not None else ((255, 0, 0, 255) if mode == "RGBA" else (0, 255))
        for y in range(h // 4, 3 * h // 4):
            for x in range(w // 4, 3 * w // 4):
                im.putpixel((x, y), fill)
    elif mode == "P":
        im = Image.new("P", size, 0)
        im.putpalette([0, 0, 255, 255, 0, 0] + [0] * 762)  # 0 blue, 1 red
        for y in range(h // 4, 3 * h // 4):
            for x in range(w // 4, 3 * w // 4):
                im.putpixel((x, y), 1)
        if color == "transparent":
            im.info["transparency"] = 0
    elif mode == "I;16":
        value = 65535 if color is None else color
        arr = np.full((h, w), value, np.uint16)
        arr[:4, :4] = 0
        im = Image.fromarray(arr)  # uint16 -> mode I;16
    else:
        default = {"RGB": (0, 200, 0), "L": 100, "CMYK": (0, 255, 255, 0), "YCbCr": (81, 90, 240),
                   "1": 1}.get(mode, 0)
        im = Image.new(mode, size, color if color is not None else default)
        marker = {"RGB": (255, 0, 0), "L": 255, "CMYK": (255, 0, 0, 0), "YCbCr": (41, 240, 110),
                  "1": 0}.get(mode, 255)
        for y in range(4):
            for x in range(4):
                im.putpixel((x, y), marker)
    save_kwargs = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        save_kwargs["exif"] = exif.tobytes()
    if fmt is None:
        fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP",
               ".tif": "TIFF", ".tiff": "TIFF", ".gif": "GIF"}[path.suffix.lower()]
    if fmt == "WEBP":
        save_kwargs["lossless"] = True
    im.save(path, format=fmt, **save_kwargs)
    return path


def png_header_only(path: str | Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width x height`` but holds no pixel data (cheap "huge" image)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return Path(path)


def decode_all(path: str | Path):
    """(frames as RGB arrays as stored, stream) of a whole file, for checks."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
