"""probe_video and iter_frames on real files (small, made on the fly)."""

from __future__ import annotations

import dataclasses
import inspect
import os
import shutil
import subprocess
import warnings
from fractions import Fraction

import numpy as np
import pytest

from internet_cli.errors import InputError
from internet_cli.video import image as image_mod
from internet_cli.video.reader import Frame, VideoInfo, iter_frames, probe_video
from tests.media import (
    MARK,
    ffmpeg_exe,
    make_audio_only,
    make_image,
    make_unknown_codec_avi,
    make_video,
    pattern_frame,
)


def red_corner(img: np.ndarray) -> str:
    """Which corner holds the red marker of tests.media's pattern."""
    h, w = img.shape[:2]
    m = MARK // 2
    corners = {"tl": img[m, m], "tr": img[m, w - 1 - m], "bl": img[h - 1 - m, m],
               "br": img[h - 1 - m, w - 1 - m]}
    reds = [k for k, px in corners.items() if px[0] > 180 and px[1] < 80 and px[2] < 80]
    assert len(reds) == 1, corners
    return reds[0]


def bright_x(img: np.ndarray) -> float:
    """Mean column of the white moving square (all channels high)."""
    ys, xs = np.nonzero(img.min(axis=2) > 200)
    return float(xs.mean())


# -- probe -------------------------------------------------------------------------------------
def test_probe_basic(tmp_path):
    p = make_video(tmp_path / "v.mp4", frames=20, fps=25, size=(64, 48), audio=True)
    info = probe_video(p)
    assert isinstance(info, VideoInfo)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == 25 and isinstance(info.fps, Fraction)
    assert info.frame_count == 20
    assert info.duration == pytest.approx(0.8, abs=0.05)
    assert info.rotation == 0 and info.has_audio and info.codec == "h264"
    assert info.path == p
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.width = 1  # type: ignore[misc]


def test_probe_ntsc_rate_and_no_audio(tmp_path):
    p = make_video(tmp_path / "v.mp4", frames=6, fps=Fraction(30000, 1001), size=(32, 32))
    info = probe_video(p)
    assert info.fps == Fraction(30000, 1001)
    assert not info.has_audio and info.frame_count == 6


def test_probe_does_not_decode_everything(tmp_path, monkeypatch):
    p = make_video(tmp_path / "v.mp4", frames=30, size=(32, 32))
    from internet_cli.video import reader

    calls = []
    real = reader._upright
    monkeypatch.setattr(reader, "_upright", lambda f: calls.append(1) or real(f))
    probe_video(p)
    assert calls == []  # no frame converted to RGB; only the first one decoded


@pytest.mark.parametrize("rotation, corner", [(90, "bl"), (-90, "tr"), (180, "br")])
def test_rotation_gives_upright_frames(tmp_path, rotation, corner):
    p = make_video(tmp_path / "r.mp4", frames=5, size=(64, 48), rotation=rotation)
    info = probe_video(p)
    assert info.rotation % 360 == rotation % 360
    upright = (64, 48) if rotation == 180 else (48, 64)
    assert (info.width, info.height) == upright
    frames = list(iter_frames(p))
    assert len(frames) == 5
    img = frames[0].image
    assert img.shape == (upright[1], upright[0], 3) and img.flags.c_contiguous
    # stored frame has its marker top-left; a display rotation of +90 (counter-clockwise)
    # puts it bottom-left, -90 top-right, 180 bottom-right
    assert red_corner(img) == corner


def test_rotation_matches_ffmpeg(tmp_path):
    p = make_video(tmp_path / "r.mp4", frames=3, size=(64, 48), rotation=-90, codec="libx264",
                   pix_fmt="yuv444p")
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(p), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    ours = next(iter_frames(p)).image
    ref = np.frombuffer(out, np.uint8).reshape(ours.shape)
    assert np.abs(ref.astype(int) - ours.astype(int)).max() <= 2


