"""Read a driving video: probe it cheaply, then stream upright RGB frames one at a time.

PyAV reports a phone video's display matrix as ``frame.rotation`` (degrees, counter-clockwise)
but does not rotate the decoded pixels; ``np.rot90(arr, k=rotation // 90)`` gives what ffmpeg
shows (see docs/FACTS). Every frame that leaves this module is upright.

Times are seconds from the video stream's start (``(pts - stream.start_time) * time_base``), the
clock that :class:`internet_cli.video.writer.VideoWriter` and its audio window use too.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from internet_cli.errors import InputError
from internet_cli.video.image import check_input_file

log = logging.getLogger(__name__)

# Demuxers that open single images or text: FFmpeg will happily "play" a PNG or a text file that
# someone named .mp4 as a one-frame video. We do not take those as driving videos.
_IMAGE_DEMUXERS = {"image2", "tty", "lavfi", "data"}

_ATTACHED_PIC = 0x0400  # AV_DISPOSITION_ATTACHED_PIC

_AV_ERRORS: tuple[type[BaseException], ...] = (av.FFmpegError, OSError, ValueError, EOFError,
                                               RuntimeError, IndexError)


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe_video`` learns about a video without decoding more than one frame."""

    path: Path
    width: int
    """Upright width (after the rotation is applied)."""
    height: int
    """Upright height."""
    fps: Fraction
    """Average frame rate (the stream's guessed rate when no average is stored)."""
    frame_count: int | None
    """Frame count from the stream's metadata; None when the container does not store it."""
    duration: float | None
    """Seconds, from the stream (or container) metadata; None when unknown."""
    rotation: int
    """Display rotation as PyAV reports it (counter-clockwise degrees: -90, 0, 90, 180, ...)."""
    has_audio: bool
    codec: str


@dataclass
class Frame:
    """One upright frame: ``image`` is ``(H, W, 3)`` ``uint8`` RGB, ``time`` in seconds."""

    image: np.ndarray
    time: float


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except av.error.PermissionError:
        raise InputError(f"{path}: permission denied (cannot read this video)") from None
    except _AV_ERRORS as exc:
        raise InputError(f"{path}: not a readable video file ({_short(exc)})") from None


def _short(exc: BaseException) -> str:
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _video_stream(path: Path, container: av.container.InputContainer) -> av.video.stream.VideoStream:
    fmt = (container.format.name or "").split(",")
    if any(n in _IMAGE_DEMUXERS or n.endswith("_pipe") for n in fmt):
        if fmt[0] in ("tty", "data"):
            raise InputError(f"{path}: not a video file (looks like text or raw data)")
        raise InputError(f"{path}: is a still image, not a video")
    videos = [s for s in container.streams.video if not _is_cover_art(s)]
    if not videos:
        if container.streams.audio:
            raise InputError(f"{path}: has no video stream (audio only)")
        raise InputError(f"{path}: has no video stream")
    stream = videos[0]
    if stream.codec_context is None:
        raise InputError(f"{path}: unsupported codec (this FFmpeg has no decoder for its video stream)")
    return stream


def _is_cover_art(stream) -> bool:
    """An audio file's embedded picture (mp3/m4a cover art) shows up as a one-frame video."""
    try:
        return bool(int(stream.disposition) & _ATTACHED_PIC)
    except (AttributeError, TypeError, ValueError):
        return False


def _fps(path: Path, stream) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return Fraction(rate)
    raise InputError(f"{path}: the video does not say its frame rate")


def _start_pts(stream) -> int:
    return int(stream.start_time) if stream.start_time is not None else 0


