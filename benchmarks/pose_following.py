"""Real photos animated by driving dancers: pose following and appearance kept, per method.

    python benchmarks/pose_following.py                         # shipped weights vs the baselines
    python benchmarks/pose_following.py -w A.safetensors -w B.safetensors --max-frames 60

Sources: real photos from outside the project, each framed around one person by ``--crop auto``
(opencv-doc's ``messi5.jpg`` and the left man of ``basketball1.png``, scikit-image's
``astronaut`` and ``camera``). Drivers: ``examples/driving.mp4`` and synthetic dancers of other
seeds. Methods: copy-source (the source, unmoved), the training-free nearest-part baseline, and
each ``-w`` weights file, all through the same streaming pipeline (``internet animate``'s, with
``--side-by-side`` at ``--crf 10`` so that every method's frames are encoded alike), then scored
with :mod:`internet_cli.eval.real_photos`. Prints one markdown table: each method's mean over
all pairs (and per source with ``--per-source``); ``--per-bone`` adds each limb bone's mean angle
per method and source, over the frames of all its drivers.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from internet_cli.eval.real_photos import RealPhotoScorer, RealPhotoScores  # noqa: E402
from internet_cli.pose.skeleton import LIMB_BONES  # noqa: E402
from internet_cli.runtime.pipeline import AnimateOptions, prepare, run  # noqa: E402

OPENCV = Path("/usr/share/doc/opencv-doc/examples/data")
DRIVER_SEEDS = (4242, 777)


def sources(folder: Path) -> dict[str, Path]:
    """The real photos, written as PNG files into ``folder`` (whatever is installed)."""
    import cv2
    import skimage.data as data

    out = {}
    if (OPENCV / "messi5.jpg").is_file():
        out["messi5"] = OPENCV / "messi5.jpg"
    if (OPENCV / "basketball1.png").is_file():
        img = cv2.imread(str(OPENCV / "basketball1.png"))[:, :230]  # the man on the left, whole
        cv2.imwrite(str(folder / "basketball1-left.png"), img)
        out["basketball1-left"] = folder / "basketball1-left.png"
    for name in ("astronaut", "camera"):
        img = np.asarray(getattr(data, name)())
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR if img.ndim == 3 else cv2.COLOR_GRAY2BGR)
        cv2.imwrite(str(folder / f"{name}.png"), img)
        out[name] = folder / f"{name}.png"
    return out


def drivers(folder: Path, frames: int) -> dict[str, Path]:
    from internet_cli.clips.synth import render_video
    from internet_cli.video.writer import VideoWriter

    out = {"examples/driving": ROOT / "examples" / "driving.mp4"}
    for seed in DRIVER_SEEDS:
        path = folder / f"synth-{seed}.mp4"
        video = render_video(seed, frames, 512)
        with VideoWriter(path, fps=30, size=512, crf=12) as w:
            for f in video.frames:
                w.write(f)
        out[f"synth seed {seed}"] = path
    return out


class CopySource:
    """The source, unmoved, as a pose-mode animator (the floor of pose following)."""

    backend = "copy-source"
    pose_mode = True
    size = 512

    def encode_source(self, source, anchors):
        return source

    def animate_pose(self, state, kp, jac):
        return np.repeat(state[None], len(kp), axis=0)


def _only(items: dict[str, Path], names: list[str] | None) -> dict[str, Path]:
    if names and (missing := set(names) - set(items)):
        sys.exit(f"unknown: {', '.join(sorted(missing))}; choose from {', '.join(items)}")
    return {k: v for k, v in items.items() if not names or k in names}


def methods(weights: list[Path], nearest_part: bool = True) -> dict[str, object]:
    from internet_cli.runtime.animator import TorchAnimator
    from internet_cli.runtime.nearest_part import NearestPartAnimator
    from internet_cli.checkpoint import load_weights
    import torch

    out = {"copy-source": lambda: CopySource()}
    if nearest_part:
        out["nearest-part"] = lambda: NearestPartAnimator(512)
    for w in weights:
        out[w.name] = lambda w=w: TorchAnimator(load_weights(w), torch.device("cpu"))
    return out


def score(video: Path) -> RealPhotoScores:
    """Split the side-by-side frames (source | driving | output) and score every output frame."""
    import av

    scores = RealPhotoScores()
    scorer = None
    with av.open(str(video)) as c:
        for frame in c.decode(video=0):
            img = frame.to_ndarray(format="rgb24")
            s = img.shape[0]
            src, drv, out = img[:, :s], img[:, s:2 * s], img[:, 2 * s:]
            if scorer is None:
                scorer = RealPhotoScorer(np.ascontiguousarray(src))
            scorer.add(scores, np.ascontiguousarray(out), scorer.driving_pose(np.ascontiguousarray(drv)))
    scorer.close()
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-w", "--weights", type=Path, action="append", default=None)
    ap.add_argument("--max-frames", type=int, default=60)
    ap.add_argument("--per-source", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="Keep the side-by-side videos in this folder.")
    ap.add_argument("--source", action="append", default=None, help="Only this source (repeatable), e.g. messi5.")
    ap.add_argument("--driver", action="append", default=None,
                    help="Only this driver (repeatable): examples/driving or 'synth seed N'.")
    ap.add_argument("--no-nearest-part", action="store_true", help="Leave the training-free baseline out.")
    ap.add_argument("--per-bone", action="store_true",
                    help="Also print each limb bone's angle and how often it was measured, per method and source.")
    args = ap.parse_args()
    from internet_cli.devices import configure_torch_threads

    configure_torch_threads()
    weights = args.weights or [ROOT / "weights" / "internet-512.safetensors"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        keep = args.keep or tmp
        keep.mkdir(parents=True, exist_ok=True)
        srcs, drvs = _only(sources(tmp), args.source), _only(drivers(tmp, args.max_frames), args.driver)
        rows: dict[str, dict[str, list[dict]]] = {}
        bones: dict[str, dict[str, RealPhotoScores]] = {}
        for mname, make in methods(weights, not args.no_nearest_part).items():
            animator = make()
            for sname, src in srcs.items():
                for dname, drv in drvs.items():
                    out = keep / f"{mname}-{sname}-{Path(dname).name.replace(' ', '_')}.mp4"
                    opts = AnimateOptions(crop="auto", side_by_side=True, crf=10, max_frames=args.max_frames,
                                          overwrite=True, audio=False)
                    job = prepare(src, drv, out, 512, opts)
                    t = time.perf_counter()
                    result = run(job, animator, opts)
                    scores = score(out)
                    bones.setdefault(mname, {}).setdefault(sname, RealPhotoScores()).bones.extend(scores.bones)
                    summary = scores.summary()
                    summary["s_per_frame"] = (time.perf_counter() - t) / max(result.frames, 1)
                    rows.setdefault(mname, {}).setdefault(sname, []).append(summary)
                    print(f"{mname:>28} {sname:>17} {dname:>18}: " + " ".join(
                        f"{k}={v:.4g}" for k, v in summary.items()), flush=True)
        print_table(rows, args.per_source)
        if args.per_bone:
            print_bones(bones)


def _mean(dicts: list[dict], key: str) -> float:
    v = [d[key] for d in dicts if not math.isnan(d[key])]
    return float(np.mean(v)) if v else math.nan


def print_table(rows: dict, per_source: bool) -> None:
    copy = [d for ds in rows["copy-source"].values() for d in ds]
    base = _mean(copy, "bone_angle")
    print("\n| method | source | bone angle (deg) | vs copy-source | no person | face NCC | background |")
    print("|---|---|---|---|---|---|---|")
    for mname, by_source in rows.items():
        groups = list(by_source.items()) if per_source else []
        groups.append(("all", [d for ds in by_source.values() for d in ds]))
        for sname, ds in groups:
            ang = _mean(ds, "bone_angle")
            print(f"| {mname} | {sname} | {ang:.1f} | {ang / base:.2f}x | {_mean(ds, 'no_person'):.1%} | "
                  f"{_mean(ds, 'face'):.3f} | {_mean(ds, 'background'):.4f} |")


def print_bones(bones: dict[str, dict[str, RealPhotoScores]]) -> None:
    """One row per method and source: each bone's mean angle (deg) / share of frames measured."""
    print("\n| method | source | " + " | ".join(n.replace("_", " ") for n in LIMB_BONES) + " |")
    print("|---|---|" + "---|" * len(LIMB_BONES))
    for mname, by_source in bones.items():
        for sname, scores in by_source.items():
            cells = [f"{a:.0f} / {share:.0%}" for a, share in scores.per_bone().values()]
            print(f"| {mname} | {sname} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