# -- iter_frames -------------------------------------------------------------------------------
def test_iter_frames_all(tmp_path):
    p = make_video(tmp_path / "v.mp4", frames=20, fps=25, size=(64, 48))
    it = iter_frames(p)
    assert inspect.isgenerator(it)
    frames = list(it)
    assert len(frames) == 20 and all(isinstance(f, Frame) for f in frames)
    assert [round(f.time, 4) for f in frames] == [round(i / 25, 4) for i in range(20)]
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    assert red_corner(frames[0].image) == "tl"
    xs = [bright_x(f.image) for f in frames]
    assert all(b > a for a, b in zip(xs, xs[1:]))  # the square moves left to right
    ref = pattern_frame(0, 64, 48, 20)
    assert np.abs(frames[0].image.astype(int) - ref).mean() < 6


def test_start_end_max_frames(tmp_path, monkeypatch):
    from internet_cli.video import reader

    p = make_video(tmp_path / "v.mp4", frames=40, fps=25, size=(32, 32), gop=8)
    everything = list(iter_frames(p))
    by_time = {round(f.time, 4): f.image for f in everything}
    decoded = []
    real_decode = reader._decode

    def counting(*a, **k):
        for item in real_decode(*a, **k):
            decoded.append(item[0])
            yield item

    monkeypatch.setattr(reader, "_decode", counting)
    window = list(iter_frames(p, start=0.5, end=0.8))
    assert round(decoded[0], 2) == 0.32  # the seek landed on the key frame before 0.5
    assert [round(f.time, 2) for f in window] == [0.52, 0.56, 0.6, 0.64, 0.68, 0.72, 0.76]
    for f in window:  # after the seek the pixels are the same as decoding from the top
        assert np.array_equal(f.image, by_time[round(f.time, 4)])
    assert [round(f.time, 2) for f in iter_frames(p, start=0.48, max_frames=3)] == [0.48, 0.52, 0.56]
    assert len(list(iter_frames(p, end=0.2))) == 5
    assert len(list(iter_frames(p, max_frames=1))) == 1
    assert [round(f.time, 2) for f in iter_frames(p, start=1.0)] == [round(1 + i / 25, 2) for i in range(15)]


def test_start_past_the_end(tmp_path):
    p = make_video(tmp_path / "v.mp4", frames=10, size=(32, 32))
    with pytest.raises(InputError, match="no video frames between"):
        list(iter_frames(p, start=5.0))


def test_bad_arguments(tmp_path):
    p = make_video(tmp_path / "v.mp4", frames=3, size=(32, 32))
    for kw in ({"start": -1}, {"start": 1.0, "end": 0.5}, {"max_frames": 0}):
        with pytest.raises(ValueError):
            iter_frames(p, **kw)  # raised at the call, before any iteration
    with pytest.raises(InputError, match="not found"):
        iter_frames(tmp_path / "missing.mp4")


def test_variable_frame_rate_times(tmp_path):
    times = [0.0, 0.04, 0.1, 0.25, 0.26, 0.6]
    p = make_video(tmp_path / "vfr.mp4", frames=len(times), size=(32, 32), times=times)
    assert [round(f.time, 4) for f in iter_frames(p)] == times


@pytest.mark.parametrize("size, codec, ext", [((63, 47), "libx264", ".mp4"), ((50, 34), "mpeg4", ".avi"),
                                              ((33, 35), "ffv1", ".mkv")])
def test_odd_sizes_and_other_codecs(tmp_path, size, codec, ext):
    pix = {"mpeg4": "yuv420p", "ffv1": "bgr0"}.get(codec)
    p = make_video(tmp_path / f"v{ext}", frames=4, size=size, codec=codec, pix_fmt=pix)
    info = probe_video(p)
    assert (info.width, info.height) == size
    frames = list(iter_frames(p))
    assert len(frames) == 4 and frames[0].image.shape == (size[1], size[0], 3)
    assert red_corner(frames[0].image) == "tl"


def test_gif_is_a_video(tmp_path):
    from PIL import Image

    p = tmp_path / "anim.gif"
    ims = [Image.new("RGB", (32, 32), (40 * i, 0, 0)) for i in range(5)]
    ims[0].save(p, save_all=True, append_images=ims[1:], duration=100)
    assert probe_video(p).frame_count == 5
    assert len(list(iter_frames(p))) == 5


