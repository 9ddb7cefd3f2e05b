"""Anchor ownership: every anchor owns at least a share of the pixels at its own centre.

Not in the paper, and off by default (``LossConfig.ownership = 0``). The composition weights
(eq. 5) are a softmax over the background and the anchors. Once the composition network gives an
anchor almost no weight anywhere, the image losses barely reach that anchor's logit (the
softmax's gradient scales with the weight itself): the anchor is "dead" even when it sits on a
body part, and the part is moved by another anchor's affine, which tears it. This term gives
each anchor ``k`` a floor on its mean composition weight under a Gaussian at its driving anchor::

    o_k = sum_z G_k(z) w_k(z) / sum_z G_k(z),   loss = mean_k max(0, log floor - log o_k)

A hinge: an anchor at or above the floor costs nothing, so the term only revives dead anchors
and never competes with the image losses elsewhere. The log makes the gradient of a nearly dead
anchor as large as that of a nearly alive one. ``G_k`` is the heatmap the dense motion network
is fed (``MotionConfig.gaussian_variance``) with the anchor detached: the term trains the
composition weights, not where the anchors are.
"""

from __future__ import annotations

import math

import torch

from internet_cli.motion.geometry import gaussian_heatmaps


def ownership_loss(weights: torch.Tensor, kp: torch.Tensor, variance: float, floor: float) -> torch.Tensor:
    """``weights`` ``(B, n+1, h, w)``, the composition weights with the background first;
    ``kp`` ``(B, n, 2)``, the driving anchors."""
    h, w = weights.shape[2:]
    g = gaussian_heatmaps(kp.detach(), h, w, variance)
    g = g / g.sum(dim=(2, 3), keepdim=True)
    owned = (g * weights[:, 1:]).sum(dim=(2, 3))  # (B, n)
    return torch.relu(math.log(floor) - torch.log(owned + 1e-6)).mean()
