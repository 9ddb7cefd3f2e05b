"""How ``internet animate`` frames its inputs: whole frame (``--crop none``) or around the person (``auto``).

The pipeline (:mod:`internet_cli.runtime.pipeline`) calls four hooks:

- :func:`frame_source` in ``prepare``: the source photo, cropped around its person. No person
  in the photo: a warning (``Framing.note``) and the whole-frame framing for source *and*
  driving, so both keep the same framing (see docs/cropping.md).
- :func:`frame_driving` in the decode thread: the driving frames, cropped by the smoothed
  tracker (so tracking overlaps with the model), each with the tracker's landmarks in crop
  pixels, which pose mode reuses (one MediaPipe run per frame); records the first frame's.
- :func:`best_frame_reference` before the loop (``--find-best-frame``): a first pass over the
  driving video that keeps only landmarks and the crop of the frame whose pose is closest to
  the source's; the relative-motion reference is that frame.
- :func:`driving_reference` on the first batch: the usual reference, with ``--adapt-scale``
  from pose landmarks (shoulder width and hip distance) when both poses are known, else the
  model's anchor hull ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from internet_cli.video.image import to_square
from internet_cli.video.reader import iter_frames

CROPS = ("auto", "none")


@dataclass
class Framing:
    """Per-job cropping state (``Job.framing``)."""

    active: bool
    """True: crops around the person; False: whole frames (``to_square``)."""
    source_landmarks: np.ndarray | None = None
    """The source's pose, ``(33, 3)`` in pixels of the model-size source crop."""
    first_landmarks: np.ndarray | None = None
    """The first driving frame's pose (set by the decode thread), crop pixels."""
    note: str | None = None
    """A warning for the user (no person in the source)."""
    best_index: int | None = None
    best_distance: float | None = None
    scale: float | None = None
    """The motion scale ``driving_reference`` used; None when it was not from poses."""
    scale_from: str | None = None
    extra: dict = field(default_factory=dict)


def frame_source(image: np.ndarray, size: int, crop: str, name: str = "source") -> tuple[np.ndarray, Framing | None]:
    """Frame the source photo for ``crop`` ("auto" or "none"); returns ``(square image, framing)``."""
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
    if crop == "none":
        return to_square(image, size), None
    from internet_cli.runtime.crop import frame_photo

    framed = frame_photo(image, size)
    if not framed.found:
        note = (f"no person found in {name}: framing the whole photo and the whole driving frames "
                "(as --crop none)")
        return framed.image, Framing(active=False, note=note)
    return framed.image, Framing(active=True, source_landmarks=framed.landmarks)


def _frames(job, opts):
    return iter_frames(job.driving.path, start=opts.start, end=opts.end, max_frames=opts.max_frames)


NOT_TRACKED = object()
"""The landmarks :func:`frame_driving` yields for whole frames (``--crop none``): not looked for."""


def frame_driving(job, size: int, opts) -> Iterator[tuple[np.ndarray, float, object]]:
    """The driving frames of ``job`` as ``(square image, time, landmarks)``, framed like the source.

    ``landmarks``: the person tracker's ``(33, 3)`` in the image's pixels, None where it found no
    one, or :data:`NOT_TRACKED` for whole frames."""
    framing = getattr(job, "framing", None)
    if framing is None or not framing.active:
        for frame in _frames(job, opts):
            yield to_square(frame.image, size), frame.time, NOT_TRACKED
        return
    from internet_cli.runtime.crop import track

    first = True
    for frame, framed in track(_frames(job, opts), size, fps=float(job.driving.fps)):
        if first:
            framing.first_landmarks = framed.landmarks
            first = False
        yield framed.image, frame.time, framed.landmarks


def best_frame(job, size: int, opts) -> tuple[int, float, np.ndarray, np.ndarray | None]:
    """First pass: ``(index, distance, crop, landmarks)`` of the driving frame closest in pose to the source.

    Streams the video; only the running best crop is kept. With no pose in common anywhere,
    frame 0 is returned with distance inf.
    """
    from internet_cli.runtime.crop import pose_distance, track

    framing = job.framing
    best = (0, math.inf, None, None)
    for i, (frame, framed) in enumerate(track(_frames(job, opts), size, fps=float(job.driving.fps))):
        d = pose_distance(framing.source_landmarks, framed.landmarks)
        if best[2] is None or d < best[1]:
            best = (i, d, framed.image, framed.landmarks)
    return best


def _reference(job, animator, state, frame: np.ndarray, landmarks, opts):
    framing = getattr(job, "framing", None)
    if opts.adapt_scale and framing is not None and framing.active:
        from internet_cli.runtime.crop import pose_scale

        scale = pose_scale(framing.source_landmarks, landmarks)
        if scale is not None:
            framing.scale, framing.scale_from = scale, "pose"
            return animator.with_scale(animator.reference(state, frame, opts.relative, False), scale)
        framing.scale_from = "anchors"
    return animator.reference(state, frame, opts.relative, opts.adapt_scale)


def best_frame_reference(job, animator, state, opts):
    """The reference from the best-matching driving frame (``--find-best-frame``); None otherwise."""
    framing = getattr(job, "framing", None)
    if not getattr(opts, "find_best_frame", False) or framing is None or not framing.active:
        return None
    index, distance, image, landmarks = best_frame(job, animator.size, opts)
    if image is None:
        return None
    framing.best_index, framing.best_distance = index, distance
    return _reference(job, animator, state, image, landmarks, opts)


def driving_reference(job, animator, state, first_frame: np.ndarray, opts):
    """The reference from the first driving frame (pose-based ``--adapt-scale`` when cropping)."""
    framing = getattr(job, "framing", None)
    return _reference(job, animator, state, first_frame, framing.first_landmarks if framing else None, opts)


def describe_framing(framing: Framing, opts) -> str:
    """One line for the user: how the crop and the reference were chosen."""
    parts = ["crop: around the person (pose tracking)"]
    if framing.best_index is not None:
        parts.append(f"reference: driving frame {framing.best_index} (closest pose, distance {framing.best_distance:.3f})")
    if opts.adapt_scale:
        if framing.scale_from == "pose":
            parts.append(f"adapt-scale {framing.scale:.3f} from shoulders/hips")
        else:
            parts.append("adapt-scale from the motion anchors (no shared shoulder/hip landmarks)")
    return "; ".join(parts)
