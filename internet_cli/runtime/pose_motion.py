"""Pose-mode motion for ``internet animate``: landmarks of source and driving -> the model's anchors.

The source's landmarks are found once (MediaPipe's static mode on the model-size source, or the
crop's own landmarks with ``--crop auto``). Every driving frame then goes, in the decode thread,
through one MediaPipe tracker per video, the one-euro smoother and the motion mode:

- ``retarget`` (the default): the driving bones' directions on the source's body, global motion
  relative to the first driving frame (:mod:`internet_cli.pose.retarget`);
- ``relative``: FOMM's relative motion on the anchors, ``K = K^s + K^d - K^d_1``,
  ``J = J^d (J^d_1)^-1 J^s``;
- ``absolute``: the driving landmarks as they are.

and :func:`internet_cli.pose.parts.part_motion` turns them into anchors and affines. A frame with
no person keeps the last landmarks; before the first detection the source stands still.
"""

from __future__ import annotations

import numpy as np

from internet_cli.errors import InputError
from internet_cli.pose import parts
from internet_cli.pose import skeleton as sk
from internet_cli.pose.retarget import Retargeter
from internet_cli.pose.smoothing import LandmarkSmoother

MOTION_MODES = ("retarget", "relative", "absolute")


def detect_source(image: np.ndarray, name: str = "source") -> np.ndarray:
    """Landmarks ``(33, 3)`` (pixels) of the person in the model-size source; one clear error if none."""
    from internet_cli.pose.estimator import PoseEstimator

    with PoseEstimator(video=False) as estimator:
        lm = estimator(image)
    if lm is None:
        raise InputError(f"{name}: no person found; the pose-anchor model moves a person's body parts, so it "
                         "needs one in the photo (or pass learned-anchor weights with -w)")
    return lm


class DrivingPose:
    """Driving landmarks (pixels of the model-size frame, or None) -> anchors for the model."""

    def __init__(self, source_landmarks: np.ndarray, size: int, fps: float, mode: str = "retarget",
                 smooth: bool = True):
        if mode not in MOTION_MODES:
            raise ValueError(f"mode must be one of {MOTION_MODES}, got {mode!r}")
        self.size, self.mode = int(size), mode
        self.source = parts.normalise(source_landmarks, self.size)
        self.smoother = LandmarkSmoother(fps) if smooth else None
        self.reference: np.ndarray | None = None  # the first driving landmarks (normalised)
        self._retarget: Retargeter | None = None
        self._reference_frames = None  # part_frames(reference), for the relative mode
        self.kp_source, self.jac_source, self._visible_source = parts.part_frames(self.source)
        self.track: list[np.ndarray | None] = []  # the smoothed landmarks of every frame (pixels)
        self.missed = 0  # driving frames in which no person was found

    @property
    def hidden_source_parts(self) -> tuple[str, ...]:
        """The parts hidden in the source (``parts.part_frames``' rule), as words: "left forearm"."""
        return tuple(p.name.replace("_", " ") for p, seen in zip(sk.PARTS, self._visible_source) if not seen)

    def source_anchors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(1, 10, 2)`` and ``(1, 10, 2, 2)`` float32."""
        return self.kp_source[None].astype(np.float32), self.jac_source[None].astype(np.float32)

    def __call__(self, landmarks: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """One driving frame's raw landmarks -> its anchors ``(10, 2)`` and affines ``(10, 2, 2)``."""
        self.missed += landmarks is None
        lm = self.smoother.update(landmarks) if self.smoother is not None else landmarks
        self.track.append(None if lm is None else np.asarray(lm, np.float32))
        if lm is None:  # no person yet: the source stands still
            return self.kp_source.astype(np.float32), self.jac_source.astype(np.float32)
        drv = parts.normalise(lm, self.size)
        if self.reference is None:
            self.reference = drv
            self._retarget = Retargeter(self.source, drv)
            self._reference_frames = parts.part_frames(drv)
        if self.mode == "retarget":
            motion = parts.part_motion(self.source, self._retarget(drv))
            return motion["kp_driving"], motion["jac_driving"]
        if self.mode == "absolute":
            motion = parts.part_motion(self.source, drv)
            return motion["kp_driving"], motion["jac_driving"]
        return self._relative(drv)

    def _relative(self, drv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kp_d, jac_d, vis_d = parts.part_frames(drv)
        kp_1, jac_1, vis_1 = self._reference_frames
        kp = self.kp_source + (kp_d - kp_1)
        jac = jac_d @ parts.inverse(jac_1) @ self.jac_source
        visible = self._visible_source & vis_d & vis_1
        kp, jac = parts.follow_parents(self.kp_source, self.jac_source, kp, jac, visible)
        return kp.astype(np.float32), jac.astype(np.float32)
