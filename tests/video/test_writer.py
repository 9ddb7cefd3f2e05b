"""check_output_path and VideoWriter: real MP4 files, audio, atomicity, failures."""

from __future__ import annotations

import errno
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from internet_cli.errors import OutputError
from internet_cli.video import writer as writer_mod
from internet_cli.video.reader import iter_frames, probe_video
from internet_cli.video.writer import FORMATS, VideoWriter, check_output_path, video_format
from tests.media import make_audio_only, make_video

S = 64  # frame size for most tests (the default 512 is checked once)


def frames(n: int, size: int = S, noise: bool = False):
    rng = np.random.default_rng(0)
    for i in range(n):
        if noise:
            yield rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        else:
            img = np.zeros((size, size, 3), np.uint8)
            img[..., 0] = 200
            img[:, : (i * 4) % size + 4] = (0, 0, 220)
            yield img


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def stream_info(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        out = {
            "codec": v.codec_context.name, "pix_fmt": v.codec_context.pix_fmt,
            "size": (v.codec_context.width, v.codec_context.height), "rate": v.average_rate,
            "audio": [a.codec_context.name for a in c.streams.audio],
        }
        out["frames"] = sum(1 for _ in c.decode(video=0))
    return out


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(video=0) if p.size]


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        return float(a.duration * a.time_base)


def decoded_audio_seconds(path: Path) -> float:
    """Seconds of decoded sound (Matroska stores no per-stream duration)."""
    with av.open(str(path)) as c:
        frames = list(c.decode(audio=0))
    return sum(f.samples for f in frames) / frames[0].sample_rate


# -- check_output_path -------------------------------------------------------------------------
def test_check_output_path_ok(tmp_path):
    out = check_output_path(tmp_path / "out.mp4", overwrite=False)
    assert out == (tmp_path / "out.mp4").resolve()
    assert listing(tmp_path) == []  # the probe file is gone


def test_exists_without_overwrite(tmp_path):
    p = tmp_path / "out.mp4"
    p.write_bytes(b"old")
    with pytest.raises(OutputError, match="exists; use --overwrite") as info:
        check_output_path(p, overwrite=False)
    assert str(p) in str(info.value)
    assert check_output_path(p, overwrite=True) == p.resolve()


