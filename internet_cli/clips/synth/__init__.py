"""Synthetic dance / fashion videos with exact ground-truth optical flow (`internet synth`).

Each video shows one articulated, textured, human-like figure on a plain studio background:
head (hair, eyes, brows, mouth), neck, torso, arms, hands, legs, feet and a deformable skirt,
dress or coat whose hem lags the hips. The figure dances (smooth periodic joint angles, body
sway) and walks slowly toward the camera (scale-up and downward drift, as on a runway).

Everything is rendered by *inverse mapping*: every part has a transform from its own local
frame (where its texture lives) to the image. Rigid parts use one affine transform; the
garment is a triangle mesh, one affine transform per triangle (piecewise affine). A per-pixel
ownership map records which part/triangle was drawn on top, so the ground-truth flow is exact:
for a pixel ``p`` of frame ``t-1`` owned by piece ``k``, ``flow[t](p) = A_k(t) A_k(t-1)^-1 p - p``
(see ``docs/design.md`` for the flow convention and ``docs/synth.md`` for the file format).

The package follows the data flow: ``figure`` (body proportions, periodic or captured motion
from ``clips/mocap.py``, the garment mesh), ``photos`` and ``prints`` (what the parts are printed
with), ``geometry`` (local frames, outlines, coverage, triangles), ``scene`` (one video: parts,
pose per frame, rendering, exact flow), and here the public API and the dataset writer.

Deterministic for a seed; numpy/OpenCV only (scikit-image photos are used as garment textures
when it is importable, procedural prints otherwise).
"""


from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from internet_cli.atomic import atomic_path, write_text
from internet_cli.clips.synth.photos import (  # noqa: F401 - photo_folders, _photo, ...: the package's API
    _PHOTO_NAMES, _photo, background_photos, photo_folders, photos_available, texture_photos)
from internet_cli.clips.synth.scene import _Scene
from internet_cli.pose.files import POSE_SUFFIX, PoseTrack, save_pose


__all__ = ["SynthVideo", "render_video", "write_dataset", "split_counts", "video_seed", "GT_SUFFIX"]

GT_SUFFIX = ".gt.npz"
SYNTH_FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


@dataclass
class SynthVideo:
    """One rendered video and its exact ground truth (conventions: docs/design.md)."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    flow: np.ndarray  # (T, 2, H, W) float32, pixels, (dx, dy) on frame t-1 into frame t; flow[0] = 0
    mask: np.ndarray  # (T, H, W) uint8 in {0, 1}: figure foreground of frame t
    visible: np.ndarray  # (T, H, W) uint8 in {0, 1}: pixel of frame t-1 still visible in frame t
    source_visible: np.ndarray  # (T, H, W) uint8 in {0, 1}: pixel of frame t that frame 0 (the source) shows
    landmarks: np.ndarray  # (T, 33, 3) float32: the joints (x, y, visibility), :meth:`_Scene.landmarks`
    fps: int = 30
    seed: int = 0


MOTIONS = ("periodic", "mocap")  # smooth periodic joint angles | DeepMimic's motion capture (clips/mocap.py)


def _check(frames: int, size: int, fps: int, motion: str = "periodic") -> None:
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {', '.join(MOTIONS)}, got {motion!r}")
    if motion == "mocap":
        from internet_cli.clips.mocap import motions_dir

        motions_dir()  # InputError, one line, without pybullet
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if size < 32:
        raise ValueError(f"size must be >= 32, got {size}")
    if fps < 1:
        raise ValueError(f"fps must be >= 1, got {fps}")


def _iter_video(scene: _Scene, landmarks: list | None = None
                ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(frame, flow, mask, visible, source_visible)`` for t = 0..T-1 (flow float32 (2,H,W),
    others uint8); each frame's joints (:meth:`_Scene.landmarks`) are appended to ``landmarks``
    when given. ``source_visible``: the pixels of frame t whose surface frame 0 shows (a body
    point not hidden there, or background not behind the person there)."""
    frames, size = scene.T, scene.size
    prev = first = None
    for t in range(frames):
        cur = scene.render(t)
        if prev is None:
            first = cur
            flow = np.zeros((2, size, size), np.float32)
            visible = seen = np.ones((size, size), np.uint8)
        else:
            flow, visible = scene.flow(prev, cur)
            seen = scene.flow(cur, first)[1]
        if landmarks is not None:
            landmarks.append(scene.landmarks(t))
        yield cur.image, flow, (cur.parts > 0).astype(np.uint8), visible, seen
        prev = cur


