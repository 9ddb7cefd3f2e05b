"""Write the result video atomically, in the format its name asks for, with the driving video's audio.

The output's extension says what it holds (``video_format``, table ``FORMATS``): ``.mp4`` and
``.mov`` are H.264 (yuv420p) in that container, ``.mkv`` H.264 in Matroska, ``.webm`` VP9 with
Opus audio. Any other extension, or none, is refused with one line listing these.

How a file is made:

1. ``video_format`` and ``check_output_path`` run before any heavy work (a name without a
   supported extension, a missing or read-only folder, a file that exists without ``--overwrite``).
2. Frames are encoded (libx264, or libvpx-vp9 for ``.webm``) into a temporary file beside the
   output (``.NAME.mp4.partial-XXXXXXXX``, from ``tempfile.mkstemp`` in the same folder).
3. On a clean exit, when ``audio_from`` has audio, the encoded video packets are remuxed,
   untouched (bit-identical), into a second temporary file together with the audio of the
   window ``[audio_start, audio_end)``, interleaved by time. The audio is stream-copied when no
   trimming is needed and its codec fits the container, otherwise decoded, trimmed to the sample
   and re-encoded (AAC; Opus in WebM). A broken audio track never costs the video: it is dropped
   with a warning.
4. The finished file is fsync'ed and renamed onto the output path (``os.replace``: atomic).

On an exception (KeyboardInterrupt included), or when no frame was written, the temporary files
are removed and nothing appears at the output path. A full disk becomes
``OutputError("disk full while writing PATH")``.

Clock: ``write(image, time)`` times are seconds on the driving video's clock (what
``internet_cli.video.reader.iter_frames`` yields). The first frame's time becomes 0 in the
output, later frames keep their spacing (variable frame rate input gives variable frame rate
output). Frames written without a time are spaced ``1 / fps``; then driving time
``audio_start`` is output time 0. Audio is placed on the same clock as the video, so it stays
in sync, and it is cut where the video ends.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import logging
import math
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from internet_cli.atomic import publish
from internet_cli.errors import OutputError
from internet_cli.video.audio import WindowCut, audio_channels, audio_frames, pkt_time

log = logging.getLogger(__name__)

# Audio codecs FFmpeg's MP4 muxer takes as they are.
_MP4_AUDIO_COPY = frozenset({"aac", "mp3", "alac", "opus", "flac", "ac3", "eac3"})
# Sample rates the AAC and Opus encoders accept.
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
_OPUS_RATES = (48000, 24000, 16000, 12000, 8000)


@dataclass(frozen=True)
class VideoFormat:
    """What an output extension holds: the FFmpeg muxer, the video encoder, the encoder for
    re-encoded audio (with the sample rates it takes) and the audio codecs the muxer takes as they are."""

    extension: str
    container: str
    video_codec: str
    audio_codec: str
    audio_rates: tuple[int, ...]
    audio_copy: frozenset[str]


FORMATS: dict[str, VideoFormat] = {f.extension: f for f in (
    VideoFormat(".mp4", "mp4", "libx264", "aac", _AAC_RATES, _MP4_AUDIO_COPY),
    VideoFormat(".mov", "mov", "libx264", "aac", _AAC_RATES, frozenset({"aac", "mp3", "alac", "ac3", "eac3"})),
    VideoFormat(".mkv", "matroska", "libx264", "aac", _AAC_RATES, _MP4_AUDIO_COPY | {"vorbis"}),
    VideoFormat(".webm", "webm", "libvpx-vp9", "libopus", _OPUS_RATES, frozenset({"opus", "vorbis"})),
)}


def video_format(path: str | os.PathLike) -> VideoFormat:
    """The format the name ``path`` asks for: its extension (any case) must be a key of ``FORMATS``.

    Raises OutputError, one line listing the supported extensions, for any other extension and
    for a name without one (ffmpeg would pick a container from the name, or fail).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    supported = ", ".join(FORMATS)
    if suffix in FORMATS:
        return FORMATS[suffix]
    if not suffix:
        raise OutputError(f"{p}: the output name has no extension; end it with one of {supported}")
    raise OutputError(f"{p}: cannot write a {p.suffix} video; end the output name with one of {supported}")
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_WRITE_ERRNOS = _DISK_FULL | {errno.EIO, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
_AV_ERRORS: tuple[type[BaseException], ...] = (av.FFmpegError, OSError, ValueError, EOFError,
                                               RuntimeError, IndexError)
_COPY_TOLERANCE_S = 0.05  # audio may overhang the video window by this much and still be copied


def check_output_path(path: str | os.PathLike, overwrite: bool) -> Path:
    """Check that ``path`` can be written as the output file; return it resolved.

    Raises OutputError when ``path`` is a folder, its parent folder does not exist, is not a
    folder or is not writable (checked with ``os.access`` and by creating and removing a real
    probe file, which also catches read-only mounts and root on a locked folder), or when the
    file exists and ``overwrite`` is False. Cheap: call it before any heavy work.
    """
    p = Path(path).expanduser()
    resolved = p.resolve()
    if resolved.is_dir():
        raise OutputError(f"{p}: is a folder; give a file name such as {p / 'out.mp4'}")
    parent = resolved.parent
    if not parent.exists():
        raise OutputError(f"{p}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"{p}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{p}: the folder {parent} is not writable")
    if resolved.exists() or resolved.is_symlink():
        if not overwrite:
            raise OutputError(f"{p}: exists; use --overwrite")
        if not (resolved.is_file() or resolved.is_symlink()):
            raise OutputError(f"{p}: exists and is not a regular file")
    _probe_writable(p, parent)
    return resolved


def _probe_writable(p: Path, parent: Path) -> None:
    try:
        fd, probe = _mkstemp(parent, ".internet-write-probe-")
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise OutputError(f"{p}: disk full in {parent}") from None
        raise OutputError(f"{p}: the folder {parent} is not writable "
                          f"({exc.strerror or exc})") from None
    try:
        os.close(fd)
    finally:
        try:
            os.unlink(probe)
        except OSError:
            pass


def _mkstemp(folder: Path, prefix: str) -> tuple[int, str]:
    """``tempfile.mkstemp`` in ``folder`` (a seam for tests)."""
    return tempfile.mkstemp(dir=str(folder), prefix=prefix)


def _open_binary(path: str):
    """Open a temporary output file for writing (a seam for tests: inject write failures)."""
    return open(path, "wb")


def _errno_of(exc: BaseException | None) -> int | None:
    seen = 0
    while exc is not None and seen < 8:
        code = getattr(exc, "errno", None)
        if isinstance(code, int) and code in _WRITE_ERRNOS:
            return code
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _time_base_for(fps: Fraction) -> Fraction:
    """A fine time base in which one frame at ``fps`` is a whole number of ticks.

    ``1 / (fps.numerator * k)`` with ``k`` the smallest integer reaching 90 kHz: 25 fps ->
    1/90000 (3600 ticks a frame), 30000/1001 -> 1/90000 (3003), 24000/1001 -> 1/96000 (4004).
    """
    k = max(1, math.ceil(90000 / fps.numerator))
    return Fraction(1, fps.numerator * k)


class VideoWriter:
    """Encode RGB frames of ``size`` (an int for square frames, or ``(width, height)``) to a video at
    ``path`` in the format its extension names (``video_format``; a context manager).

    >>> with VideoWriter(out, fps=info.fps, audio_from=driving) as w:  # doctest: +SKIP
    ...     for frame in frames:
    ...         w.write(image, frame.time)

    ``fps`` is stored as the stream's average rate; ``crf`` and ``preset`` go to libx264 (for
    ``.webm``, ``crf`` is libvpx-vp9's constant quality on its own 0-63 scale).
    ``audio_from``: a video or audio file whose first audio track is copied for the driving
    clock window ``[audio_start, audio_end)`` (``audio_end`` None: to the end of the video).
    See the module docstring for the clock and for what happens on errors.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: Fraction | int | float,
        size: int | tuple[int, int] = 512,
        crf: int = 18,
        preset: str = "medium",
        audio_from: str | os.PathLike | None = None,
        audio_start: float = 0.0,
        audio_end: float | None = None,
        overwrite: bool = False,
    ) -> None:
        fps = Fraction(fps).limit_denominator(1_000_000) if not isinstance(fps, Fraction) else fps
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        width, height = (size, size) if isinstance(size, int) else size
        if min(width, height) < 2 or width % 2 or height % 2:
            raise ValueError(f"frame sides must be even numbers >= 2 (yuv420p), got {width}x{height}")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be in [0, 51], got {crf}")
        if audio_start < 0 or (audio_end is not None and audio_end <= audio_start):
            raise ValueError(f"bad audio window [{audio_start}, {audio_end})")
        self.format = video_format(path)
        self.path = check_output_path(path, overwrite)
        self.fps = fps
        self.width, self.height = int(width), int(height)
        self.crf = int(crf)
        self.preset = preset
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self.audio_start = float(audio_start)
        self.audio_end = None if audio_end is None else float(audio_end)
        self.frames_written = 0
        self.has_audio = False
        """True once the finished file carries an audio track."""
        self.audio_mode: str | None = None
        """How the audio got in: "copy" (stream copy) or "encode" (AAC); None without audio."""

        self._tb = _time_base_for(fps)
        self._frame_ticks = int(1 / (fps * self._tb))
        self._origin: float | None = None  # driving time of output time 0
        self._last_pts: int | None = None
        self._temps: list[str] = []
        self._file = None
        self._container = None
        self._stream = None
        self._done = False
        try:
            self._open()
        except BaseException as exc:
            self.abort()
            self._raise_as_output_error(exc)
            raise

    # -- set-up -------------------------------------------------------------------------------
    def _new_temp(self) -> str:
        fd, tmp = _mkstemp(self.path.parent, f".{self.path.name}.partial-")
        os.close(fd)
        self._temps.append(tmp)
        return tmp

    def _open(self) -> None:
        tmp = self._new_temp()
        self._file = _open_binary(tmp)
        self._container = av.open(self._file, mode="w", format=self.format.container)
        stream = self._container.add_stream(self.format.video_codec, rate=self.fps)
        stream.width = self.width
        stream.height = self.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = self._tb
        cc = stream.codec_context
        cc.time_base = self._tb
        # libx264 runs its own frame + lookahead threads over all cores (thread_count 0 = auto);
        # encode() then returns quickly and the model keeps the CPU most of the time.
        cc.thread_count = 0
        cc.thread_type = "AUTO"
        cc.options = _encoder_options(self.format.video_codec, self.crf, self.preset)
        if self.format.video_codec == "libvpx-vp9":
            cc.bit_rate = 0  # constant quality: crf alone decides
        self._stream = stream

    # -- writing ------------------------------------------------------------------------------
    def write(self, image: np.ndarray, time: float | None = None) -> None:
        """Encode one ``(height, width, 3)`` ``uint8`` RGB frame shown at driving time ``time``."""
        if self._done or self._container is None:
            raise RuntimeError("VideoWriter is closed")
        arr = np.asarray(image)
        if arr.shape != (self.height, self.width, 3) or arr.dtype != np.uint8:
            raise ValueError(f"expected a ({self.height}, {self.width}, 3) uint8 image, "
                             f"got {arr.shape} {arr.dtype}")
        if time is not None:
            if self._origin is None:
                self._origin = float(time)
            pts = round((float(time) - self._origin) / self._tb)
        else:
            if self._origin is None:
                self._origin = self.audio_start
            pts = 0 if self._last_pts is None else self._last_pts + self._frame_ticks
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # keep timestamps strictly increasing
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
        frame.pts = pts
        frame.time_base = self._tb
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except BaseException as exc:
            self.abort()
            self._raise_as_output_error(exc)
            raise
        self._last_pts = pts
        self.frames_written += 1

    # -- finishing ----------------------------------------------------------------------------
    def close(self) -> None:
        """Finish the file: flush, add audio, fsync, rename onto the output path."""
        if self._done:
            return
        try:
            if self.frames_written == 0:
                raise OutputError(f"{self.path}: no video frames were written; file not created")
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            self._container = None
            self._file.close()
            self._file = None
            final = self._temps[0]
            if self.audio_from is not None:
                final = self._add_audio(final)
            publish(final, self.path)
            self._temps.remove(final)
        except BaseException as exc:
            self.abort()
            self._raise_as_output_error(exc)
            raise
        self._done = True
        self._cleanup()

    def abort(self) -> None:
        """Drop everything written so far: no file at the output path, no temporary files."""
        self._done = True
        if self._container is not None:
            try:
                self._container.close()
            except BaseException:  # noqa: BLE001 - best effort while failing
                pass
            self._container = None
        if self._file is not None:
            try:
                self._file.close()
            except BaseException:  # noqa: BLE001
                pass
            self._file = None
        self._cleanup()

    def _cleanup(self) -> None:
        for tmp in self._temps:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not remove temporary file %s: %s", tmp, exc)
        self._temps.clear()

    def _raise_as_output_error(self, exc: BaseException) -> None:
        if isinstance(exc, OutputError):
            return
        code = _errno_of(exc)
        if code in _DISK_FULL:
            raise OutputError(f"disk full while writing {self.path}") from exc
        if code is not None:
            raise OutputError(f"cannot write {self.path} ({os.strerror(code)})") from exc

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    # -- audio --------------------------------------------------------------------------------
    def _video_end(self) -> float:
        """Output time where the video ends (last frame shown for one frame interval)."""
        return float((self._last_pts + self._frame_ticks) * self._tb)

    def _add_audio(self, video_tmp: str) -> str:
        """Remux ``video_tmp`` with the audio window into a new temp file; return the final temp.

        Returns ``video_tmp`` unchanged (video only) when there is no audio to add or the audio
        cannot be read; only errors writing the output (disk full...) propagate.
        """
        src = self.audio_from
        try:
            ain = av.open(str(src))
        except _AV_ERRORS as exc:
            self._warn(f"{src}: cannot read its audio ({exc}); writing the video without sound")
            return video_tmp
        try:
            if not ain.streams.audio:
                log.info("%s has no audio; writing the video without sound", src)
                return video_tmp
            a_in = ain.streams.audio[0]
            v_start = 0.0
            if ain.streams.video and ain.streams.video[0].start_time is not None:
                vs = ain.streams.video[0]
                v_start = float(vs.start_time * vs.time_base)
            origin = float(self._origin or 0.0)
            win_start = max(self.audio_start, origin)
            win_end = origin + self._video_end()
            if self.audio_end is not None:
                win_end = min(win_end, self.audio_end)
            if win_end <= win_start:
                return video_tmp
            plan = dict(ain=ain, a_in=a_in, v_start=v_start, origin=origin,
                        win_start=win_start, win_end=win_end)
            modes = ["copy", "encode"] if self._can_copy(**plan) else ["encode"]
            for mode in modes:
                ain.seek(0)
                out_tmp = self._new_temp()
                try:
                    wrote = self._remux(video_tmp, out_tmp, mode, **plan)
                except BaseException as exc:
                    if _errno_of(exc) is not None or not isinstance(exc, _AV_ERRORS):
                        raise
                    self._drop_temp(out_tmp)
                    log.info("audio %s from %s failed (%s)", mode, src, exc)
                    continue
                if not wrote:
                    self._drop_temp(out_tmp)
                    return video_tmp
                log.debug("audio from %s: %s, window [%.3f, %.3f)s", src, mode, win_start, win_end)
                self.audio_mode = mode
                self.has_audio = True
                self._drop_temp(video_tmp)
                return out_tmp
            self._warn(f"{src}: its audio could not be added; writing the video without sound")
            return video_tmp
        finally:
            ain.close()

    def _drop_temp(self, tmp: str) -> None:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if tmp in self._temps:
            self._temps.remove(tmp)

    @staticmethod
    def _warn(msg: str) -> None:
        log.warning(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)

    def _can_copy(self, ain, a_in, v_start, origin, win_start, win_end) -> bool:
        ctx = a_in.codec_context
        if ctx is None or ctx.name not in self.format.audio_copy or a_in.time_base is None:
            return False
        a_first = float((a_in.start_time or 0) * a_in.time_base) - v_start
        if a_in.duration:
            a_last = float((a_in.start_time or 0) * a_in.time_base + a_in.duration * a_in.time_base)
        elif ain.duration:
            a_last = ain.duration / av.time_base
        else:
            return False
        a_last -= v_start
        return a_first >= win_start - _COPY_TOLERANCE_S and a_last <= win_end + _COPY_TOLERANCE_S

    def _remux(self, video_tmp, out_tmp, mode, ain, a_in, v_start, origin, win_start, win_end) -> bool:
        vin = av.open(video_tmp)
        fobj = _open_binary(out_tmp)
        out = None
        try:
            out = av.open(fobj, mode="w", format=self.format.container)
            v_in = vin.streams.video[0]
            v_out = out.add_stream_from_template(v_in)
            v_out.time_base = v_in.time_base
            if mode == "copy":
                a_out = out.add_stream_from_template(a_in)
                a_out.time_base = a_in.time_base
                audio = self._copy_packets(ain, a_in, a_out, v_start, origin, win_end)
            else:
                audio = self._encode_packets(ain, a_in, out, v_start, origin, win_start, win_end)
                a_out = None
            audio = _first_or_none(audio)
            if audio is None:
                return False

            def video() -> Iterator[tuple[float, int, av.Packet]]:
                for pkt in vin.demux(v_in):
                    if pkt.dts is None and pkt.pts is None:
                        continue
                    pkt.stream = v_out
                    yield float((pkt.dts if pkt.dts is not None else pkt.pts) * v_in.time_base), 0, pkt

            for _, _, pkt in heapq.merge(video(), audio, key=lambda item: (item[0], item[1])):
                out.mux(pkt)
            out.close()
            out = None
            fobj.close()
            fobj = None
            return True
        finally:
            if out is not None:
                try:
                    out.close()
                except BaseException:  # noqa: BLE001
                    pass
            if fobj is not None:
                fobj.close()
            vin.close()

    def _copy_packets(self, ain, a_in, a_out, v_start, origin, win_end):
        tb = a_in.time_base
        shift = round((v_start + origin) / tb)  # ticks: driving time `origin` -> output 0
        for pkt in ain.demux(a_in):
            if pkt.dts is None and pkt.pts is None:
                continue
            ts = pkt.pts if pkt.pts is not None else pkt.dts
            if float(ts * tb) - v_start >= win_end:
                break
            if pkt.pts is not None:
                pkt.pts -= shift
            if pkt.dts is not None:
                pkt.dts -= shift
            pkt.stream = a_out
            yield float(((pkt.dts if pkt.dts is not None else pkt.pts)) * tb), 1, pkt

    def _encode_packets(self, ain, a_in, out, v_start, origin, win_start, win_end):
        src_rate = a_in.codec_context.sample_rate or 48000
        rate = src_rate if src_rate in self.format.audio_rates else 48000
        channels = audio_channels(a_in.codec_context)
        layout = "mono" if channels == 1 else "stereo"
        a_out = out.add_stream(self.format.audio_codec, rate=rate, layout=layout)
        a_out.time_base = Fraction(1, rate)
        a_out.codec_context.time_base = Fraction(1, rate)
        a_out.codec_context.bit_rate = 96_000 if layout == "mono" else 160_000
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        cut = WindowCut(rate, layout, origin, win_start, win_end)
        out_tb = Fraction(1, rate)

        def frames():
            try:
                yield from audio_frames(ain, a_in, resampler, cut, v_start)
            except _AV_ERRORS as exc:  # audio that breaks ends there, unless the error is the disk's
                if _errno_of(exc) is not None:
                    raise
                self._warn(f"{self.audio_from}: its audio breaks ({exc}); the output's sound ends there")

        def packets():
            for f in frames():
                for pkt in a_out.encode(f):
                    yield pkt_time(pkt, out_tb), 1, pkt
            for pkt in a_out.encode(None):
                yield pkt_time(pkt, out_tb), 1, pkt

        return packets()


def _encoder_options(codec: str, crf: int, preset: str) -> dict[str, str]:
    """libx264: ``crf`` and ``preset``. libvpx-vp9: constant quality ``crf``, multi-threaded rows and
    ``cpu-used 5`` (its default, 1, is many times slower; 5 stays within a few times libx264's
    ``medium``, still far faster than the model)."""
    if codec == "libvpx-vp9":
        return {"crf": str(crf), "deadline": "good", "cpu-used": "5", "row-mt": "1"}
    return {"crf": str(crf), "preset": preset}


def _first_or_none(it: Iterator) -> Iterator | None:
    """``it`` if it yields anything (with the first item put back), else None."""
    try:
        first = next(it)
    except StopIteration:
        return None
    return itertools.chain([first], it)


__all__ = ["FORMATS", "VideoFormat", "VideoWriter", "check_output_path", "video_format"]
