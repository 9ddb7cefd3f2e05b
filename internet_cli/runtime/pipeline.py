"""The streaming job behind ``internet animate``: decode -> model -> encode, frame by frame.

Decoding and encoding run in their own threads, connected to the model by small bounded
queues, so the model never waits for the codec and memory stays flat whatever the video length.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from internet_cli.errors import InputError
from internet_cli.paths import check_apart
from internet_cli.video.image import load_image
from internet_cli.video.reader import VideoInfo, probe_video
from internet_cli.video.writer import VideoWriter, check_output_path, video_format

_DONE = object()


@dataclass
class AnimateOptions:
    relative: bool = True
    adapt_scale: bool = False
    batch_size: int = 1
    crf: int = 18
    start: float | None = None
    end: float | None = None
    max_frames: int | None = None
    overwrite: bool = False
    side_by_side: bool = False
    audio: bool = True
    crop: str = "none"  # "auto": crop around the person (internet_cli/runtime/framing.py); the CLI's default
    find_best_frame: bool = False
    retarget: bool = True  # pose mode, with relative: the driving bones on the source body (pose/retarget.py)
    save_pose: Path | None = None  # pose mode: write the driving's smoothed landmarks here (a .pose.npz)

    @property
    def pose_motion(self) -> str:
        """The pose-mode motion: retarget, relative or absolute (runtime/pose_motion.py)."""
        return "absolute" if not self.relative else ("retarget" if self.retarget else "relative")


@dataclass
class AnimateResult:
    output: Path
    frames: int
    fps: Fraction
    size: tuple[int, int]
    audio: bool
    seconds: float  # wall time of the whole job
    model_seconds: float  # time spent in the model
    missed: int = 0  # pose mode: driving frames in which no person was found
    hidden_parts: tuple[str, ...] = ()  # pose mode: the parts the source photo does not show clearly

    @property
    def no_person_note(self) -> str:
        """Pose mode: the user's line on the driving frames without a person ("" when there were none)."""
        if not self.missed:
            return ""
        return (f"no person found in {self.missed} of {self.frames} driving frames; the person stands still "
                "until one is found and then holds the last pose found")

    @property
    def hidden_note(self) -> str:
        """Pose mode: the user's line on the parts hidden in the source photo ("" when it shows them all)."""
        if not self.hidden_parts:
            return ""
        return (f"the photo does not show the {', '.join(self.hidden_parts)} clearly (hidden, or outside it): "
                "they move with the part they hang from, not with the driver")


@dataclass
class Job:
    """Inputs checked and opened, before any heavy work."""

    source: np.ndarray  # (S, S, 3) uint8
    driving: VideoInfo
    output: Path
    framing: object = None  # runtime.framing.Framing for --crop auto; None: whole frames
    source_landmarks: np.ndarray | None = None  # pose mode: the source's pose, found once (batches reuse it)
    source_name: str = "source"  # for error messages
    driving_pose: object = None  # a .pose.npz driving (pose.files.PoseTrack): landmarks instead of frames

    def expected_frames(self, opts: AnimateOptions) -> int | None:
        """Best estimate of the output frame count, for the progress bar."""
        info = self.driving
        total = info.frame_count
        if total is None and info.duration:
            total = int(round(info.duration * float(info.fps)))
        if total is not None and (opts.start or opts.end):
            dur = (opts.end if opts.end is not None else total / float(info.fps)) - (opts.start or 0.0)
            total = max(0, int(round(dur * float(info.fps))))
        if opts.max_frames is not None:
            total = opts.max_frames if total is None else min(total, opts.max_frames)
        return total


def check_paths(source: Path, driving: Path, output: Path, opts: AnimateOptions, weights: Path | None = None) -> Path:
    """The paths of one job, checked before any work; returns the output path resolved.

    Outputs (``output`` and ``--save-pose``) never replace inputs (source, driving video or
    ``.pose.npz``, ``weights``), with ``--overwrite`` too (:func:`internet_cli.paths.check_apart`);
    the output's name says what it holds (:func:`~internet_cli.video.writer.video_format`); both
    outputs' folders take them (:func:`~internet_cli.video.writer.check_output_path`).
    """
    from internet_cli.pose.files import is_pose_file

    outputs = [("output", output), ("--save-pose file", opts.save_pose)]
    drives = "driving motion template" if is_pose_file(driving) else "driving video"
    check_apart(outputs, [("source photo", source), (drives, driving), ("weights", weights)])
    video_format(output)
    out = check_output_path(Path(output), opts.overwrite)
    if opts.save_pose is not None:
        check_output_path(Path(opts.save_pose), opts.overwrite)
    return out