def test_truncated_file_yields_leading_frames(tmp_path):
    full = make_video(tmp_path / "full.mp4", frames=30, size=(64, 64), pattern="noise", faststart=True)
    reference = [f.image for f in iter_frames(full)]
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    probe_video(cut)  # header and first frame are intact
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = list(iter_frames(cut))
    assert 5 < len(frames) < 30
    for got, ref in zip(frames, reference):
        assert np.array_equal(got.image, ref)
    assert any(("breaks after" in str(w.message) or "ends after" in str(w.message))
               and "cut.mp4" in str(w.message) for w in caught)


def test_truncated_mid_packet_warns_with_decoder_error(tmp_path):
    full = make_video(tmp_path / "full.mp4", frames=30, size=(64, 64), pattern="noise", faststart=True)
    data = bytearray(full.read_bytes())
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(bytes(data[: len(data) // 2]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        n = sum(1 for _ in iter_frames(cut))
    assert 0 < n < 30
    assert any("cut.mp4" in str(w.message) for w in caught)


def test_complete_file_does_not_warn(tmp_path):
    p = make_video(tmp_path / "v.mp4", frames=12, size=(32, 32), audio=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(iter_frames(p))) == 12
        assert len(list(iter_frames(p, start=0.2))) == 7


def test_truncated_to_nothing(tmp_path):
    full = make_video(tmp_path / "full.mp4", frames=10, size=(64, 64), pattern="noise", faststart=True)
    data = full.read_bytes()
    moov_end = data.find(b"mdat") + 8
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: moov_end + 50])
    with pytest.raises(InputError, match="cut.mp4"):
        probe_video(cut)
    with pytest.raises(InputError, match="cut.mp4"):
        list(iter_frames(cut))


def test_truncated_without_index(tmp_path):
    full = make_video(tmp_path / "full.mp4", frames=10, size=(32, 32))  # moov at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(InputError, match="cut.mp4: not a readable video"):
        probe_video(cut)


# -- bad input ---------------------------------------------------------------------------------
def _both_raise(path, match: str) -> None:
    for call in (lambda: probe_video(path), lambda: list(iter_frames(path))):
        with pytest.raises(InputError) as info:
            call()
        msg = str(info.value)
        assert "\n" not in msg and str(path) in msg
        assert match in msg, msg


def test_missing(tmp_path):
    _both_raise(tmp_path / "nope.mp4", "not found")


def test_directory(tmp_path):
    d = tmp_path / "clip.mp4"
    d.mkdir()
    _both_raise(d, "folder")


def test_empty(tmp_path):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    _both_raise(p, "empty")


def test_text_with_video_extension(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video\n" * 40)
    _both_raise(p, "not a readable video")


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_image_with_video_extension(tmp_path, ext):
    img = make_image(tmp_path / f"pic{ext}", "RGB", size=(40, 30))
    p = tmp_path / "pic.mp4"
    shutil.copy(img, p)
    _both_raise(p, "still image")


@pytest.mark.parametrize("name", ["tone.m4a", "tone.mp4", "tone.wav"])
def test_audio_only(tmp_path, name):
    _both_raise(make_audio_only(tmp_path / name, seconds=0.3), "has no video stream")


def test_audio_with_cover_art_is_audio_only(tmp_path):
    img = make_image(tmp_path / "cover.jpg", "RGB", size=(40, 30))
    p = tmp_path / "song.mp3"
    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i", "sine=duration=0.3", "-i", str(img),
                    "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "copy",
                    "-disposition:v", "attached_pic", str(p)], check=True, capture_output=True)
    _both_raise(p, "has no video stream")


def test_unsupported_codec(tmp_path):
    _both_raise(make_unknown_codec_avi(tmp_path / "odd.avi"), "unsupported codec")


def test_unreadable_via_access(tmp_path, monkeypatch):
    p = make_video(tmp_path / "v.mp4", frames=3, size=(32, 32))
    real = os.access
    monkeypatch.setattr(image_mod.os, "access", lambda q, m: False if str(q) == str(p) else real(q, m))
    _both_raise(p, "permission denied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_chmod(tmp_path):
    p = make_video(tmp_path / "v.mp4", frames=3, size=(32, 32))
    p.chmod(0)
    try:
        _both_raise(p, "permission denied")
    finally:
        p.chmod(0o644)