def render_video(seed: int, frames: int, size: int, fps: int = 30, photo_backgrounds: float = 0.0,
                 motion: str = "periodic") -> SynthVideo:
    """Render one synthetic video (deterministic for ``seed``) with its exact ground truth.
    ``photo_backgrounds``: the probability that the background is a real photo; ``motion``: one of
    ``MOTIONS``."""
    _check(frames, size, fps, motion)
    T = int(frames)
    landmarks: list[np.ndarray] = []
    out = SynthVideo(np.empty((T, size, size, 3), np.uint8), np.empty((T, 2, size, size), np.float32),
                     *(np.empty((T, size, size), np.uint8) for _ in range(3)),
                     np.empty((T, 33, 3), np.float32), int(fps), int(seed))
    scene = _Scene(seed, T, size, fps, photo_backgrounds, motion)
    for t, (img, flow, mask, vis, seen) in enumerate(_iter_video(scene, landmarks)):
        out.frames[t], out.flow[t], out.mask[t], out.visible[t], out.source_visible[t] = img, flow, mask, vis, seen
    out.landmarks[:] = np.stack(landmarks)
    return out


def arm_angles(seed: int, frames: int, fps: int = 30, motion: str = "periodic") -> np.ndarray:
    """``(frames, 4)`` degrees: shoulder and elbow of one side, then of the other, in each frame of
    ``render_video(seed, frames, fps=fps, motion=motion)`` (the motion alone, nothing is rendered)."""
    m = _Scene(seed, frames, 64, fps, motion=motion).motion  # the motion does not depend on the frame size
    joints = (m.abd[-1], m.elbow[-1], m.abd[1], m.elbow[1])
    return np.degrees([[joint(t / fps) for joint in joints] for t in range(frames)])


