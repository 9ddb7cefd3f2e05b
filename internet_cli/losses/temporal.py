"""Flow-based temporal regularisation: the paper's ablation (eq. 2-4).

All modes compare, on frame ``t-1``'s pixel grid, the generated frame ``O_t`` back-warped by the
optical flow with the real previous frame ``I_{t-1}``::

    warped(p) = O_t(p + f(p))                       (paper eq. 2, f_t(O_t); geometry.backwarp)
    valid(p)  = p + f(p) lies inside the frame (x in [0, W-1], y in [0, H-1])
    L = sum_{p valid, c} |warped - I_{t-1}|(c, p) * M(p)  /  (3 * #valid pixels)

i.e. an L1 mean over channels and valid pixels of the masked warping error (the normaliser is
the number of valid pixels, not the sum of ``M``, so the loss cannot be inflated by shrinking
``M``). ``flow`` is a pixel flow ``(B, 2, H, W)`` = (dx, dy) on frame ``t-1``'s grid pointing into
frame ``t`` (docs/design.md); one of another resolution than ``O_t`` is resized bilinearly and
rescaled. Modes:

- ``none``: 0, nothing computed.
- ``plain`` (eq. 2): ``M = 1``.
- ``extrinsic`` (eq. 3): ``M`` from the flow itself (Ruder et al. 2016), computed under
  ``no_grad``: see ``extrinsic_confidence``. ``confidence`` is ignored; only ``output`` gets a
  gradient.
- ``intrinsic`` (eq. 4, default): ``M`` is the motion estimator's confidence ``M_t`` (``(B, 1, h,
  w)`` on frame ``t``'s grid, any resolution, resized bilinearly with ``align_corners=True`` to
  the output's). It lives on frame ``t``'s grid like ``O_t``, so it is brought onto frame
  ``t-1``'s grid with the same back-warp: ``M(p) = M_t(p + f(p))``. The gradient flows into
  ``confidence`` (the paper's shortcut from the flow loss into Stage I) and into ``output``.
  Note that this term alone is minimised by ``M -> 0``; what keeps ``M`` up is the generator's
  use of ``M`` in eq. 6 (the frame losses).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from internet_cli.config import TEMPORAL_MODES as MODES
from internet_cli.motion.geometry import backwarp

# Ruder et al. (2016) thresholds.
CONSISTENCY_REL = 0.01
CONSISTENCY_ABS = 0.5
BOUNDARY_REL = 0.01
BOUNDARY_ABS = 0.002


def resize_flow(flow: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize a pixel flow ``(B, 2, h, w)`` to ``(height, width)``, scaling its values
    (``align_corners=True``: pixel centres at the corners map to each other)."""
    h, w = flow.shape[2:]
    if (h, w) == (height, width):
        return flow
    out = F.interpolate(flow, size=(height, width), mode="bilinear", align_corners=True)
    sx = (width - 1) / max(w - 1, 1)
    sy = (height - 1) / max(h - 1, 1)
    return out * torch.tensor([sx, sy], dtype=out.dtype, device=out.device).view(1, 2, 1, 1)


def valid_mask(flow: torch.Tensor) -> torch.Tensor:
    """``(B, 1, H, W)`` float: 1 where ``p + flow(p)`` lands inside the frame."""
    _, _, h, w = flow.shape
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, w)
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, h, 1)
    tx = xs + flow[:, 0]
    ty = ys + flow[:, 1]
    tol = 1e-4
    inside = (tx >= -tol) & (tx <= w - 1 + tol) & (ty >= -tol) & (ty <= h - 1 + tol)
    return inside.unsqueeze(1).to(flow.dtype)


