"""Pure geometry helpers: coordinate grids, 2x2 algebra, soft-argmax, warping.

Conventions (docs/design.md): normalised (x, y) in [-1, 1] with the extremes at the centres of
the corner pixels, hence ``align_corners=True`` everywhere.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def make_coordinate_grid(height: int, width: int, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """Identity sampling grid ``(H, W, 2)`` of normalised ``(x, y)``."""
    ys = torch.linspace(-1.0, 1.0, height, dtype=dtype, device=device)
    xs = torch.linspace(-1.0, 1.0, width, dtype=dtype, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)


def inverse_2x2(m: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Closed-form inverse of ``(..., 2, 2)`` matrices (adjugate / determinant).

    Exports to ONNX (``torch.linalg.inv`` does not). The determinant is pushed away from zero by
    ``eps`` keeping its sign, so a degenerate transform gives a large but finite inverse.
    """
    a, b = m[..., 0, 0], m[..., 0, 1]
    c, d = m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    sign = torch.where(det < 0, -torch.ones_like(det), torch.ones_like(det))
    det = sign * torch.clamp(det.abs(), min=eps)
    row0 = torch.stack([d, -b], dim=-1)
    row1 = torch.stack([-c, a], dim=-1)
    return torch.stack([row0, row1], dim=-2) / det[..., None, None]


def soft_argmax(heatmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected position under a spatial softmax.

    heatmap: ``(B, K, H, W)`` logits. Returns ``(coords (B, K, 2), probs (B, K, H, W))``.
    """
    b, k, h, w = heatmap.shape
    probs = F.softmax(heatmap.reshape(b, k, h * w), dim=-1).reshape(b, k, h, w)
    grid = make_coordinate_grid(h, w, dtype=heatmap.dtype, device=heatmap.device)  # (H, W, 2)
    coords = (probs.unsqueeze(-1) * grid).sum(dim=(2, 3))
    return coords, probs


def gaussian_heatmaps(anchors: torch.Tensor, height: int, width: int, variance: float) -> torch.Tensor:
    """Isotropic Gaussians ``(B, K, H, W)`` centred on ``anchors`` ``(B, K, 2)``."""
    grid = make_coordinate_grid(height, width, dtype=anchors.dtype, device=anchors.device)
    diff = grid.view(1, 1, height, width, 2) - anchors.view(*anchors.shape[:2], 1, 1, 2)
    return torch.exp(-0.5 * (diff**2).sum(-1) / variance)


def warp(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Backward warp: ``out(p) = x(grid(p))``. x ``(B, C, H, W)``, grid ``(B, h, w, 2)``.

    A grid of another size than ``x`` is resized bilinearly first (it is a field of coordinates,
    so resizing it is exact for affine motion under ``align_corners=True``).
    """
    if grid.shape[1:3] != x.shape[2:]:
        grid = resize_field(grid, x.shape[2], x.shape[3])
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def resize_field(grid: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize of a ``(B, H, W, 2)`` coordinate field to ``(B, height, width, 2)``."""
    g = F.interpolate(grid.permute(0, 3, 1, 2), size=(height, width), mode="bilinear", align_corners=True)
    return g.permute(0, 2, 3, 1)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``(B, C, H, W)`` images to ``size`` x ``size``: area average when shrinking by an
    integer factor (no aliasing), bilinear (``align_corners=True``) otherwise."""
    h, w = x.shape[2:]
    if h == w == size:
        return x
    if h % size == 0 and w % size == 0:
        return F.avg_pool2d(x, kernel_size=(h // size, w // size))
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=True)


def pixel_flow_to_grid(flow: torch.Tensor) -> torch.Tensor:
    """Pixel flow ``(B, 2, H, W)`` (dx, dy) -> normalised sampling grid ``(B, H, W, 2)``."""
    b, _, h, w = flow.shape
    base = make_coordinate_grid(h, w, dtype=flow.dtype, device=flow.device)
    scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], dtype=flow.dtype, device=flow.device)
    return base.unsqueeze(0) + flow.permute(0, 2, 3, 1) * scale


def backwarp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``out(p) = image(p + flow(p))`` for a pixel flow ``(B, 2, H, W)`` (paper eq. 2: f_t(O_t))."""
    return warp(image, pixel_flow_to_grid(flow))
