"""Stage II: multi-scale generator with deformed skip connections (paper eq. 6).

The source is encoded once into features at every stage resolution; each driving frame warps
them with the motion pyramid ``{F^i}`` and gates them with the confidence pyramid ``{M^i}``:
``phi_out_i = M^i * F^i(phi_in_i)``. The decoder starts from the warped base-resolution
features, runs residual blocks there, then at each higher stage upsamples, concatenates the
warped source features of that stage, and refines. With ``generator.scales = "single"`` (the
paper's SS4x ablation) only the base stage's warped features reach the decoder: the higher
stages upsample and refine without skip connections.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from internet_cli.blocks import ConvBNReLU, DownBlock, ResBlock
from internet_cli.config import GeneratorConfig
from internet_cli.motion.geometry import resize_field, warp


class SourceEncoder(nn.Module):
    """Source ``(B, 3, S, S)`` -> features, base resolution first: ``[(B, c_0, S/2^(k-1), ...), ...,
    (B, c_{k-1}, S, S)]``. Runs once per source image."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        ch = list(cfg.channels)  # base ... output
        self.stem = nn.Sequential(ConvBNReLU(3, ch[-1], kernel=7), ConvBNReLU(ch[-1], ch[-1]))
        self.down = nn.ModuleList(DownBlock(ch[i], ch[i - 1]) for i in range(len(ch) - 1, 0, -1))

    def forward(self, source: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(source)]
        for block in self.down:
            feats.append(block(feats[-1]))
        return feats[::-1]


class Decoder(nn.Module):
    """Warped, gated source features -> image ``(B, 3, S, S)`` in [0, 1].

    The last layer blends its own RGB with the warped source image, per pixel
    (``O = a * F(S) + (1 - a) * rgb``): regions the motion explains pass the source through
    sharply, and the decoder paints what is occluded or new. ``generator.pass_through`` sets
    ``a``: the decoder's own ``alpha`` ("ungated"), ``alpha * M`` ("gated": where M says the
    source is not seen, the decoder paints), or 0 ("none").
    """

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        ch = list(cfg.channels)
        self.bottleneck = nn.Sequential(*[ResBlock(ch[0]) for _ in range(cfg.bottleneck_blocks)])
        # Upsampling: conv at the lower resolution, then nearest 2x (4x cheaper than conv after).
        self.up = nn.ModuleList(ConvBNReLU(ch[i - 1], ch[i]) for i in range(1, len(ch)))
        self.fuse = nn.ModuleList(ConvBNReLU(2 * ch[i], ch[i]) for i in range(1, len(ch))) \
            if cfg.scales == "multi" else None
        self.refine = nn.ModuleList(
            nn.Sequential(*[ResBlock(ch[i]) for _ in range(cfg.stage_blocks)]) for i in range(1, len(ch))
        )
        # RGB plus a pass-through weight alpha; alpha starts high (sigmoid(2) = 0.88), so an
        # untrained decoder already returns mostly the warped source.
        self.out = nn.Conv2d(ch[-1], 4, 3, padding=1)
        with torch.no_grad():
            self.out.bias[3] = 2.0
        self.pass_through = cfg.pass_through

    def forward(self, deformed: list[torch.Tensor], warped_source: torch.Tensor,
                confidence: torch.Tensor | None = None, floor: torch.Tensor | None = None) -> torch.Tensor:
        """``deformed``: eq. 6 features, base resolution first (the base alone for "single" scales);
        ``warped_source``: the source image
        warped by the full-resolution motion field ``(B, 3, S, S)``; ``confidence``: M at the base
        resolution (used by the "gated" pass-through); ``floor`` ``(B, 1, S, S)``: a least
        pass-through weight (``generator.limb_pass``)."""
        x = self.bottleneck(deformed[0])
        for i, (up, refine) in enumerate(zip(self.up, self.refine)):
            x = F.interpolate(up(x), scale_factor=2.0, mode="nearest")
            if self.fuse is not None:
                x = self.fuse[i](torch.cat([x, deformed[i + 1]], dim=1))
            x = refine(x)
        out = self.out(x)
        rgb = torch.sigmoid(out[:, :3])
        if self.pass_through == "none":
            return rgb
        alpha = torch.sigmoid(out[:, 3:])
        if self.pass_through == "gated":
            size = warped_source.shape[2:]
            alpha = alpha * F.interpolate(confidence, size=size, mode="bilinear", align_corners=True)
        if floor is not None:
            alpha = torch.maximum(alpha, floor)
        return alpha * warped_source + (1 - alpha) * rgb


def deform(features: list[torch.Tensor], field: torch.Tensor, confidence: torch.Tensor) -> list[torch.Tensor]:
    """Eq. 6 at every stage. ``field`` ``(B, h, w, 2)`` and ``confidence`` ``(B, 1, h, w)`` are at the
    base resolution; each pyramid level is the previous one upsampled 2x bilinearly."""
    out = []
    for feat in features:  # base resolution first
        h, w = feat.shape[2:]
        if field.shape[1] != h:
            field = resize_field(field, h, w)
            confidence = F.interpolate(confidence, size=(h, w), mode="bilinear", align_corners=True)
        out.append(confidence * warp(feat, field))
    return out


def background_plate(image: torch.Tensor, person: torch.Tensor) -> torch.Tensor:
    """The background without the person ``(B, 3, S, S)``: ``image`` ``(B, 3, S, S)`` with the
    pixels of ``person`` ``(B, 1, S, S)`` (a soft mask in [0, 1]) filled from the background
    around them, by push-pull: the known pixels' weighted means on a pyramid down to 1x1, then,
    back up, each level keeps what it knows and takes the rest from the level below. A smooth
    fill, with no copy of the person in it (used with ``motion.person_mask``, model.py)."""
    weight = (1.0 - person).clamp(0.0, 1.0)
    levels = []
    colour = image * weight
    while colour.shape[-1] > 1:
        levels.append((colour, weight))
        colour, weight = F.avg_pool2d(colour, 2), F.avg_pool2d(weight, 2)
    fill = colour / weight.clamp(min=1e-6)
    for colour, weight in reversed(levels):
        fill = F.interpolate(fill, size=colour.shape[2:], mode="bilinear", align_corners=False)
        known = (2.0 * weight).clamp(max=1.0)  # a pixel half background is taken as it is
        fill = known * colour / weight.clamp(min=1e-6) + (1.0 - known) * fill
    return fill
