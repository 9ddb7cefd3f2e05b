"""``NAME.pose.npz`` for every training video that lacks one: MediaPipe Pose over its frames.

Pose-mode training (``motion.anchors = "pose"``) reads the anchors of source and driving frames
from these files (docs/pose.md). ``internet synth`` writes them from the renderer's exact joints;
for real videos ``internet prepare`` (after cropping), ``internet prepare-pose DIR`` and
``internet train`` (for whatever is still missing) run MediaPipe in its tracking mode, one
tracker per video, on the frames at their own size. The landmarks are stored raw (not smoothed):
training adds detector-like noise of its own. A file older than its video is computed again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from internet_cli.clips.layout import VideoEntry, scan_split, source_mtime_ns
from internet_cli.pose.files import POSE_SUFFIX, PoseTrack, save_pose
from internet_cli.pose.skeleton import NUM_LANDMARKS


@dataclass
class PoseReport:
    computed: list[Path] = field(default_factory=list)
    up_to_date: list[Path] = field(default_factory=list)
    frames: int = 0
    found: int = 0
    seconds: float = 0.0


def is_up_to_date(entry: VideoEntry) -> bool:
    path = entry.side_file(POSE_SUFFIX)
    try:
        return path.stat().st_mtime_ns >= source_mtime_ns(entry)
    except OSError:
        return False


def entry_pose(entry: VideoEntry, on_frames: Callable[[int], None] | None = None) -> PoseTrack:
    """MediaPipe (tracking mode) over every frame of ``entry``."""
    from internet_cli.clips.prepare_crops import entry_frames
    from internet_cli.pose.estimator import PoseEstimator

    rows, found, size = [], [], (0, 0)
    with PoseEstimator(video=True) as estimator:
        for image in entry_frames(entry):
            size = (image.shape[1], image.shape[0])
            lm = estimator(image)
            found.append(lm is not None)
            rows.append(lm if lm is not None else np.zeros((NUM_LANDMARKS, 3), np.float32))
            if on_frames:
                on_frames(1)
    return PoseTrack(np.stack(rows), np.array(found, bool), size, "mediapipe", float(entry.fps or 0.0))


def prepare_pose(root: Path | str, splits=("train", "test"),
                 on_entry: Callable[[VideoEntry, int], Callable[[int], None]] | None = None) -> PoseReport:
    """Write ``NAME.pose.npz`` beside every video of ``root/{split}`` that lacks an up-to-date one."""
    report = PoseReport()
    t0 = time.perf_counter()
    for split in splits:
        if not (Path(root) / split).is_dir():
            continue
        for entry in scan_split(root, split):
            path = entry.side_file(POSE_SUFFIX)
            if is_up_to_date(entry):
                report.up_to_date.append(path)
                continue
            track = entry_pose(entry, on_entry(entry, entry.num_frames) if on_entry else None)
            save_pose(path, track)
            report.computed.append(path)
            report.frames += len(track)
            report.found += int(track.found.sum())
    report.seconds = time.perf_counter() - t0
    return report