def _spatial_gradient_sq(flow: torch.Tensor) -> torch.Tensor:
    """``|grad f_x|^2 + |grad f_y|^2`` ``(B, 1, H, W)``: central differences inside, one-sided at
    the borders (like ``numpy.gradient``)."""
    sq = torch.zeros_like(flow[:, :1])
    for dim in (2, 3):
        if flow.shape[dim] < 2:
            continue
        n = flow.shape[dim]
        fwd = flow.narrow(dim, 1, n - 1) - flow.narrow(dim, 0, n - 1)  # f[i+1] - f[i]
        first = fwd.narrow(dim, 0, 1)
        last = fwd.narrow(dim, n - 2, 1)
        if n > 2:
            central = 0.5 * (fwd.narrow(dim, 0, n - 2) + fwd.narrow(dim, 1, n - 2))
            grad = torch.cat([first, central, last], dim=dim)
        else:
            grad = torch.cat([first, last], dim=dim)
        sq = sq + grad.pow(2).sum(1, keepdim=True)
    return sq


@torch.no_grad()
def extrinsic_confidence(flow: torch.Tensor, flow_back: torch.Tensor | None = None) -> torch.Tensor:
    """Ruder et al.'s flow confidence ``(B, 1, H, W)`` in {0, 1} on frame ``t-1``'s grid.

    ``flow``: ``t-1 -> t`` on frame ``t-1``'s grid; ``flow_back``: ``t -> t-1`` on frame ``t``'s
    grid. A pixel ``p`` gets 0 when

    - occluded (forward/backward inconsistent), with ``b~(p) = flow_back(p + flow(p))``:
      ``|f + b~|^2 > 0.01 (|f|^2 + |b~|^2) + 0.5``;  skipped when ``flow_back`` is None;
    - on a motion boundary: ``|grad f_x|^2 + |grad f_y|^2 > 0.01 |f|^2 + 0.002``.

    Computed without gradient.
    """
    flow = flow.detach()
    f_sq = flow.pow(2).sum(1, keepdim=True)
    bad = _spatial_gradient_sq(flow) > BOUNDARY_REL * f_sq + BOUNDARY_ABS
    if flow_back is not None:
        flow_back = resize_flow(flow_back.detach().to(flow.dtype), *flow.shape[2:])
        b_tilde = backwarp(flow_back, flow)
        err = (flow + b_tilde).pow(2).sum(1, keepdim=True)
        occluded = err > CONSISTENCY_REL * (f_sq + b_tilde.pow(2).sum(1, keepdim=True)) + CONSISTENCY_ABS
        bad = bad | occluded
    return (~bad).to(flow.dtype)


def temporal_loss(mode: str, output: torch.Tensor, prev_real: torch.Tensor, flow: torch.Tensor,
                  confidence: torch.Tensor | None = None, flow_back: torch.Tensor | None = None) -> torch.Tensor:
    """Temporal regularisation ``L_reg`` (scalar) of ``output`` = O_t against ``prev_real`` = I_{t-1}.

    ``output``, ``prev_real``: ``(B, C, H, W)``; ``flow``: pixel flow ``(B, 2, h, w)`` frame
    ``t-1 -> t`` (resized to ``H x W`` if needed); ``confidence``: ``(B, 1, h', w')`` (intrinsic
    mode); ``flow_back``: ``t -> t-1`` flow (extrinsic mode; without it only motion boundaries
    are excluded). See the module docstring for the formula and modes.
    """
    if mode not in MODES:
        raise ValueError(f"temporal mode must be one of {MODES}, got {mode!r}")
    if mode == "none":
        return output.new_zeros(())
    if prev_real.shape != output.shape:
        raise ValueError(f"prev_real {tuple(prev_real.shape)} vs output {tuple(output.shape)}")
    h, w = output.shape[2:]
    flow = resize_flow(flow.detach().to(output.dtype), h, w)
    warped = backwarp(output, flow)
    valid = valid_mask(flow)
    if mode == "plain":
        weight = valid
    elif mode == "extrinsic":
        back = None if flow_back is None else flow_back.to(output.dtype)
        weight = valid * extrinsic_confidence(flow, back)
    else:
        if confidence is None:
            raise ValueError("intrinsic temporal loss needs the motion estimator's confidence map")
        conf = confidence.to(output.dtype)
        if conf.shape[2:] != (h, w):
            conf = F.interpolate(conf, size=(h, w), mode="bilinear", align_corners=True)
        weight = valid * backwarp(conf, flow)
    error = (warped - prev_real.to(output.dtype)).abs() * weight
    count = valid.sum() * output.shape[1]
    return error.sum() / count.clamp(min=1.0)