def prepare(source: Path, driving: Path, output: Path, size: int, opts: AnimateOptions) -> Job:
    """Validate every input and the output path (:func:`check_paths`); raise one clear error before any work."""
    out = check_paths(source, driving, output, opts)
    from internet_cli.runtime.framing import frame_source

    from internet_cli.pose.files import is_pose_file, load_pose

    photo = load_image(Path(source))
    track = load_pose(Path(driving)) if is_pose_file(driving) else None
    info = probe_video(Path(driving)) if track is None else _template_info(Path(driving), track)
    image, framing = frame_source(photo, size, opts.crop, name=str(source))
    return Job(image, info, out, framing, source_name=str(source), driving_pose=track)


def _template_info(path: Path, track) -> VideoInfo:
    """What the pipeline needs to know of a ``.pose.npz`` driving (a motion template)."""
    fps = Fraction(track.fps).limit_denominator(1001) if track.fps > 0 else Fraction(30)
    w, h = track.frame_size
    return VideoInfo(path, w, h, fps, len(track), len(track) / float(fps), 0, False, "pose")


def _threaded(gen: Iterator, maxsize: int) -> Iterator:
    """Run ``gen`` in a thread and yield its items through a bounded queue (errors re-raised)."""
    q: queue.Queue = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def produce():
        try:
            for item in gen:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=produce, name="internet-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def _driving(job: Job, size: int, opts: AnimateOptions, pose) -> Iterator[tuple]:
    """``(image, time, anchors or None)`` per driving frame; with ``pose`` (a
    :class:`~internet_cli.runtime.pose_motion.DrivingPose`) the pose step runs here, in the decode thread."""
    if job.driving_pose is not None:
        yield from _template(job, size, opts, pose)
        return
    from internet_cli.runtime.framing import NOT_TRACKED, frame_driving  # whole frames, or the person tracker

    estimator = None  # whole frames in pose mode: a tracker of our own (the crop's tracker's landmarks otherwise)
    try:
        for image, frame_time, landmarks in frame_driving(job, size, opts):
            if pose is None:
                yield image, frame_time, None
                continue
            if landmarks is NOT_TRACKED:
                if estimator is None:
                    from internet_cli.pose.estimator import PoseEstimator

                    estimator = PoseEstimator(video=True)  # one tracker per driving video
                landmarks = estimator(image)
            yield image, frame_time, pose(landmarks)
    finally:
        if estimator is not None:
            estimator.close()


def _template(job: Job, size: int, opts: AnimateOptions, pose) -> Iterator[tuple]:
    """A ``.pose.npz`` driving: its landmarks, drawn as a skeleton for ``--side-by-side``."""
    from internet_cli.pose.draw import draw_skeleton

    track, fps = job.driving_pose, float(job.driving.fps)
    done = 0
    for i, lm in enumerate(track.on_square(size)):
        t = i / fps
        if (opts.start and t < opts.start - 1e-9) or (opts.end is not None and t >= opts.end):
            continue
        if opts.max_frames is not None and done >= opts.max_frames:
            return
        lm = lm if track.found[i] else None
        yield draw_skeleton(lm, size), t, pose(lm)
        done += 1


def _batches(job: Job, size: int, opts: AnimateOptions, pose=None) -> Iterator[tuple]:
    """Driving frames, framed like the source, in batches: ``((B, S, S, 3) uint8, times)``, plus
    the anchors ``(B, n, 2)`` and affines ``(B, n, 2, 2)`` of each frame in pose mode."""
    batch = []
    for item in _driving(job, size, opts, pose):
        batch.append(item)
        if len(batch) == opts.batch_size:
            yield _batch(batch)
            batch = []
    if batch:
        yield _batch(batch)


def _batch(items: list) -> tuple:
    images, times, anchors = zip(*items)
    if anchors[0] is None:
        return np.stack(images), list(times)
    return np.stack(images), list(times), np.stack([a[0] for a in anchors]), np.stack([a[1] for a in anchors])


