"""``NAME.pose.npz``: a video's body landmarks, one row per frame (docs/pose.md).

Written by ``internet synth`` (the renderer's exact joints), ``internet prepare`` and
``internet train`` (MediaPipe on real videos), and ``internet animate --save-pose`` (a driving
video's smoothed landmarks, reusable as a motion template). Arrays:

- ``landmarks``: ``(T, 33, 3)`` float32, continuous pixel ``x, y`` of the video frame (pixel ``i``
  spans ``[i, i + 1)``) and a visibility in [0, 1]; rows where nothing was found are all 0;
- ``found``: ``(T,)`` bool, a person was found;
- ``frame_size``: ``(2,)`` int, width and height of the frames the pixels refer to;
- ``origin``: ``"synth"`` (exact joints), ``"mediapipe"`` (detected) or ``"animate"`` (detected
  in model-size driving frames, smoothed); ``fps``: float.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from internet_cli.atomic import atomic_path
from internet_cli.errors import InputError
from internet_cli.pose.skeleton import NUM_LANDMARKS

POSE_SUFFIX = ".pose.npz"


def is_pose_file(path: Path) -> bool:
    return Path(path).name.lower().endswith(POSE_SUFFIX)


@dataclass
class PoseTrack:
    landmarks: np.ndarray  # (T, 33, 3) float32
    found: np.ndarray  # (T,) bool
    frame_size: tuple[int, int]  # (width, height)
    origin: str
    fps: float = 0.0

    def __len__(self) -> int:
        return len(self.landmarks)

    def on_square(self, size: int) -> np.ndarray:
        """The landmarks on the grid of ``to_square(frame, size)`` (the model's framing), pixels."""
        w, h = self.frame_size
        side = max(w, h)
        out = np.array(self.landmarks, np.float64)
        out[..., 0] += (side - w) // 2
        out[..., 1] += (side - h) // 2
        out[..., :2] *= size / side
        return out


def save_pose(path: Path, track: PoseTrack) -> None:
    """Write ``track`` atomically (a temporary file beside ``path``, then renamed)."""
    path = Path(path)
    with atomic_path(path, suffix=".npz") as tmp:  # savez adds .npz to a name without it
        np.savez_compressed(tmp, landmarks=np.asarray(track.landmarks, np.float32),
                            found=np.asarray(track.found, bool), frame_size=np.asarray(track.frame_size, np.int64),
                            origin=np.array(track.origin), fps=np.array(float(track.fps)))


def load_pose(path: Path) -> PoseTrack:
    """Read a ``.pose.npz``; a file that is not one is a one-line :class:`InputError`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            lm = np.asarray(z["landmarks"], np.float32)
            found = np.asarray(z["found"], bool)
            size = tuple(int(v) for v in z["frame_size"])
            origin, fps = str(z["origin"]), float(z["fps"])
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise InputError(f"{path}: not a readable pose file ({exc})") from None
    if lm.ndim != 3 or lm.shape[1:] != (NUM_LANDMARKS, 3) or found.shape != lm.shape[:1] or len(size) != 2:
        raise InputError(f"{path}: landmarks of shape {lm.shape} are not (T, {NUM_LANDMARKS}, 3)")
    return PoseTrack(lm, found, (size[0], size[1]), origin, fps)