def video_seed(seed: int, index: int) -> int:
    """The per-video seed used by :func:`write_dataset` for video number ``index``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint32)[0])


def split_counts(videos: int, test_fraction: float) -> tuple[int, int]:
    """(train, test) counts: at least one test video when videos >= 2, at least one train video."""
    if videos < 1:
        raise ValueError(f"videos must be >= 1, got {videos}")
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
    if videos == 1:
        return 1, 0
    n_test = min(videos - 1, max(1, int(round(videos * test_fraction))))
    return videos - n_test, n_test


def _video_writer(path: Path, fps: int, size: int):
    from internet_cli.video.writer import VideoWriter

    # the dataset folder was checked (and cleared with --overwrite) by the caller
    return VideoWriter(path, fps=fps, size=size, crf=15, overwrite=True)


def clear_previous(out: Path) -> None:
    """Remove what an earlier `internet synth` wrote into ``out`` (used by --overwrite)."""
    for split in ("train", "test"):
        d = out / split
        if d.is_dir():
            for f in d.glob("synth_*"):
                if f.is_dir():
                    shutil.rmtree(f)
                else:
                    f.unlink()
    (out / "synth.json").unlink(missing_ok=True)


def _dataset_meta(args: dict, names: dict[str, list[str]], mocap: list[dict]) -> dict:
    """What ``synth.json`` says of a dataset: its arguments, videos, photos and ground-truth layout."""
    from internet_cli import __version__

    seed, videos, photo_backgrounds = args["seed"], args["videos"], args["photo_backgrounds"]
    return {
        "generator": "internet synth",
        "version": __version__,
        "format_version": SYNTH_FORMAT_VERSION,
        "args": args,
        "video_seeds": [video_seed(seed, i) for i in range(videos)],
        "train": names["train"],
        "test": names["test"],
        "photo_textures": texture_photos(),
        "background_photos": background_photos() if photo_backgrounds > 0 else [],
        "mocap": mocap,  # per video: the DeepMimic clips chained, speed and camera (clips/mocap.py)
        "gt": {"suffix": GT_SUFFIX, "flow": "(T,2,H,W) float16 pixels (dx,dy) from frame t-1 into frame t",
               "mask": "(T,H,W) uint8 figure foreground of frame t",
               "visible": "(T,H,W) uint8 pixel of frame t-1 visible in frame t",
               "source_visible": "(T,H,W) uint8 pixel of frame t shown by frame 0 (the source)",
               "pose": f"NAME{POSE_SUFFIX}: (T,33,3) joints in MediaPipe's layout (docs/pose.md)"},
    }


def write_dataset(out: Path, videos: int, frames: int, size: int, seed: int, fps: int = 30,
                  test_fraction: float = 0.2, photo_backgrounds: float = 0.0, motion: str = "periodic",
                  progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write ``videos`` synthetic videos (+ ``NAME.gt.npz``, ``NAME.pose.npz``) into ``out/train``
    and ``out/test``; ``photo_backgrounds`` is the probability of a real-photo background,
    ``motion`` how the dancers move (``MOTIONS``).

    Video ``i`` is ``synth_{i:04d}.mp4`` rendered with seed ``video_seed(seed, i)``; the last
    ``n_test`` videos go to ``test/``. ``progress(done_frames, total_frames)`` is called after
    every frame. Returns the paths of the video files, in index order.
    """
    _check(frames, size, fps, motion)
    n_train, n_test = split_counts(videos, test_fraction)
    out = Path(out)
    for split in ("train", "test"):
        (out / split).mkdir(parents=True, exist_ok=True)
    total, done = videos * frames, 0
    paths: list[Path] = []
    names = {"train": [], "test": []}
    mocap: list[dict] = []
    for i in range(videos):
        split = "train" if i < n_train else "test"
        name = f"synth_{i:04d}"
        path = out / split / f"{name}.mp4"
        flow = np.empty((frames, 2, size, size), np.float16)
        mask = np.empty((frames, size, size), np.uint8)
        visible = np.empty((frames, size, size), np.uint8)
        source_visible = np.empty((frames, size, size), np.uint8)
        landmarks: list[np.ndarray] = []
        with _video_writer(path, fps, size) as writer:
            scene = _Scene(video_seed(seed, i), frames, size, fps, photo_backgrounds, motion)
            if scene.mocap is not None:
                mocap.append({"video": path.name, **scene.mocap.describe()})
            for t, (img, f, m, v, sv) in enumerate(_iter_video(scene, landmarks)):
                writer.write(img)
                flow[t], mask[t], visible[t], source_visible[t] = f, m, v, sv
                done += 1
                if progress is not None:
                    progress(done, total)
        with atomic_path(out / split / f"{name}{GT_SUFFIX}", suffix=".npz") as tmp:
            np.savez_compressed(tmp, flow=flow, mask=mask, visible=visible, source_visible=source_visible)
        save_pose(out / split / f"{name}{POSE_SUFFIX}",
                  PoseTrack(np.stack(landmarks), np.ones(frames, bool), (size, size), "synth", fps))
        del flow, mask, visible, source_visible
        paths.append(path)
        names[split].append(path.name)
    args = {"videos": videos, "frames": frames, "size": size, "seed": seed, "fps": fps,
            "test_fraction": test_fraction, "photo_backgrounds": photo_backgrounds, "motion": motion}
    meta = _dataset_meta(args, names, mocap)
    write_text(out / "synth.json", json.dumps(meta, indent=2) + "\n")
    return paths
