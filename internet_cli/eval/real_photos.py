"""Metrics for animating real photos, where no ground-truth output exists (docs/evaluation.md).

Every score compares an output frame with the driving frame (pose) or with the source (look):

- **Bone angle** (degrees, lower is better): for each limb bone (upper arms, forearms, thighs,
  shins) the angle between the bone in the output (MediaPipe Pose on the output) and the same
  bone in the driving frame, averaged over the bones visible in both. Retargeting keeps the
  driving directions, so a perfect output scores 0. Frames with no person in the output do not
  count here; they are the **no-person share**.
- **Face** (normalised cross-correlation, higher is better): grey 64x64 crops of output and
  source, each centred on its own nose, eyes and ears and as wide as its shoulders. Copy-source
  scores 1. Frames where either face is not found do not count.
- **Background** (mean absolute difference in [0, 1], lower is better): output against source
  over the pixels that neither frame's person mask covers (MediaPipe's selfie segmentation,
  thresholded at 0.5 and dilated by :data:`DILATE` of the side). Copy-source scores 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from internet_cli.pose import skeleton as sk

BONES = tuple(sk.LIMB_BONES.values())
FACE_POINTS = (sk.NOSE, sk.L_EYE, sk.R_EYE, sk.L_EAR, sk.R_EAR)
FACE_SIZE = 64
DILATE = 0.03


def bone_angle_error(out: np.ndarray | None, driving: np.ndarray | None) -> float:
    """Mean angle (degrees) between the limb bones of two poses, over the bones visible in both."""
    if out is None or driving is None:
        return math.nan
    errs = []
    for i, j in BONES:
        if min(out[i, 2], out[j, 2], driving[i, 2], driving[j, 2]) < sk.VISIBLE:
            continue
        a, b = out[j, :2] - out[i, :2], driving[j, :2] - driving[i, :2]
        cos = float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-9))
        errs.append(math.degrees(math.acos(max(-1.0, min(1.0, cos)))))
    return float(np.mean(errs)) if errs else math.nan


def face_crop(image: np.ndarray, lm: np.ndarray | None) -> np.ndarray | None:
    """The grey ``FACE_SIZE``-square face crop, or None when the face or shoulders are not found."""
    import cv2

    if lm is None or min(lm[sk.L_SHOULDER, 2], lm[sk.R_SHOULDER, 2]) < sk.VISIBLE:
        return None
    pts = [lm[i, :2] for i in FACE_POINTS if lm[i, 2] >= sk.VISIBLE]
    if len(pts) < 2:
        return None
    cx, cy = np.mean(pts, axis=0)
    side = float(np.linalg.norm(lm[sk.L_SHOULDER, :2] - lm[sk.R_SHOULDER, :2]))
    if side < 4:
        return None
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
    f = FACE_SIZE / side  # an affine crop: pixels outside the frame are black
    m = np.array([[f, 0, FACE_SIZE / 2 - f * cx], [0, f, FACE_SIZE / 2 - f * cy]], np.float32)
    return cv2.warpAffine(grey, m, (FACE_SIZE, FACE_SIZE), flags=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-9 else math.nan


def person_mask(probability: np.ndarray) -> np.ndarray:
    """A segmentation probability -> the dilated boolean person mask."""
    from internet_cli.pose.person import dilated

    return dilated(probability, DILATE).astype(bool)


def background_difference(out: np.ndarray, source: np.ndarray, mask_out: np.ndarray, mask_src: np.ndarray) -> float:
    keep = ~(mask_out | mask_src)
    if not keep.any():
        return math.nan
    return float(np.abs(out.astype(np.float32) - source.astype(np.float32))[keep].mean() / 255.0)


@dataclass
class RealPhotoScores:
    """Per-frame scores of one output video; :meth:`summary` gives the means."""

    angle: list[float] = field(default_factory=list)
    found: list[bool] = field(default_factory=list)
    face: list[float] = field(default_factory=list)
    background: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        def mean(v):
            v = [x for x in v if not math.isnan(x)]
            return float(np.mean(v)) if v else math.nan

        return {"bone_angle": mean(self.angle), "no_person": 1.0 - float(np.mean(self.found)) if self.found else math.nan,
                "face": mean(self.face), "background": mean(self.background), "frames": len(self.found)}


class RealPhotoScorer:
    """Scores output frames against the source and the driving frames (all model-size RGB uint8)."""

    def __init__(self, source: np.ndarray):
        from internet_cli.pose.estimator import PersonSegmenter, PoseEstimator

        self._pose = PoseEstimator(video=False)
        self._seg = PersonSegmenter()
        self.source = source
        self.source_pose = self._pose(source)
        self.source_face = face_crop(source, self.source_pose)
        self.source_mask = person_mask(self._seg(source))

    def add(self, scores: RealPhotoScores, out: np.ndarray, driving_pose: np.ndarray | None) -> None:
        lm = self._pose(out)
        scores.found.append(lm is not None)
        scores.angle.append(bone_angle_error(lm, driving_pose) if lm is not None else math.nan)
        face = face_crop(out, lm)
        scores.face.append(ncc(face, self.source_face) if face is not None and self.source_face is not None
                           else math.nan)
        scores.background.append(background_difference(out, self.source, person_mask(self._seg(out)),
                                                        self.source_mask))

    def driving_pose(self, frame: np.ndarray) -> np.ndarray | None:
        return self._pose(frame)

    def close(self) -> None:
        self._pose.close()
        self._seg.close()
