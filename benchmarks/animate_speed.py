"""Per-frame time and peak RSS of `internet animate` (issue: foundation).

Runs the real CLI in subprocesses on a generated 512x512 driving video, with random weights of
the chosen preset (speed does not depend on training), and prints, side by side from one run:
- a 2048x2048 fp32 matmul probe (GFLOP/s), to tell whether the machine was quiet;
- seconds per frame of the whole job (decode + model + encode) for a short and a long video;
- peak RSS of each run, to show memory is flat in video length.

    python benchmarks/animate_speed.py --preset paper-512 --short 50 --long 500
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import matmul_probe  # noqa: E402  (one probe for every benchmark)


def make_driving(path: Path, frames: int, size: int = 512, fps: int = 30) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width = s.height = size
        s.pix_fmt = "yuv420p"
        s.codec_context.options = {"preset": "ultrafast"}
        yy, xx = np.mgrid[0:size, 0:size]
        for i in range(frames):
            x0 = int((i * 7) % (size - 100))
            img = np.stack([xx % 256, yy % 256, np.full_like(xx, (i * 3) % 256)], -1).astype(np.uint8)
            img[200:400, x0 : x0 + 100] = 255
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def run_animate(source: Path, driving: Path, weights: Path, out: Path, batch: int,
                backend: str) -> tuple[float, float, float]:
    """(wall seconds, peak RSS GiB, model s/frame) of one `internet animate` process."""
    argv = ["internet", "animate", str(source), str(driving), "-o", str(out), "-w", str(weights), "--overwrite",
            "--batch-size", str(batch), "--backend", backend]
    # The child reports its own peak RSS when it exits.
    code = ("import atexit, resource, sys; atexit.register(lambda: sys.stderr.write("
            "'PEAK_RSS_KB %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)); "
            f"sys.argv = {argv!r}; from internet_cli.cli.app import main; main()")
    cmd = [sys.executable, "-c", code]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"animate failed: {proc.stderr.strip()[-500:]}")
    m = re.search(r"model ([\d.]+) s/frame", proc.stderr)
    model_spf = float(m.group(1)) if m else float("nan")
    rss = int(re.search(r"PEAK_RSS_KB (\d+)", proc.stderr).group(1)) / 2**20
    return wall, rss, model_spf


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="paper-512")
    ap.add_argument("--short", type=int, default=50)
    ap.add_argument("--long", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--backend", default="onnx", choices=["onnx", "torch"])
    args = ap.parse_args()

    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        weights = tmp / "w.safetensors"
        subprocess.run([sys.executable, "-m", "internet_cli", "init", args.preset, "-o", str(weights)], check=True,
                       capture_output=True)
        if args.backend == "onnx":  # export once, outside the timed runs (animate would cache it too)
            subprocess.run([sys.executable, "-m", "internet_cli", "export", "--onnx", "-w", str(weights), "-o",
                            str(tmp / "onnx")], check=True, capture_output=True)
            weights = tmp / "onnx"
        source = tmp / "source.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (512, 512, 3), dtype=np.uint8)).save(source)
        probe_before = matmul_probe()
        rows = []
        for n in (args.short, args.long):
            drv = make_driving(tmp / f"drv{n}.mp4", n)
            wall, rss, model_spf = run_animate(source, drv, weights, tmp / "out.mp4", args.batch_size, args.backend)
            rows.append((n, wall, wall / n, model_spf, rss))
        probe_after = matmul_probe()
    print(f"machine: {os.cpu_count()} cpus, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"matmul probe: {probe_before:.0f} GFLOP/s before, {probe_after:.0f} GFLOP/s after")
    print(f"preset {args.preset}, backend {args.backend}, batch {args.batch_size}")
    print("| driving frames | wall s | s/frame (whole job) | s/frame (model) | peak RSS GiB |")
    print("|---|---|---|---|---|")
    for n, wall, spf, mspf, rss in rows:
        print(f"| {n} | {wall:.1f} | {spf:.3f} | {mspf:.3f} | {rss:.2f} |")
    print(f"long/short peak RSS ratio: {rows[1][4] / rows[0][4]:.3f}")


if __name__ == "__main__":
    main()
