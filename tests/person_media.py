"""Videos of a real person for the crop tests: scikit-image's astronaut photo moving over a background."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

H, W = 432, 768
NOSE_IN_PHOTO = (295, 151)  # where MediaPipe puts the astronaut's nose in the 512x512 photo


def person_frames(astronaut: np.ndarray, frames: int = 36, gap: tuple[int, int] | None = None,
                  size: tuple[int, int] = (W, H)):
    """``[(frame, (nose_x, nose_y))]``: the photo moving right and growing; ``gap``: frames ``[a, b)`` empty."""
    import cv2

    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    background = np.stack([60 + 40 * xx / w, 80 + 30 * yy / h, 110 + 0 * xx], -1).astype(np.uint8)
    out = []
    for i in range(frames):
        t = i / max(1, frames - 1)
        s = int(round((260 + 50 * t) * h / H))
        x = int(round(30 + (w - s - 60) * t))
        y = int(round((60 + 25 * np.sin(i / 6)) * h / H))
        img = background.copy()
        if gap is None or not gap[0] <= i < gap[1]:
            img[y:y + s, x:x + s] = cv2.resize(astronaut, (s, s), interpolation=cv2.INTER_AREA)
        out.append((img, (x + NOSE_IN_PHOTO[0] / 512 * s, y + NOSE_IN_PHOTO[1] / 512 * s)))
    return out


def write_video(path: Path, frames, fps: int = 25, crf: int = 12) -> Path:
    from internet_cli.video.writer import VideoWriter

    first = frames[0][0] if isinstance(frames[0], tuple) else frames[0]
    with VideoWriter(path, fps=Fraction(fps), size=(first.shape[1], first.shape[0]), crf=crf) as w:
        for i, item in enumerate(frames):
            w.write(item[0] if isinstance(item, tuple) else item, i / fps)
    return path
