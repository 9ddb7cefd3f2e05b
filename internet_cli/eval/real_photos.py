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

FACE_POINTS = (sk.NOSE, sk.L_EYE, sk.R_EYE, sk.L_EAR, sk.R_EAR)
FACE_SIZE = 64
DILATE = 0.03


def bone_angles(out: np.ndarray | None, driving: np.ndarray | None) -> dict[str, float]:
    """Angle (degrees) between each limb bone of two poses, by part name; NaN where either pose
    is missing or hides an end of the bone."""
    angles = {}
    for name, (i, j) in sk.LIMB_BONES.items():
        if out is None or driving is None or min(out[i, 2], out[j, 2], driving[i, 2], driving[j, 2]) < sk.VISIBLE:
            angles[name] = math.nan
            continue
        a, b = out[j, :2] - out[i, :2], driving[j, :2] - driving[i, :2]
        cos = float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-9))
        angles[name] = math.degrees(math.acos(max(-1.0, min(1.0, cos))))
    return angles


def mean_angle(angles: dict[str, float]) -> float:
    """The mean of :func:`bone_angles` over the bones measured (NaN when none is)."""
    seen = [a for a in angles.values() if not math.isnan(a)]
    return float(np.mean(seen)) if seen else math.nan


def bone_angle_error(out: np.ndarray | None, driving: np.ndarray | None) -> float:
    """Mean angle (degrees) between the limb bones of two poses, over the bones visible in both."""
    return mean_angle(bone_angles(out, driving))


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

    found: list[bool] = field(default_factory=list)
    face: list[float] = field(default_factory=list)
    background: list[float] = field(default_factory=list)
    bones: list[dict[str, float]] = field(default_factory=list)  # bone_angles of the frames with a person

    @property
    def angle(self) -> list[float]:
        """Each frame with a person: its mean bone angle (:func:`mean_angle`)."""
        return [mean_angle(b) for b in self.bones]

    def per_bone(self) -> dict[str, tuple[float, float]]:
        """Each limb bone's mean angle and the share of the frames with a person where it was measured."""
        out = {}
        for name in sk.LIMB_BONES:
            v = np.array([b[name] for b in self.bones], np.float64)
            seen = ~np.isnan(v)
            out[name] = (float(v[seen].mean()) if seen.any() else math.nan, float(seen.mean()) if len(v) else math.nan)
        return out

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
        if lm is not None:
            scores.bones.append(bone_angles(lm, driving_pose))
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
