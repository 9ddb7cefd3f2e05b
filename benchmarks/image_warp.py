"""The pass-through image's warp at 512, three ways, side by side in one run (docs/model.md):

    python benchmarks/image_warp.py [--size 512] [--repeats 10]

``field``: one warp by ``F = sum_k w_k T_k`` (``motion.image_warp = "field"``); ``all parts``: 11
warps blended by all the weights, ``sum_k w_k x(T_k(z))``; ``two parts``: ``geometry.blend_warps``
(``"parts"``). Each is exported to ONNX and timed in onnxruntime on the CPU (the animate default)
and in PyTorch, on random affine transforms and weights from a softmax of 11 channels at 128.
Prints seconds per call and the ratio to ``field``.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from internet_cli.motion.geometry import blend_warps, make_coordinate_grid, warp  # noqa: E402

PARTS, BASE = 11, 128


class Field(torch.nn.Module):
    def forward(self, x, transforms, weights):
        return warp(x, (weights.unsqueeze(-1) * transforms).sum(dim=1))


class AllParts(torch.nn.Module):
    def forward(self, x, transforms, weights):
        w = torch.nn.functional.interpolate(weights, size=x.shape[2:], mode="bilinear", align_corners=True)
        return sum(w[:, k:k + 1] * warp(x, transforms[:, k]) for k in range(transforms.shape[1]))


class TwoParts(torch.nn.Module):
    def forward(self, x, transforms, weights):
        return blend_warps(x, transforms, weights)


def inputs(size: int):
    g = torch.Generator().manual_seed(0)
    grid = make_coordinate_grid(BASE, BASE).view(1, 1, BASE, BASE, 2)
    affine = torch.eye(2) + 0.2 * torch.randn(1, PARTS, 1, 1, 2, 2, generator=g)
    shift = 0.3 * torch.randn(1, PARTS, 1, 1, 2, generator=g)
    transforms = torch.einsum("bkhwij,bkhwj->bkhwi", affine.expand(1, PARTS, BASE, BASE, 2, 2),
                              grid.expand(1, PARTS, BASE, BASE, 2)) + shift
    weights = torch.softmax(3.0 * torch.randn(1, PARTS, BASE, BASE, generator=g), dim=1)
    return torch.rand(1, 3, size, size, generator=g), transforms, weights


def seconds(fn, repeats: int) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats


def main() -> None:
    import onnxruntime as ort

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(2)
    args_in = inputs(args.size)
    names = ["x", "transforms", "weights"]
    feed = {n: a.numpy() for n, a in zip(names, args_in)}
    rows = {}
    for name, module in (("field", Field()), ("all parts", AllParts()), ("two parts", TwoParts())):
        buf = io.BytesIO()
        torch.onnx.export(module, args_in, buf, input_names=names, opset_version=18, dynamo=True)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        session = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
        with torch.inference_mode():
            rows[name] = (seconds(lambda: session.run(None, feed), args.repeats),
                          seconds(lambda: module(*args_in), args.repeats))
    print(f"| warp at {args.size} | onnxruntime s | vs field | torch s | vs field |")
    print("|---|---|---|---|---|")
    base_ort, base_torch = rows["field"]
    for name, (o, t) in rows.items():
        print(f"| {name} | {o:.4f} | {o / base_ort:.2f}x | {t:.4f} | {t / base_torch:.2f}x |")


if __name__ == "__main__":
    main()
