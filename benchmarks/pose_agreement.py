"""How far MediaPipe's landmarks lie from ``internet synth``'s exact joints, on synthetic frames.

    python benchmarks/pose_agreement.py [--videos 12] [--frames 5] [--size 512]

Renders ``--videos`` synthetic dancers (seeds 1000, 1001, ...), runs MediaPipe Pose (static mode)
on ``--frames`` evenly spaced frames of each, and prints, per joint group, the median and 90th
percentile of the distance between MediaPipe's landmark and the renderer's joint, in pixels at
``--size`` and as a share of the figure's height (the renderer's head-to-ankle extent), plus how
often MediaPipe found the figure. docs/pose.md quotes its output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from internet_cli.clips.synth import render_video  # noqa: E402
from internet_cli.pose import skeleton as sk  # noqa: E402
from internet_cli.pose.estimator import PoseEstimator  # noqa: E402

GROUPS = {
    "nose": (sk.NOSE,),
    "shoulders": (sk.L_SHOULDER, sk.R_SHOULDER),
    "elbows": (sk.L_ELBOW, sk.R_ELBOW),
    "wrists": (sk.L_WRIST, sk.R_WRIST),
    "hips": (sk.L_HIP, sk.R_HIP),
    "knees": (sk.L_KNEE, sk.R_KNEE),
    "ankles": (sk.L_ANKLE, sk.R_ANKLE),
}


def distances(videos: int, frames: int, size: int):
    """``(found, total, {group: [(px, share of height), ...]})``."""
    out = {g: [] for g in GROUPS}
    found = total = 0
    with PoseEstimator(video=False) as est:
        for i in range(videos):
            video = render_video(1000 + i, 60, size)
            for t in np.linspace(0, 59, frames).round().astype(int):
                total += 1
                mp = est(video.frames[t])
                if mp is None:
                    continue
                found += 1
                gt = video.landmarks[t]
                height = float(np.ptp(gt[:, 1]))
                for g, ids in GROUPS.items():
                    for j in ids:
                        if mp[j, 2] >= sk.VISIBLE:
                            d = float(np.hypot(*(mp[j, :2] - gt[j, :2])))
                            out[g].append((d, d / height))
    return found, total, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()
    found, total, groups = distances(args.videos, args.frames, args.size)
    print(f"MediaPipe found the figure in {found} of {total} frames")
    print(f"| joints | n | median px | 90% px | median / height | 90% / height |")
    print("|---|---|---|---|---|---|")
    everything = []
    for g, vals in list(groups.items()) + [("all", None)]:
        v = np.array(everything if vals is None else vals)
        everything += vals or []
        print(f"| {g} | {len(v)} | {np.median(v[:, 0]):.1f} | {np.percentile(v[:, 0], 90):.1f} | "
              f"{np.median(v[:, 1]):.3f} | {np.percentile(v[:, 1], 90):.3f} |")


if __name__ == "__main__":
    main()