def source_pose(job: Job, animator, opts: AnimateOptions):
    """Pose mode: the :class:`DrivingPose` of this job (the source's landmarks found once); else None."""
    if not getattr(animator, "pose_mode", False):
        if job.driving_pose is not None or opts.save_pose is not None:
            raise InputError("a .pose.npz driving and --save-pose need a pose-anchor model (motion.anchors = "
                             "pose); these weights have learned anchors")
        return None
    from internet_cli.runtime.pose_motion import DrivingPose, detect_source

    framing = job.framing
    if job.source_landmarks is None:
        if framing is not None and framing.active and framing.source_landmarks is not None:
            job.source_landmarks = framing.source_landmarks
        else:
            job.source_landmarks = detect_source(job.source, job.source_name)
    smoothed = job.driving_pose is not None and job.driving_pose.origin == "animate"  # saved by --save-pose
    return DrivingPose(job.source_landmarks, animator.size, float(job.driving.fps), opts.pose_motion,
                       smooth=not smoothed)


class _Encoder:
    """The writer in its own thread, fed through a bounded queue."""

    def __init__(self, writer: VideoWriter, maxsize: int = 8):
        self.writer = writer
        self.q: queue.Queue = queue.Queue(maxsize=maxsize)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="internet-encode", daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            item = self.q.get()
            if item is _DONE:
                return
            if self.error is None:
                try:
                    self.writer.write(*item)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                    self.error = exc

    def put(self, image: np.ndarray, time: float) -> None:
        if self.error is not None:
            raise self.error
        self.q.put((image, time))

    def close(self) -> None:
        self.q.put(_DONE)
        self.thread.join()
        if self.error is not None:
            raise self.error


def run(job: Job, animator, opts: AnimateOptions, on_frames: Callable[[int], None] | None = None) -> AnimateResult:
    """Animate ``job.source`` with every driving frame and write the video atomically (its format from its name)."""
    size = animator.size
    info = job.driving
    start = opts.start or 0.0
    end = opts.end
    if opts.max_frames is not None:
        limit = start + opts.max_frames / float(info.fps)
        end = limit if end is None else min(end, limit)
    with_audio = opts.audio and info.has_audio
    width = size * 3 if opts.side_by_side else size
    t_start = time.perf_counter()
    model_time = 0.0
    pose = source_pose(job, animator, opts)
    if pose is not None:
        state = animator.encode_source(job.source, pose.source_anchors())
    else:
        state = animator.encode_source(job.source)
    from internet_cli.runtime.framing import best_frame_reference, driving_reference

    ref = None if pose is not None else best_frame_reference(job, animator, state, opts)  # --find-best-frame
    frames = 0
    with VideoWriter(
        job.output,
        fps=info.fps,
        size=(width, size),
        crf=opts.crf,
        audio_from=info.path if with_audio else None,
        audio_start=start,
        audio_end=end,
        overwrite=opts.overwrite,
    ) as writer:
        encoder = _Encoder(writer)
        try:
            for driving, times, *anchors in _threaded(_batches(job, size, opts, pose), maxsize=2):
                if pose is None and ref is None:
                    ref = driving_reference(job, animator, state, driving[0], opts)
                t = time.perf_counter()
                outputs = animator.animate_pose(state, *anchors) if pose is not None else \
                    animator.animate(state, driving, ref)
                model_time += time.perf_counter() - t
                for i, out in enumerate(outputs):
                    if opts.side_by_side:
                        out = np.concatenate([job.source, driving[i], out], axis=1)
                    encoder.put(out, times[i])  # driving clock: the writer maps the first to 0
                frames += len(outputs)
                if on_frames:
                    on_frames(len(outputs))
        finally:
            encoder.close()
    if opts.save_pose is not None and pose is not None:
        _save_track(Path(opts.save_pose), pose, size, info.fps)
    missed, hidden = (pose.missed, pose.hidden_source_parts) if pose is not None else (0, ())
    return AnimateResult(job.output, frames, info.fps, (width, size), with_audio, time.perf_counter() - t_start,
                         model_time, missed, hidden)


def _save_track(path: Path, pose, size: int, fps) -> None:
    """``--save-pose``: the smoothed driving landmarks (model-size pixels), reusable as a driving."""
    from internet_cli.pose.files import PoseTrack, save_pose
    from internet_cli.pose.skeleton import NUM_LANDMARKS

    found = np.array([lm is not None for lm in pose.track], bool)
    rows = [lm if lm is not None else np.zeros((NUM_LANDMARKS, 3), np.float32) for lm in pose.track]
    landmarks = np.stack(rows) if rows else np.zeros((0, NUM_LANDMARKS, 3), np.float32)
    save_pose(path, PoseTrack(landmarks, found, (size, size), "animate", float(fps)))
