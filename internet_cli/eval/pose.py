"""Pose metrics for ``internet evaluate --pose``: AKD and MKR (FOMM's keypoint metrics, with MediaPipe Pose).

FOMM scores its outputs with keypoints from a separate detector; we use MediaPipe Pose (33 body
landmarks, static mode: every frame is detected afresh, so a method's earlier frames do not help
its later ones):

- **AKD** (average keypoint distance): per frame, the mean distance in pixels, at the evaluation
  size, between the landmarks of the output and of the real frame, over the landmarks visible
  (visibility >= 0.5) in both. Frames where either pose is missing, or none is visible in both,
  do not count towards AKD (they count in MKR).
- **MKR** (missing keypoint rate): per frame, the share of the landmarks visible in the real frame
  that are not visible (or not detected at all) in the output. Frames whose real pose has no
  visible landmark do not count.

Both are frame-weighted means. Identical frames score AKD 0 and MKR 0 (the detector is
deterministic); an output with no person scores MKR 1.
"""

from __future__ import annotations

import numpy as np

from internet_cli.pose.skeleton import VISIBLE

POSE_METRICS = ("akd", "mkr")
POSE_METRIC_INFO = {
    "akd": {"label": "AKD", "better": "lower", "per": "frame",
            "text": "mean distance (px at the evaluation size) between MediaPipe Pose landmarks of output and real "
                    "frame, over landmarks visible (>= 0.5) in both; frames without both poses skipped"},
    "mkr": {"label": "MKR", "better": "lower", "per": "frame",
            "text": "share of the landmarks visible in the real frame that are not visible in the output "
                    "(MediaPipe Pose, static mode)"},
}


class PoseDetector:
    """Landmarks of frames, ``(33, 3)`` ``(x px, y px, visibility)`` or None; static mode."""

    def __init__(self):
        from internet_cli.pose.estimator import PoseEstimator

        self._est = PoseEstimator(video=False)

    def __call__(self, frames: np.ndarray) -> list[np.ndarray | None]:
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        return [self._est(f) for f in frames]

    def close(self) -> None:
        self._est.close()


def frame_akd(real: np.ndarray | None, out: np.ndarray | None) -> float:
    """AKD of one frame (NaN when it does not count)."""
    if real is None or out is None:
        return float("nan")
    both = (real[:, 2] >= VISIBLE) & (out[:, 2] >= VISIBLE)
    if not both.any():
        return float("nan")
    return float(np.linalg.norm(real[both, :2] - out[both, :2], axis=1).mean())


def frame_mkr(real: np.ndarray | None, out: np.ndarray | None) -> float:
    """MKR of one frame (NaN when the real frame has no visible landmark)."""
    if real is None:
        return float("nan")
    seen = real[:, 2] >= VISIBLE
    if not seen.any():
        return float("nan")
    if out is None:
        return 1.0
    missing = seen & (out[:, 2] < VISIBLE)
    return float(missing.sum() / seen.sum())


def pose_scores(real: list, out: list) -> dict[str, np.ndarray]:
    """Per-frame ``{"akd": (T,), "mkr": (T,)}`` (NaN where a frame does not count)."""
    if len(real) != len(out):
        raise ValueError(f"{len(real)} real poses but {len(out)} output poses")
    return {"akd": np.array([frame_akd(r, o) for r, o in zip(real, out)], np.float64),
            "mkr": np.array([frame_mkr(r, o) for r, o in zip(real, out)], np.float64)}


def _mean(v: np.ndarray) -> float | None:
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else None


def akd(real_frames: np.ndarray, out_frames: np.ndarray, detector: PoseDetector | None = None) -> float | None:
    """AKD between two clips of equal shape ``(T, S, S, 3)`` uint8 (None: no frame counts)."""
    return _evaluate(real_frames, out_frames, detector)["akd"]


def mkr(real_frames: np.ndarray, out_frames: np.ndarray, detector: PoseDetector | None = None) -> float | None:
    """MKR between two clips of equal shape (None: no real frame has a visible landmark)."""
    return _evaluate(real_frames, out_frames, detector)["mkr"]


def _evaluate(real_frames, out_frames, detector):
    own = detector is None
    det = PoseDetector() if own else detector
    try:
        scores = pose_scores(det(real_frames), det(out_frames))
    finally:
        if own:
            det.close()
    return {k: _mean(v) for k, v in scores.items()}


class PoseTotals:
    """Frame-weighted sums and counts of the pose metrics per method key (mergeable across videos)."""

    def __init__(self):
        self.sums: dict[str, dict[str, float]] = {}
        self.counts: dict[str, dict[str, int]] = {}

    def add(self, key: str, scores: dict[str, np.ndarray]) -> None:
        s = self.sums.setdefault(key, dict.fromkeys(POSE_METRICS, 0.0))
        c = self.counts.setdefault(key, dict.fromkeys(POSE_METRICS, 0))
        for k in POSE_METRICS:
            v = np.asarray(scores[k], np.float64).ravel()
            v = v[np.isfinite(v)]
            s[k] += float(v.sum())
            c[k] += int(v.size)

    def merge(self, other: PoseTotals) -> None:
        for key in other.sums:
            s = self.sums.setdefault(key, dict.fromkeys(POSE_METRICS, 0.0))
            c = self.counts.setdefault(key, dict.fromkeys(POSE_METRICS, 0))
            for k in POSE_METRICS:
                s[k] += other.sums[key][k]
                c[k] += other.counts[key][k]

    def means(self, key: str) -> dict[str, float | None]:
        s, c = self.sums.get(key, {}), self.counts.get(key, {})
        return {k: (s[k] / c[k] if c.get(k) else None) for k in POSE_METRICS}


class PoseAccumulator(PoseTotals):
    """Pose scores over a streamed evaluation: real poses once per batch, then each method's outputs."""

    def __init__(self):
        super().__init__()
        self.detector = PoseDetector()
        self._real: list = []

    def real(self, frames: np.ndarray) -> None:
        """The real frames of the current batch (call before ``method`` for that batch)."""
        self._real = self.detector(frames)

    def method(self, key: str, outputs: np.ndarray) -> dict[str, np.ndarray]:
        scores = pose_scores(self._real, self.detector(outputs))
        self.add(key, scores)
        return scores

    def close(self) -> None:
        self.detector.close()
