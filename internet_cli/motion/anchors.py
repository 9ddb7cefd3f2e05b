"""Stage I, part 1: motion anchors K_i and their local affine transforms (paper eq. 5)."""

from __future__ import annotations

import torch
from torch import nn

from internet_cli.config import MotionConfig
from internet_cli.motion.geometry import float32, resize, soft_argmax
from internet_cli.motion.unet import UNet


class AnchorDetector(nn.Module):
    """Image ``(B, 3, H, W)`` -> anchors ``(B, n, 2)`` and local affines ``(B, n, 2, 2)``.

    A U-Net at the base resolution predicts one heatmap per anchor; the anchor is its soft-argmax.
    A second head predicts the four entries of each affine per pixel, pooled under that anchor's
    heatmap. The affine head starts at the identity.
    """

    def __init__(self, cfg: MotionConfig):
        super().__init__()
        self.size = int(round(cfg.base_size * cfg.scale_factor_detector))
        self.temperature = cfg.temperature
        self.n = cfg.num_anchors
        self.unet = UNet(3, cfg.block_expansion, cfg.num_blocks, cfg.max_features)
        self.heatmap = nn.Conv2d(self.unet.out_channels, self.n, 3, padding=1)
        self.affine = nn.Conv2d(self.unet.out_channels, 4 * self.n, 3, padding=1)
        nn.init.zeros_(self.affine.weight)
        with torch.no_grad():
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(self.n))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.unet(resize(image, self.size))  # (B, C, s, s)
        return anchors_and_affines(self.heatmap(feats), self.affine(feats), self.temperature)


@float32
def anchors_and_affines(heatmaps: torch.Tensor, affines: torch.Tensor, temperature: float):
    """Heatmap logits ``(B, n, s, s)`` and per-pixel affines ``(B, 4n, s, s)`` -> anchors ``(B, n, 2)``
    (soft-argmax at ``temperature``) and affines ``(B, n, 2, 2)`` pooled under each heatmap."""
    kp, probs = soft_argmax(heatmaps / temperature)  # (B, n, 2), (B, n, s, s)
    b, n, h, w = probs.shape
    jac = (affines.reshape(b, n, 4, h, w) * probs.unsqueeze(2)).sum(dim=(3, 4)).reshape(b, n, 2, 2)
    return kp, jac
