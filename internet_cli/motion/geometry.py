"""Pure geometry helpers: coordinate grids, 2x2 algebra, soft-argmax, warping.

Conventions (docs/design.md): normalised (x, y) in [-1, 1] with the extremes at the centres of
the corner pixels, hence ``align_corners=True`` everywhere.

Under mixed precision (``torch.autocast``, training with ``--precision fp16|bf16``) the functions
marked :func:`float32` still run in float32: a clamped determinant lets an inverse reach 1e6, past
float16's 65504, and coordinates need ~1e-4 where float16 keeps ~1e-3 and bfloat16 ~1e-2.
"""

from __future__ import annotations

import contextlib
import functools

import torch
import torch.nn.functional as F

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _as_float32(x):
    return x.float() if isinstance(x, torch.Tensor) and x.dtype in _LOW_PRECISION else x


def float32(fn):
    """Run ``fn`` in float32 under autocast: autocast off inside, and its float16 / bfloat16 tensor
    arguments cast to float32 (tensors inside other arguments are left as they are).

    Stage I's geometry (2x2 inverses, products of affines, sampling coordinates), its heatmaps and
    its softmaxes use it. Without autocast ``fn`` is called as it is, so the exported graphs do not
    change.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        devices = [d for d in ("cuda", "cpu") if torch.is_autocast_enabled(d)]
        if not devices:
            return fn(*args, **kwargs)
        with contextlib.ExitStack() as stack:
            for d in devices:
                stack.enter_context(torch.autocast(d, enabled=False))
            return fn(*map(_as_float32, args), **{k: _as_float32(v) for k, v in kwargs.items()})

    return wrapper


def make_coordinate_grid(height: int, width: int, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """Identity sampling grid ``(H, W, 2)`` of normalised ``(x, y)``."""
    ys = torch.linspace(-1.0, 1.0, height, dtype=dtype, device=device)
    xs = torch.linspace(-1.0, 1.0, width, dtype=dtype, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)


@float32
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


@float32
def soft_argmax(heatmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected position under a spatial softmax.

    heatmap: ``(B, K, H, W)`` logits. Returns ``(coords (B, K, 2), probs (B, K, H, W))``.
    """
    b, k, h, w = heatmap.shape
    probs = F.softmax(heatmap.reshape(b, k, h * w), dim=-1).reshape(b, k, h, w)
    grid = make_coordinate_grid(h, w, dtype=heatmap.dtype, device=heatmap.device)  # (H, W, 2)
    coords = (probs.unsqueeze(-1) * grid).sum(dim=(2, 3))
    return coords, probs


@float32
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


@float32
def blend_warps(x: torch.Tensor, transforms: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``x`` ``(B, C, S, S)`` warped by each of the affine ``transforms`` ``(B, K, h, w, 2)`` alone and
    blended by ``weights`` ``(B, K, h, w)`` (upsampled to ``S``). Unlike a warp by the blended field
    ``sum_k w_k T_k``, a pixel where two transforms meet takes their own pixels, cross-faded, not the
    pixel midway between their source points. Two warps at ``S``, not ``K``: each pixel takes the
    transforms of its two largest weights ``w1 >= w2``, in shares
    ``w1 - w3`` and ``w2 - w3`` renormalised (``w3`` the third largest), so that the output does not
    jump where the second and third swap (ties, rounding)."""
    b, k, h, w, _ = transforms.shape
    size = x.shape[2:]
    # Each field's affine map z -> a_x z_x + a_y z_y + c, read off three corners (exact for an affine field).
    t00, t10, t01 = transforms[:, :, 0, 0], transforms[:, :, 0, w - 1], transforms[:, :, h - 1, 0]
    ax, ay = (t10 - t00) / 2.0, (t01 - t00) / 2.0
    table = torch.cat([ax, ay, t00 + ax + ay], dim=-1).reshape(b * k, 6)
    wu = F.interpolate(weights, size=size, mode="bilinear", align_corners=True).permute(0, 2, 3, 1)
    top, idx = wu.topk(min(3, k), dim=-1)  # (B, S, S, 3), channels last: the fast axis for TopK; K >= 2
    share = torch.relu(top[..., :2] - (top[..., 2:] if k > 2 else 0.0)) + 1e-6  # three-way tie: even
    share = (share / share.sum(dim=-1, keepdim=True)).permute(0, 3, 1, 2)  # (B, 2, S, S)
    offset = (torch.arange(b, device=x.device) * k).view(b, 1, 1, 1)
    p = table[(idx[..., :2] + offset).reshape(-1)].reshape(b, size[0], size[1], 2, 6).permute(0, 3, 1, 2, 4)
    z = make_coordinate_grid(size[0], size[1], dtype=x.dtype, device=x.device).to(p.dtype)  # (TorchScript export)
    grid = p[..., 0:2] * z[..., 0:1] + p[..., 2:4] * z[..., 1:2] + p[..., 4:6]  # (B, 2, S, S, 2)
    c = x.shape[1]
    pair = x.unsqueeze(1).expand(b, 2, c, size[0], size[1]).reshape(b * 2, c, size[0], size[1])
    out = F.grid_sample(pair, grid.reshape(b * 2, size[0], size[1], 2), mode="bilinear", padding_mode="zeros",
                        align_corners=True).reshape(b, 2, c, size[0], size[1])
    return (out * share.unsqueeze(2)).sum(dim=1)


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
