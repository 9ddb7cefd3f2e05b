"""Per-frame speed of the model: PyTorch vs onnxruntime, side by side in one run.

    python benchmarks/speed.py                      # paper-512 at 512, batch 1, random weights
    python benchmarks/speed.py --onnx DIR -w FILE   # reuse an export of FILE (skips the export)

Prints a 2048x2048 fp32 matmul probe (before and after, so a noisy host shows), the GFLOP of one
frame (convolutions and matrix products, counted by torch's FlopCounterMode), the median seconds
per frame of both backends timed alternately, and their ratios. Timings on a shared host swing:
compare the ratios, never a lone absolute time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from internet_cli.checkpoint import load_weights, save_weights  # noqa: E402
from internet_cli.config import preset  # noqa: E402
from internet_cli.devices import configure_torch_threads  # noqa: E402
from internet_cli.model import INTERnet  # noqa: E402


def matmul_probe(n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of an n x n fp32 matmul (median of ``repeats``)."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


def gflop_per_frame(model: INTERnet, size: int) -> tuple[float, float]:
    """(GFLOP per driving frame, GFLOP per source) of convolutions and matrix products."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 3, size, size)
    with torch.inference_mode():
        counter = FlopCounterMode(display=False)
        with counter:
            state = model.encode_source(x)
        source = counter.get_total_flops() / 1e9
        ref = model.absolute_reference()
        counter = FlopCounterMode(display=False)
        with counter:
            model.animate(state, x, ref)
        frame = counter.get_total_flops() / 1e9
    return frame, source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="paper-512")
    parser.add_argument("-w", "--weights", type=Path, help="weights file (default: random weights of --preset)")
    parser.add_argument("--onnx", type=Path, help="an export of --weights (default: export to a temporary folder)")
    parser.add_argument("--frames", type=int, default=5, help="timed frames per backend (after one warm-up)")
    args = parser.parse_args()

    threads = configure_torch_threads()
    tmp = Path(tempfile.mkdtemp(prefix="internet-speed."))
    weights_path = args.weights
    if weights_path is None:
        torch.manual_seed(0)
        weights_path = save_weights(tmp / f"{args.preset}.safetensors", INTERnet(preset(args.preset)), trained=False)
    weights = load_weights(weights_path)
    model = weights.build()
    size = weights.config.image_size
    folder = _export_folder(args.onnx, weights_path, tmp)

    from internet_cli.runtime.animator import TorchAnimator
    from internet_cli.runtime.onnx_backend import OnnxAnimator

    probe_before = matmul_probe()
    frame_gflop, source_gflop = gflop_per_frame(model, size)
    anims = {"torch": TorchAnimator(weights, torch.device("cpu")), "onnxruntime": OnnxAnimator(folder, device="cpu")}
    med = _time_backends(anims, size, args.frames)
    probe_after = matmul_probe()

    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {_cpu_name()}, {threads} threads "
          f"(of {os.cpu_count()} CPUs); torch {torch.__version__}; onnxruntime {_ort_version()}")
    print(f"model: {weights.config.name} ({params:.1f} M parameters) at {size}x{size}, batch 1, "
          f"{args.frames} frames per backend (medians)")
    print(f"matmul probe 2048^2 fp32: {probe_before:.0f} GFLOP/s before, {probe_after:.0f} GFLOP/s after")
    print(f"GFLOP per frame: {frame_gflop:.1f} (source encode, once per video: {source_gflop:.1f})")
    print()
    print("| backend | s/frame | frames/s | GFLOP/s | share of matmul probe |")
    print("|---|---|---|---|---|")
    probe = (probe_before + probe_after) / 2
    for k, s in med.items():
        print(f"| {k} | {s:.3f} | {1 / s:.2f} | {frame_gflop / s:.0f} | {frame_gflop / s / probe:.2f} |")
    print()
    print(f"onnxruntime / torch time: {med['onnxruntime'] / med['torch']:.2f} "
          f"(onnxruntime is {med['torch'] / med['onnxruntime']:.2f}x the speed of torch)")


def _export_folder(folder: Path | None, weights_path: Path, tmp: Path) -> Path:
    """``--onnx`` when it is an export of the weights; otherwise a fresh export into ``tmp``."""
    from internet_cli.export.onnx import export_onnx, sha256_file
    from internet_cli.runtime.onnx_backend import read_export

    if folder is not None:
        if read_export(folder).weights_sha256 != sha256_file(weights_path):
            sys.exit(f"{folder} is not an export of {weights_path}")
        return folder
    t = time.perf_counter()
    folder = export_onnx(weights_path, tmp / "onnx", log=lambda m: print(f"  {m}", file=sys.stderr)).folder
    print(f"exported to ONNX in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return folder


def _time_backends(anims: dict, size: int, n: int) -> dict[str, float]:
    """Median seconds per frame of each animator, the backends alternated frame by frame so that
    host noise hits both alike (frame 0 is a warm-up)."""
    rng = np.random.default_rng(0)
    source = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    frames = rng.integers(0, 256, (n + 1, 1, size, size, 3), dtype=np.uint8)
    states = {k: a.encode_source(source) for k, a in anims.items()}
    refs = {k: a.reference(states[k], frames[0, 0], True, False) for k, a in anims.items()}
    times: dict[str, list[float]] = {k: [] for k in anims}
    for i in range(n + 1):
        for k, a in anims.items():
            t = time.perf_counter()
            a.animate(states[k], frames[i], refs[k])
            if i > 0:
                times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


if __name__ == "__main__":
    main()
