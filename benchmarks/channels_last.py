"""The model's per-frame time on CPU with NCHW and with channels-last (NHWC) weights, side by side.

    python benchmarks/channels_last.py                       # the shipped pose-mode weights
    python benchmarks/channels_last.py -w weights/internet-512-learned.safetensors --frames 30

`internet animate`'s torch backend puts the model in channels-last memory on CPU
(:class:`internet_cli.runtime.animator.TorchAnimator`). This script builds the same weights both
ways, animates one real photo (scikit-image's astronaut) with the same driving anchors,
alternating the two for ``--frames`` rounds, and prints the median seconds per frame of each,
their ratio and the largest difference between their uint8 outputs (0: the same frames).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from speed import matmul_probe  # noqa: E402


def animators(weights: Path):
    from internet_cli.checkpoint import load_weights
    from internet_cli.runtime.animator import TorchAnimator

    w = load_weights(weights)
    nhwc = TorchAnimator(w, torch.device("cpu"))
    nchw = TorchAnimator(w, torch.device("cpu"))
    nchw.model.to(memory_format=torch.contiguous_format)
    return {"NCHW": nchw, "channels-last": nhwc}


def one_frame(animator, source: np.ndarray):
    """A closure that animates one frame (the source's own pose moved, or a learned-anchor frame)."""
    if animator.pose_mode:
        from internet_cli.pose.estimator import PoseEstimator
        from internet_cli.pose.parts import normalise, part_frames

        with PoseEstimator(video=False) as pe:
            kp, jac, _ = part_frames(normalise(pe(source), animator.size))
        kp, jac = kp[None].astype(np.float32), jac[None].astype(np.float32)
        jac_d = jac.copy()
        jac_d[0, 2:6] = jac_d[0, 2:6] @ np.array([[0.8, -0.6], [0.6, 0.8]], np.float32)  # arms turned
        state = animator.encode_source(source, (kp, jac))
        return lambda: animator.animate_pose(state, kp, jac_d)
    state = animator.encode_source(source)
    driving = np.ascontiguousarray(source[:, ::-1])
    ref = animator.reference(state, driving, relative=True, adapt_scale=False)
    return lambda: animator.animate(state, driving[None], ref)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-w", "--weights", type=Path, default=ROOT / "weights" / "internet-512.safetensors")
    ap.add_argument("--frames", type=int, default=20)
    args = ap.parse_args()
    import cv2
    import skimage.data

    from internet_cli.devices import configure_torch_threads

    configure_torch_threads()
    print(f"matmul probe before: {matmul_probe():.0f} GFLOP/s; torch threads {torch.get_num_threads()}")
    runs = {name: one_frame(a, cv2.resize(skimage.data.astronaut(), (a.size, a.size)))
            for name, a in animators(args.weights).items()}
    outs = {name: run() for name, run in runs.items()}  # warm-up, and the frames compared
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.frames):
        for name, run in runs.items():
            t = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t)
    print(f"matmul probe after: {matmul_probe():.0f} GFLOP/s")
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, m in med.items():
        print(f"{name:>14}: {m:.3f} s/frame (median of {args.frames})")
    diff = int(np.abs(outs["NCHW"].astype(int) - outs["channels-last"].astype(int)).max())
    print(f"channels-last / NCHW: {med['channels-last'] / med['NCHW']:.3f}; max abs uint8 difference {diff}")


if __name__ == "__main__":
    main()