def test_missing_parent(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        check_output_path(tmp_path / "nope" / "out.mp4", overwrite=False)


def test_parent_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        check_output_path(f / "out.mp4", overwrite=True)


def test_path_is_a_folder(tmp_path):
    (tmp_path / "out.mp4").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        check_output_path(tmp_path / "out.mp4", overwrite=True)


def test_not_writable_by_access(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_mod.os, "access", lambda p, m: False)
    with pytest.raises(OutputError, match="not writable"):
        check_output_path(tmp_path / "out.mp4", overwrite=False)


def test_not_writable_by_probe_file(tmp_path, monkeypatch):
    # What a read-only mount (or a locked folder for root) does: access() says yes, creating fails.
    def refuse(folder, prefix):
        raise PermissionError(errno.EROFS, "Read-only file system", str(folder))

    monkeypatch.setattr(writer_mod, "_mkstemp", refuse)
    with pytest.raises(OutputError, match="not writable"):
        check_output_path(tmp_path / "out.mp4", overwrite=False)
    with pytest.raises(OutputError, match="not writable"):
        VideoWriter(tmp_path / "out.mp4", fps=25, size=S)
    assert listing(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0o555 folder anyway")
def test_read_only_folder_chmod(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="not writable"):
            check_output_path(ro / "out.mp4", overwrite=False)
    finally:
        ro.chmod(0o755)


# -- writing -----------------------------------------------------------------------------------
def test_default_512_h264_yuv420p(tmp_path):
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps=25) as w:
        for img in frames(6, 512):
            w.write(img)
    assert w.frames_written == 6 and not w.has_audio
    info = stream_info(out)
    assert info == {"codec": "h264", "pix_fmt": "yuv420p", "size": (512, 512), "rate": 25,
                    "audio": [], "frames": 6}
    probe = probe_video(out)
    assert probe.fps == 25 and probe.frame_count == 6
    assert listing(tmp_path) == ["out.mp4"]
    assert (out.stat().st_mode & 0o777) == (0o666 & ~_umask())


def _umask() -> int:
    m = os.umask(0o022)
    os.umask(m)
    return m


def test_colours_and_rgb_order(tmp_path):
    out = tmp_path / "out.mp4"
    img = np.zeros((S, S, 3), np.uint8)
    img[:, : S // 2] = (230, 20, 20)  # red left half
    img[:, S // 2:] = (20, 20, 230)  # blue right half
    with VideoWriter(out, fps=10, size=S, crf=10) as w:
        w.write(img)
        w.write(img)
    got = next(iter_frames(out)).image.astype(int)
    assert np.abs(got[8:-8, 4:S // 2 - 4] - (230, 20, 20)).max() < 12
    assert np.abs(got[8:-8, S // 2 + 4:-4] - (20, 20, 230)).max() < 12


def test_fractional_fps(tmp_path):
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps=Fraction(30000, 1001), size=S) as w:
        for img in frames(12):
            w.write(img)
    info = probe_video(out)
    assert info.fps == Fraction(30000, 1001) and info.frame_count == 12
    times = [f.time for f in iter_frames(out)]
    assert times == pytest.approx([i * 1001 / 30000 for i in range(12)], abs=1e-4)


def test_given_times_are_kept_and_shifted_to_zero(tmp_path):
    out = tmp_path / "out.mp4"
    times = [2.0, 2.04, 2.1, 2.3, 2.31, 2.6]  # variable frame rate, not starting at 0
    with VideoWriter(out, fps=25, size=S) as w:
        for t, img in zip(times, frames(len(times))):
            w.write(img, t)
    got = [f.time for f in iter_frames(out)]
    assert got == pytest.approx([t - 2.0 for t in times], abs=1e-4)


def test_wrong_frame_shape(tmp_path):
    with VideoWriter(tmp_path / "out.mp4", fps=25, size=S) as w:
        w.write(next(frames(1)))
        with pytest.raises(ValueError):
            w.write(np.zeros((S, S + 2, 3), np.uint8))
        with pytest.raises(ValueError):
            w.write(np.zeros((S, S, 3), np.float32))
    assert w.frames_written == 1


def test_overwrite_replaces(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old")
    with pytest.raises(OutputError, match="exists; use --overwrite"):
        VideoWriter(out, fps=25, size=S)
    with VideoWriter(out, fps=25, size=S, overwrite=True) as w:
        for img in frames(3):
            w.write(img)
    assert stream_info(out)["frames"] == 3
    assert listing(tmp_path) == ["out.mp4"]


# -- the output name says what it holds ---------------------------------------------------------
@pytest.mark.parametrize("name, demuxer, brand, video, audio", [
    ("out.mp4", "mov,mp4,m4a,3gp,3g2,mj2", "isom", "h264", "aac"),
    ("out.MOV", "mov,mp4,m4a,3gp,3g2,mj2", "qt  ", "h264", "aac"),
    ("out.mkv", "matroska,webm", None, "h264", "aac"),
    ("out.webm", "matroska,webm", None, "vp9", "opus"),
])
def test_extension_picks_container_and_codecs(tmp_path, name, demuxer, brand, video, audio):
    """Each supported name decodes, with PyAV, into the container and codecs it promises; the
    driving's AAC audio is carried over (re-encoded to Opus for WebM) and stays in length."""
    src = make_video(tmp_path / "in.mp4", frames=25, size=(S, S), audio=True)
    out = tmp_path / name
    w = _transcode(src, out)
    assert w.has_audio and w.audio_mode == ("encode" if audio == "opus" else "copy")
    with av.open(str(out)) as c:
        assert c.format.name == demuxer and c.metadata.get("major_brand") == brand
    info = stream_info(out)
    assert info["codec"] == video and info["pix_fmt"] == "yuv420p" and info["frames"] == 25
    assert info["audio"] == [audio]
    assert decoded_audio_seconds(out) == pytest.approx(1.0, abs=0.03)
    assert listing(tmp_path) == ["in.mp4", name]


@pytest.mark.parametrize("name", ["out.txt", "out.avi", "out", "out.mp4.part"])
def test_other_extensions_and_none_are_refused(tmp_path, name):
    with pytest.raises(OutputError) as info:
        VideoWriter(tmp_path / name, fps=25, size=S)
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / name) in message
    assert all(ext in message for ext in FORMATS) and ("no extension" in message) == (name == "out")
    assert listing(tmp_path) == []


def test_video_format_ignores_case_and_knows_the_four():
    assert sorted(FORMATS) == [".mkv", ".mov", ".mp4", ".webm"]
    assert video_format("A.WebM").video_codec == "libvpx-vp9" and video_format("b.Mkv").container == "matroska"


# -- audio -------------------------------------------------------------------------------------
def _transcode(src: Path, out: Path, **kw) -> VideoWriter:
    start, end = kw.get("audio_start"), kw.get("audio_end")
    with VideoWriter(out, fps=probe_video(src).fps, size=S, audio_from=src, **kw) as w:
        for f in iter_frames(src, start=start or None, end=end):
            w.write(f.image[:S, :S], f.time)
    return w


def test_audio_copied_when_present(tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=25, size=(S, S), audio=True)
    w = _transcode(src, tmp_path / "out.mp4")
    assert w.has_audio and w.audio_mode == "copy"
    assert stream_info(tmp_path / "out.mp4")["audio"] == ["aac"]
    assert audio_seconds(tmp_path / "out.mp4") == pytest.approx(1.0, abs=0.03)
    assert listing(tmp_path) == ["in.mp4", "out.mp4"]


def test_no_audio_when_source_has_none(tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=10, size=(S, S))
    w = _transcode(src, tmp_path / "out.mp4")
    assert not w.has_audio and stream_info(tmp_path / "out.mp4")["audio"] == []


def test_trimmed_audio_reencoded_and_video_bit_identical(tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=50, size=(S, S), audio=True)  # 2 s
    w = _transcode(src, tmp_path / "cut.mp4", audio_start=0.6, audio_end=1.4)
    assert w.has_audio and w.audio_mode == "encode" and w.frames_written == 20
    assert audio_seconds(tmp_path / "cut.mp4") == pytest.approx(0.8, abs=0.03)
    assert probe_video(tmp_path / "cut.mp4").frame_count == 20
    # the same frames without audio: the video packets are the same bytes
    with VideoWriter(tmp_path / "mute.mp4", fps=25, size=S) as m:
        for f in iter_frames(src, start=0.6, end=1.4):
            m.write(f.image, f.time)
    assert video_packets(tmp_path / "cut.mp4") == video_packets(tmp_path / "mute.mp4")


def test_audio_longer_than_video_is_cut(tmp_path):
    tone = make_audio_only(tmp_path / "tone.m4a", seconds=3.0)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps=25, size=S, audio_from=tone) as w:
        for img in frames(25):  # 1 s of video
            w.write(img)
    assert w.has_audio and w.audio_mode == "encode"
    assert audio_seconds(out) == pytest.approx(1.0, abs=0.03)


def test_unreadable_audio_source_keeps_the_video(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    out = tmp_path / "out.mp4"
    with pytest.warns(RuntimeWarning, match="without sound"):
        with VideoWriter(out, fps=25, size=S, audio_from=bad) as w:
            for img in frames(3):
                w.write(img)
    assert stream_info(out)["frames"] == 3 and stream_info(out)["audio"] == []
    assert listing(tmp_path) == ["bad.mp4", "out.mp4"]


# -- failures leave nothing behind -------------------------------------------------------------
@pytest.mark.parametrize("exc", [RuntimeError("model blew up"), KeyboardInterrupt()])
def test_exception_inside_with_leaves_nothing(tmp_path, exc):
    src = make_video(tmp_path / "in.mp4", frames=5, size=(S, S), audio=True)
    out = tmp_path / "out.mp4"
    with pytest.raises(type(exc)):
        with VideoWriter(out, fps=25, size=S, audio_from=src) as w:
            for img in frames(3):
                w.write(img)
            assert any(".out.mp4.partial-" in n for n in listing(tmp_path))
            raise exc
    assert listing(tmp_path) == ["in.mp4"]


def test_exception_keeps_the_old_file(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with VideoWriter(out, fps=25, size=S, overwrite=True) as w:
            w.write(next(frames(1)))
            raise RuntimeError
    assert out.read_bytes() == b"old" and listing(tmp_path) == ["out.mp4"]


def test_nothing_written(tmp_path):
    with pytest.raises(OutputError, match="no video frames"):
        with VideoWriter(tmp_path / "out.mp4", fps=25, size=S):
            pass
    assert listing(tmp_path) == []


class _FullDisk:
    """A file that takes ``budget`` bytes and then fails like a full disk."""

    def __init__(self, path: str, budget: int):
        self.f = open(path, "wb")
        self.budget = budget

    def write(self, data):
        if len(data) > self.budget:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.budget -= len(data)
        return self.f.write(data)

    def seek(self, *a):
        return self.f.seek(*a)

    def tell(self):
        return self.f.tell()

    def flush(self):
        return self.f.flush()

    def close(self):
        self.f.close()


def test_disk_full_while_encoding(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_mod, "_open_binary", lambda p: _FullDisk(p, 50_000))
    out = tmp_path / "out.mp4"
    with pytest.raises(OutputError, match="disk full while writing") as info:
        with VideoWriter(out, fps=25, size=128) as w:
            for img in frames(60, 128, noise=True):
                w.write(img)
    assert str(out) in str(info.value)
    assert listing(tmp_path) == []


def test_disk_full_while_adding_audio(tmp_path, monkeypatch):
    src = make_video(tmp_path / "in.mp4", frames=10, size=(S, S), audio=True)
    opened = []

    def second_file_fails(p):
        opened.append(p)
        return _FullDisk(p, 10**9 if len(opened) == 1 else 2_000)

    monkeypatch.setattr(writer_mod, "_open_binary", second_file_fails)
    with pytest.raises(OutputError, match="disk full while writing"):
        _transcode(src, tmp_path / "out.mp4")
    assert len(opened) >= 2  # the failure came from the remux with audio
    assert listing(tmp_path) == ["in.mp4"]
