"""The perceptual loss's cost per training step with each backbone, side by side in one run.

    python benchmarks/perceptual_cost.py                      # batch 2 at 128 px, as the pose recipe trains
    python benchmarks/perceptual_cost.py --size 256 --rounds 10
    python benchmarks/perceptual_cost.py --scale              # the sizes of the term, no timing

Times the loss as a training step runs it (``PerceptualStyleLoss`` with the trainer's weights and
4-level pyramid): forward on prediction and target, backward to the prediction. The backbones are
alternated for ``--rounds`` rounds; it prints each one's median seconds and the ratio to vgg19's.

``--scale``: the perceptual term of each backbone, before its ``loss_scale``, between scikit-image's
astronaut at 128 px and the same photo blurred (5x5 box) or shifted by 3 pixels, and the ratio to
vgg19's: the measurement behind EfficientNet-lite0's ``loss_scale`` of 1/16.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from speed import matmul_probe  # noqa: E402


def one_step(loss, prediction: torch.Tensor, target: torch.Tensor) -> float:
    pred = prediction.clone().requires_grad_(True)
    start = time.perf_counter()
    loss(pred, target)["perceptual"].backward()
    return time.perf_counter() - start


def print_scales(losses: dict) -> None:
    import cv2
    import skimage.data
    import torch.nn.functional as F

    image = cv2.resize(skimage.data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    photo = torch.from_numpy(image).permute(2, 0, 1).float().div(255).unsqueeze(0)
    changed = {"blurred": F.avg_pool2d(F.pad(photo, (2,) * 4, mode="replicate"), 5, stride=1),
               "shifted 3 px": torch.roll(photo, 3, dims=3)}
    base = {}
    for name, loss in losses.items():
        scale = getattr(loss.backbone, "loss_scale", 1.0)
        for what, image in changed.items():
            with torch.no_grad():
                value = float(loss(image, photo)["perceptual"]) / scale
            base.setdefault(what, value)
            print(f"  {name:<20} {what:<13} {value:9.2f}   vgg19 / this {base[what] / value:.4f}"
                  f"   loss_scale {scale:.4f}")


def main() -> None:
    from internet_cli.config import LossConfig
    from internet_cli.devices import configure_torch_threads
    from internet_cli.losses.backbones import BACKBONES, load_backbone
    from internet_cli.losses.perceptual import PerceptualStyleLoss

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--scale", action="store_true", help="print the term's sizes instead of timing it")
    args = parser.parse_args()
    configure_torch_threads()
    cfg = LossConfig()
    losses = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # vgg19 without ImageNet weights says so
        for name in BACKBONES:
            losses[name] = PerceptualStyleLoss(load_backbone(name)[0], perceptual_weight=cfg.perceptual,
                                               scales=cfg.perceptual_scales)
    if args.scale:
        print_scales(losses)
        return
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(args.batch, 3, args.size, args.size, generator=gen)
    prediction = (target + 0.1 * torch.randn(target.shape, generator=gen)).clamp(0, 1)
    probe = matmul_probe()
    times = {name: [] for name in losses}
    for name, loss in losses.items():  # warm-up
        one_step(loss, prediction, target)
    for _ in range(args.rounds):
        for name, loss in losses.items():
            times[name].append(one_step(loss, prediction, target))
    print(f"perceptual loss, batch {args.batch} at {args.size} px, {args.rounds} rounds alternating, "
          f"probe {probe:.0f}/{matmul_probe():.0f} GFLOP/s")
    base = statistics.median(times["vgg19"])
    for name, t in times.items():
        med = statistics.median(t)
        print(f"  {name:<20} {med * 1000:8.1f} ms/step   {med / base:.3f}x vgg19")


if __name__ == "__main__":
    main()
