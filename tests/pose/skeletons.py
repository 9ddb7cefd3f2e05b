"""Synthetic skeletons in MediaPipe's layout (normalised coordinates) for the pose tests."""

from __future__ import annotations

import numpy as np

from internet_cli.pose import skeleton as sk


def standing(scale: float = 1.0, centre=(0.0, 0.0), arm: float = 1.0, leg: float = 1.0,
             arm_angle: float = 0.0) -> np.ndarray:
    """A front-facing figure with every landmark visible; ``arm`` and ``leg`` scale the limb
    lengths (proportions), ``scale`` the whole figure; ``arm_angle`` (radians) raises both
    upper arms outwards from hanging straight down."""
    lm = np.zeros((sk.NUM_LANDMARKS, 3))
    lm[:, 2] = 0.95
    pts = {sk.L_SHOULDER: (0.15, -0.3), sk.R_SHOULDER: (-0.15, -0.3), sk.L_HIP: (0.1, 0.1), sk.R_HIP: (-0.1, 0.1),
           sk.NOSE: (0.0, -0.45), sk.L_EYE: (0.03, -0.48), sk.R_EYE: (-0.03, -0.48), sk.L_EAR: (0.07, -0.47),
           sk.R_EAR: (-0.07, -0.47), sk.MOUTH_L: (0.02, -0.42), sk.MOUTH_R: (-0.02, -0.42)}
    for idx in (sk.L_EYE_INNER, sk.L_EYE_OUTER):
        pts[idx] = pts[sk.L_EYE]
    for idx in (sk.R_EYE_INNER, sk.R_EYE_OUTER):
        pts[idx] = pts[sk.R_EYE]
    for i, xy in pts.items():
        lm[i, :2] = xy
    for s, (sh, el, wr, hip, kn, an) in ((1, (11, 13, 15, 23, 25, 27)), (-1, (12, 14, 16, 24, 26, 28))):
        d = np.array([s * np.sin(arm_angle), np.cos(arm_angle)])
        lm[el, :2] = lm[sh, :2] + 0.18 * arm * d
        lm[wr, :2] = lm[el, :2] + 0.16 * arm * d
        lm[kn, :2] = lm[hip, :2] + np.array([0.0, 0.25 * leg])
        lm[an, :2] = lm[kn, :2] + np.array([0.0, 0.24 * leg])
    for wr, extra in ((15, (17, 19, 21)), (16, (18, 20, 22))):
        lm[list(extra), :2] = lm[wr, :2] + np.array([0.0, 0.03])
    for an, extra in ((27, (29, 31)), (28, (30, 32))):
        lm[list(extra), :2] = lm[an, :2] + np.array([0.0, 0.02])
    lm[:, :2] = lm[:, :2] * scale + np.asarray(centre)
    return lm


def rotate_about(lm: np.ndarray, ids, pivot: int, angle: float) -> np.ndarray:
    """``lm`` with the landmarks ``ids`` rotated by ``angle`` about landmark ``pivot``."""
    out = lm.copy()
    c, s = np.cos(angle), np.sin(angle)
    r = np.array([[c, -s], [s, c]])
    out[list(ids), :2] = (lm[list(ids), :2] - lm[pivot, :2]) @ r.T + lm[pivot, :2]
    return out


def bone_length(lm: np.ndarray, bone) -> float:
    return float(np.hypot(*(lm[bone[1], :2] - lm[bone[0], :2])))


def bone_angle(lm: np.ndarray, bone) -> float:
    v = lm[bone[1], :2] - lm[bone[0], :2]
    return float(np.arctan2(v[1], v[0]))
