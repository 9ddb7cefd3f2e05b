"""Per-frame time and peak RSS of `internet animate`, end to end, side by side in one run.

Runs the real CLI in subprocesses and prints, from one run:
- a 2048x2048 fp32 matmul probe (GFLOP/s), before and after, to tell whether the machine was quiet;
- seconds per frame of the whole job (decode, pose step, model, encode) for a short and a long video;
- peak RSS of each run, to show memory is flat in video length.

    python benchmarks/animate_speed.py --preset paper-512 --short 50 --long 500
    python benchmarks/animate_speed.py -w weights/internet-512.safetensors \
        -w weights/internet-512-learned.safetensors --short 60 --long 300

Without ``-w``: random weights of ``--preset`` (speed does not depend on training) on a generated
pattern video. With ``-w`` (any number of weights files, pose or learned anchors): each file in
turn for every length, on a real photo (scikit-image's astronaut) driven by a synthetic dancer, so
that the pose step finds a person in every frame as it does in real use. ``--backend onnx
--backend torch`` times each file on both backends in the same run.
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
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
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


def make_dancer(path: Path, frames: int, size: int = 512) -> Path:
    from internet_cli.clips.synth import render_video
    from internet_cli.video.writer import VideoWriter

    video = render_video(4242, frames, size)
    with VideoWriter(path, fps=30, size=size, crf=18) as w:
        for f in video.frames:
            w.write(f)
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
    ap.add_argument("--backend", action="append", choices=["onnx", "torch"], default=None,
                    help="onnx (default) or torch; repeat to time both, side by side")
    ap.add_argument("-w", "--weights", type=Path, action="append", default=None)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        named, source, driving = _inputs(args, tmp)
        backends = args.backend or ["onnx"]
        runs = _runs(named, backends, tmp)
        probe_before = matmul_probe()
        rows = []
        for n in (args.short, args.long):
            drv = driving(n)
            for label, (w, backend) in runs.items():  # alternately, so that a noisy minute hits every run alike
                wall, rss, model_spf = run_animate(source, drv, w, tmp / "out.mp4", args.batch_size, backend)
                rows.append((label, n, wall, wall / n, model_spf, rss))
        probe_after = matmul_probe()
    print(f"machine: {os.cpu_count()} cpus, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"matmul probe: {probe_before:.0f} GFLOP/s before, {probe_after:.0f} GFLOP/s after")
    print(f"backend {', '.join(backends)}, batch {args.batch_size}")
    _print_rows(rows, list(runs), args.long)


def _inputs(args, tmp: Path):
    """``({label: weights}, source image, driving(n) -> video)``: the astronaut and synthetic
    dancers with ``-w``; otherwise random weights of ``--preset``, a noise source and driving."""
    from PIL import Image

    source = tmp / "source.png"
    if args.weights:
        import skimage.data

        Image.fromarray(skimage.data.astronaut()).save(source)
        return {w.name: w for w in args.weights}, source, lambda n: make_dancer(tmp / f"drv{n}.mp4", n)
    named = {f"random {args.preset}": tmp / "w.safetensors"}
    subprocess.run([sys.executable, "-m", "internet_cli", "init", args.preset, "-o",
                    str(named[f"random {args.preset}"])], check=True, capture_output=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (512, 512, 3), dtype=np.uint8)).save(source)
    return named, source, lambda n: make_driving(tmp / f"drv{n}.mp4", n)


def _runs(named: dict, backends: list[str], tmp: Path) -> dict[str, tuple[Path, str]]:
    """label -> (weights file or exported folder, backend); each export made once, outside the timing."""
    runs = {}
    for i, (name, w) in enumerate(named.items()):
        for backend in backends:
            label = f"{name} ({backend})" if len(backends) > 1 else name
            if backend == "onnx":  # animate would cache the export too
                subprocess.run([sys.executable, "-m", "internet_cli", "export", "--onnx", "-w", str(w), "-o",
                                str(tmp / f"w{i}.onnx")], check=True, capture_output=True)
                runs[label] = (tmp / f"w{i}.onnx", backend)
            else:
                runs[label] = (w, backend)
    return runs


def _print_rows(rows: list[tuple], labels: list[str], long_n: int) -> None:
    print("| weights | driving frames | wall s | s/frame (whole job) | s/frame (model) | peak RSS GiB |")
    print("|---|---|---|---|---|---|")
    for name, n, wall, spf, mspf, rss in rows:
        print(f"| {name} | {n} | {wall:.1f} | {spf:.3f} | {mspf:.3f} | {rss:.2f} |")
    for name in labels:
        short, long = (r for r in rows if r[0] == name)
        print(f"{name}: long/short peak RSS ratio {long[5] / short[5]:.3f}")
    first, *others = labels
    for other in others:
        a = next(r for r in rows if r[0] == first and r[1] == long_n)
        b = next(r for r in rows if r[0] == other and r[1] == long_n)
        print(f"{first} / {other}, whole job s/frame at {long_n} frames: {a[3] / b[3]:.3f}")

if __name__ == "__main__":
    main()
