"""Multi-scale PatchGAN discriminator (pix2pixHD), for the adversarial loss of paper eq. 8.

``N_D`` discriminators of identical architecture (separate weights) look at the image at full,
1/2, 1/4, ... resolution (average-pooled 3x3, stride 2, padding 1 between scales). Each is::

    conv4x4/2 -> LReLU(0.2)                                   (no norm on the first layer)
    [conv4x4/2 -> norm -> LReLU(0.2)] x (num_layers - 1)      (channels doubling, capped)
    conv4x4/1 -> norm -> LReLU(0.2)
    conv4x4/1 -> 1 channel of patch logits                   (no activation)

with padding 2 as in pix2pixHD. The forward returns, per scale, ``(logits, features)`` where
``features`` are the outputs of every block but the last (for feature matching).

Normalisation: spectral norm by default. Instance norm (pix2pixHD's choice) needs more than one
spatial element per map and so breaks on the coarse scales of small training crops (a tiny CPU
config at 64-128 px reaches 1x1 maps); spectral norm has no such limit, no batch statistics
(batches here are 1-4), and bounds each layer's Lipschitz constant, which keeps the
non-saturating GAN stable (Miyato et al. 2018; FOMM also uses it). ``norm="instance"`` and
``"none"`` remain available.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

NORMS = ("spectral", "instance", "none")


def _conv(in_ch: int, out_ch: int, stride: int, norm: str, first_or_last: bool) -> list[nn.Module]:
    conv = nn.Conv2d(in_ch, out_ch, kernel_size=4, stride=stride, padding=2)
    if norm == "spectral":
        return [spectral_norm(conv)]
    if norm == "instance" and not first_or_last:
        return [conv, nn.InstanceNorm2d(out_ch, affine=False)]
    return [conv]


class PatchDiscriminator(nn.Module):
    """One PatchGAN: ``forward(x) -> (logits (B, 1, h, w), [intermediate features])``."""

    def __init__(self, in_channels: int = 3, base_channels: int = 64, max_channels: int = 512,
                 num_layers: int = 3, norm: str = "spectral") -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if num_layers < 1:
            raise ValueError("num_layers must be >= 1")
        blocks: list[nn.Module] = []
        ch = base_channels
        blocks.append(nn.Sequential(*_conv(in_channels, ch, 2, norm, True), nn.LeakyReLU(0.2)))
        for _ in range(1, num_layers):
            nxt = min(ch * 2, max_channels)
            blocks.append(nn.Sequential(*_conv(ch, nxt, 2, norm, False), nn.LeakyReLU(0.2)))
            ch = nxt
        nxt = min(ch * 2, max_channels)
        blocks.append(nn.Sequential(*_conv(ch, nxt, 1, norm, False), nn.LeakyReLU(0.2)))
        blocks.append(nn.Sequential(*_conv(nxt, 1, 1, norm, True)))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        for block in self.blocks[:-1]:
            x = block(x)
            features.append(x)
        return self.blocks[-1](x), features


class MultiScaleDiscriminator(nn.Module):
    """``num_scales`` (N_D) PatchGANs on an average-pooled image pyramid.

    ``forward(x (B, C, H, W)) -> [(logits, features), ...]`` from the finest scale to the
    coarsest. Input: images in [0, 1] (optionally concatenated with a condition, set
    ``in_channels``). A tiny config, e.g. ``num_scales=2, base_channels=16, num_layers=2``, is
    cheap enough for CPU training.
    """

    def __init__(self, in_channels: int = 3, num_scales: int = 2, base_channels: int = 64,
                 max_channels: int = 512, num_layers: int = 3, norm: str = "spectral") -> None:
        super().__init__()
        if num_scales < 1:
            raise ValueError("num_scales must be >= 1")
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(in_channels, base_channels, max_channels, num_layers, norm)
            for _ in range(num_scales)
        )

    @property
    def num_scales(self) -> int:
        return len(self.discriminators)

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        outputs = []
        for k, disc in enumerate(self.discriminators):
            if k > 0:
                x = F.avg_pool2d(x, kernel_size=3, stride=2, padding=1, count_include_pad=False)
            outputs.append(disc(x))
        return outputs