def _upright(frame: av.VideoFrame) -> np.ndarray:
    arr = frame.to_ndarray(format="rgb24")
    rot = int(getattr(frame, "rotation", 0) or 0)
    k = (rot // 90) % 4
    if k:
        arr = np.rot90(arr, k=k)
    return np.ascontiguousarray(arr)


def _first_frame(path: Path, container, stream) -> av.VideoFrame:
    """Decode the first frame of ``stream`` (cheap); InputError when there is none."""
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                return frame
        for frame in _flush(stream):  # (demux already ends with a flush packet)
            return frame
    except av.error.DecoderNotFoundError:
        name = stream.codec_context.name if stream.codec_context else "?"
        raise InputError(f"{path}: unsupported codec {name} (no decoder in this FFmpeg)") from None
    except _AV_ERRORS as exc:
        raise InputError(f"{path}: no decodable video frames ({_short(exc)})") from None
    raise InputError(f"{path}: no decodable video frames")


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read a video's metadata and decode its first frame (never the whole file).

    Raises InputError, one line naming the file, for: a missing, unreadable or folder path;
    content that is not a video (text, a still image renamed .mp4); an audio-only file; a video
    codec this FFmpeg cannot decode; a video with no decodable frame.
    """
    p = check_input_file(path, "video")
    container = _open(p)
    try:
        stream = _video_stream(p, container)
        fps = _fps(p, stream)
        codec = stream.codec_context.name
        frame_count = int(stream.frames) if stream.frames and stream.frames > 0 else None
        duration: float | None = None
        if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None and container.duration > 0:
            duration = container.duration / av.time_base
        has_audio = bool(container.streams.audio)
        stream.thread_type = "AUTO"
        first = _first_frame(p, container, stream)
        rotation = int(getattr(first, "rotation", 0) or 0)
        w, h = first.width, first.height
        if (rotation // 90) % 2:
            w, h = h, w
        return VideoInfo(path=p, width=w, height=h, fps=fps, frame_count=frame_count,
                         duration=duration, rotation=rotation, has_audio=has_audio, codec=codec)
    finally:
        container.close()


def iter_frames(
    path: str | os.PathLike,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
) -> Iterator[Frame]:
    """Yield the upright frames of ``path`` one by one (a generator; nothing is buffered).

    ``start`` (seconds, inclusive): seek to the key frame before it, then skip earlier frames.
    ``end`` (seconds, exclusive) and ``max_frames`` stop the iteration early.

    A file that breaks part-way (a truncated download) ends the iteration after the frames
    that decoded, with a warning (``warnings.warn`` and the ``internet_cli.video.reader``
    logger). When no frame at all comes out, InputError is raised (also when ``start`` lies
    past the end of the video). Arguments out of range raise ValueError, and a missing or
    unreadable file raises InputError, at the call itself; the file opens on the first ``next``.
    """
    if start is not None and (not math.isfinite(start) or start < 0):
        raise ValueError(f"start must be a finite number >= 0, got {start}")
    if end is not None and (math.isnan(end) or (start is not None and end <= start) or end <= 0):
        raise ValueError(f"end must be after start, got start={start} end={end}")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    p = check_input_file(path, "video")
    if start is not None and start <= 0:
        start = None
    # Arguments and the file are checked now, at the call; the container opens on first next().
    return _iter_frames(p, start, end, max_frames)


def _iter_frames(p: Path, start: float | None, end: float | None,
                 max_frames: int | None) -> Iterator[Frame]:
    container = _open(p)
    frames = None
    try:
        stream = _video_stream(p, container)
        fps = _fps(p, stream)
        seek_ok = False
        if start is not None:
            seek_ok = _seek(container, stream, start)
        frames = _decode(p, container, stream, fps, from_top=not seek_ok)
        if seek_ok:
            # A bad index can land the seek after ``start``: then read from the top instead.
            first = next(frames, None)
            if first is not None and first[0] > start + 0.5 / float(fps):
                frames.close()
                container.close()
                container = _open(p)
                stream = _video_stream(p, container)
                frames = _decode(p, container, stream, fps, from_top=True)
            elif first is not None:
                frames = _chain(first, frames)
        count = 0
        for t, vf in frames:
            if start is not None and t < start - 1e-6:
                continue  # (not converted to RGB: cheap)
            if end is not None and t >= end - 1e-6:
                break
            yield Frame(image=_upright(vf), time=t)
            count += 1
            if max_frames is not None and count >= max_frames:
                break
        if count == 0:
            if start is not None or end is not None:
                raise InputError(f"{p}: no video frames between {start or 0:g}s and "
                                 f"{'the end' if end is None else f'{end:g}s'}")
            raise InputError(f"{p}: no decodable video frames")
    finally:
        if frames is not None:
            frames.close()
        container.close()


def _chain(first, rest):
    yield first
    yield from rest


def _seek(container, stream, start: float) -> bool:
    if stream.time_base is None:
        return False
    target = _start_pts(stream) + int(math.floor(start / float(stream.time_base)))
    try:
        container.seek(target, stream=stream, backward=True, any_frame=False)
    except _AV_ERRORS as exc:
        log.debug("seek to %.3fs failed (%s); decoding from the start", start, exc)
        try:
            container.seek(0)
        except _AV_ERRORS:
            pass
        return False
    return True


def _flush(stream) -> list[av.VideoFrame]:
    """Frames still held by the decoder; [] when it was already drained."""
    try:
        return list(stream.codec_context.decode(None))
    except EOFError:
        return []


def _decode(p: Path, container, stream, fps: Fraction, from_top: bool) -> Iterator[tuple[float, av.VideoFrame]]:
    """Decode ``stream`` packet by packet into ``(time, frame)``; stop with a warning when the file breaks.

    ``from_top``: decoding starts at the first frame, so a file that ends before the frame
    count its header promises (cut short without a decoding error) is reported too.
    """
    stream.thread_type = "AUTO"
    tb = float(stream.time_base) if stream.time_base else None
    t0 = _start_pts(stream)
    last_time: float | None = None
    step = 1.0 / float(fps)
    produced = 0

    def stamp(frame: av.VideoFrame) -> tuple[float, av.VideoFrame]:
        nonlocal last_time
        pts = frame.pts
        if pts is None:
            pts = getattr(frame, "dts", None)
        if pts is not None and tb is not None:
            t = (pts - t0) * tb
        else:
            t = 0.0 if last_time is None else last_time + step
        last_time = t
        return float(t), frame

    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                produced += 1
                yield stamp(frame)
        for frame in _flush(stream):
            produced += 1
            yield stamp(frame)
        expected = int(stream.frames or 0)
        if from_top and expected > 0 and produced < expected:
            msg = (f"{p}: the video ends after {produced} of the {expected} frames its header "
                   "announces (cut short?); using the frames there are")
            log.warning(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
    except av.error.DecoderNotFoundError:
        name = stream.codec_context.name if stream.codec_context else "?"
        raise InputError(f"{p}: unsupported codec {name} (no decoder in this FFmpeg)") from None
    except _AV_ERRORS as exc:
        if produced == 0:
            raise InputError(f"{p}: no decodable video frames ({_short(exc)})") from None
        # Frames still inside a threaded decoder are worth having.
        try:
            for frame in _flush(stream):
                produced += 1
                yield stamp(frame)
        except _AV_ERRORS:
            pass
        msg = (f"{p}: the video breaks after {produced} frames ({_short(exc)}); "
               "using the frames before the damage")
        log.warning(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
