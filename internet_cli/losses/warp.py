"""Photometric loss of the warped source: a direct training signal for Stage I alone.

Not in the paper, and off by default (``LossConfig.warp = 0``). The paper trains the motion
estimator only through the generated frame, so a limb that the generator can blur into place is
never pulled onto its own anchor. This term compares the source, warped by the dense motion
``F^0`` alone (no generator), with the driving frame, over a pyramid::

    L = mean_s  mean |warp(src_s, F^0_s) - drv_s|     s in scales, src_s = src downsampled by s

Each level warps the downsampled source with the downsampled field, so the coarse levels reach
motions several base pixels long (a bilinear sample alone sees only its four neighbours). It
ignores the confidence map ``M^0``: nothing here can be lowered by switching pixels off.
"""

from __future__ import annotations

import torch

from internet_cli.motion.geometry import resize, warp


def warped_source_loss(source: torch.Tensor, driving: torch.Tensor, field: torch.Tensor,
                       scales: tuple[float, ...] = (1.0, 0.5, 0.25)) -> torch.Tensor:
    """``source``, ``driving`` ``(B, 3, S, S)``; ``field`` ``(B, h, w, 2)`` (Stage I's ``F^0``,
    sampling coordinates in the source). Compared at ``h * s`` for each scale ``s``."""
    total = source.new_zeros(())
    for s in scales:
        size = max(1, round(field.shape[1] * s))
        # warp() resizes the field to the image it samples.
        total = total + (warp(resize(source, size), field) - resize(driving, size)).abs().mean()
    return total / len(scales)
