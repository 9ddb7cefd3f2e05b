"""A skeleton picture of landmarks: what ``--side-by-side`` shows for a ``.pose.npz`` driving."""

from __future__ import annotations

import numpy as np

from internet_cli.pose import skeleton as sk

_LINES = [p.bone for p in sk.PARTS if p.bone is not None] + [
    (sk.L_SHOULDER, sk.R_SHOULDER), (sk.L_HIP, sk.R_HIP), (sk.L_SHOULDER, sk.L_HIP), (sk.R_SHOULDER, sk.R_HIP),
    (sk.L_EAR, sk.L_EYE), (sk.L_EYE, sk.NOSE), (sk.NOSE, sk.R_EYE), (sk.R_EYE, sk.R_EAR)]


def draw_skeleton(landmarks: np.ndarray | None, size: int) -> np.ndarray:
    """``(size, size, 3)`` uint8: the visible bones of pixel landmarks ``(33, 3)`` on black."""
    import cv2

    img = np.zeros((size, size, 3), np.uint8)
    if landmarks is None:
        return img
    width = max(1, size // 128)
    for i, j in _LINES:
        if min(landmarks[i, 2], landmarks[j, 2]) >= sk.VISIBLE:
            a, b = (tuple(int(round(v * 16)) for v in landmarks[k, :2] - 0.5) for k in (i, j))
            colour = (80, 200, 255) if landmarks[j, 0] >= landmarks[i, 0] else (255, 160, 80)
            cv2.line(img, a, b, colour, width, cv2.LINE_AA, shift=4)
    return img
