"""Frame and video metrics on uint8 RGB frames (docs/evaluation.md has the definitions).

All functions take ``uint8`` frames, one ``(H, W, 3)`` or a batch ``(B, H, W, 3)``, and work in
``[0, 1]``; batch functions return one value per frame (``float64`` numpy arrays).

- :func:`l1`: mean absolute difference in ``[0, 1]`` (all pixels and channels).
- :func:`psnr`: ``10 log10(1 / MSE)`` dB, capped at :data:`PSNR_CAP` (identical frames have
  ``MSE = 0``, an infinite PSNR; the cap keeps means finite).
- :func:`ssim`: Wang et al. 2004: Gaussian window 11x11, sigma 1.5, ``K1 = 0.01``, ``K2 = 0.03``,
  data range 1, population (not sample) statistics, computed **per RGB channel** on the valid
  region (no padding: the map is ``(H - 10) x (W - 10)``) and averaged over the map and the
  channels. Equal to scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1, channel_axis=-1)``.
- :func:`ms_ssim`: Wang et al. 2003: 5 scales (2x2 average pooling between them), weights
  ``(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``; contrast-structure terms at the first scales,
  full SSIM at the last, negative terms clamped to 0. An image too small for 5 scales (the
  coarsest must be at least 11 pixels: side >= 176) uses the most scales that fit, with the
  first weights renormalised to sum to 1; :func:`ms_ssim_scales` says how many.
- :func:`interp_frames` / :func:`interp_psnr`: "Interp-PSNR (DIS midpoint)", our stand-in for
  the paper's Super SloMo interpolation: frame ``t`` is predicted from ``O_{t-1}`` and
  ``O_{t+1}`` by warping both halfway along OpenCV DIS flows and averaging.
- :func:`warping_error`: ``mean |backwarp(O_t, f_t) - O_{t-1}|`` over valid pixels, for a flow
  ``f_t`` of the **real** video (design.md convention: on frame ``t-1``'s grid, into ``t``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

PSNR_CAP = 100.0
"""PSNR reported for identical frames (and the ceiling of every PSNR), in dB."""

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
INTERP_NAME = "Interp-PSNR (DIS midpoint)"


# ---------------------------------------------------------------------------------------------
# helpers
def _batch(frames: np.ndarray) -> tuple[np.ndarray, bool]:
    """uint8 ``(H, W, 3)`` or ``(B, H, W, 3)`` -> ``(B, H, W, 3)``, and whether it was one frame."""
    a = np.asarray(frames)
    if a.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 3:
        return a[None], True
    if a.ndim == 4 and a.shape[3] == 3:
        return a, False
    raise ValueError(f"frames must be (H, W, 3) or (B, H, W, 3) RGB, got shape {a.shape}")


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    x, single_a = _batch(a)
    y, single_b = _batch(b)
    if x.shape != y.shape:
        raise ValueError(f"frame shapes differ: {x.shape} vs {y.shape}")
    return x, y, single_a and single_b


def _out(values: np.ndarray, single: bool):
    values = np.asarray(values, dtype=np.float64)
    return float(values[0]) if single else values


def _to_float(frame: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> float64 in [0, 1] (float64: SSIM of identical frames is exactly 1)."""
    return frame.astype(np.float64) / 255.0


# ---------------------------------------------------------------------------------------------
# L1 and PSNR
def l1(a: np.ndarray, b: np.ndarray):
    """Mean absolute difference in [0, 1]: a float for one frame, one value per frame for a batch."""
    x, y, single = _pair(a, b)
    d = np.abs(x.astype(np.int16) - y.astype(np.int16)).reshape(len(x), -1)
    return _out(d.mean(axis=1) / 255.0, single)


def psnr_from_mse(mse: np.ndarray | float, cap: float = PSNR_CAP) -> np.ndarray:
    """``10 log10(1 / mse)`` for ``mse`` in [0, 1] units, at most ``cap`` (``mse = 0`` -> ``cap``)."""
    mse = np.asarray(mse, dtype=np.float64)
    with np.errstate(divide="ignore"):
        val = np.where(mse > 0, -10.0 * np.log10(np.maximum(mse, 1e-300)), np.inf)
    return np.minimum(val, cap)


def psnr(a: np.ndarray, b: np.ndarray, cap: float = PSNR_CAP):
    """PSNR in dB over all pixels and channels (peak 1 = 255), capped at ``cap``."""
    x, y, single = _pair(a, b)
    d = (x.astype(np.float64) - y.astype(np.float64)).reshape(len(x), -1) / 255.0
    return _out(psnr_from_mse((d * d).mean(axis=1), cap), single)


# ---------------------------------------------------------------------------------------------
# SSIM and MS-SSIM
def gaussian_kernel(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian ``(size,)`` float64."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable Gaussian filter of ``(H, W, C)`` float64, per channel, 'valid' region only."""
    import cv2

    r = (len(g) - 1) // 2
    y = cv2.sepFilter2D(x, cv2.CV_64F, g, g, borderType=cv2.BORDER_REFLECT)
    if y.ndim == 2:
        y = y[:, :, None]
    return y[r:-r, r:-r] if r else y  # the border (which depends on the padding) is dropped


def _ssim_cs(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel means of the SSIM map and of its contrast-structure part: ``(C,)`` each."""
    c1, c2 = SSIM_K1**2, SSIM_K2**2  # data range 1
    mu_x, mu_y = _filter(x, g), _filter(y, g)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    s_xx = _filter(x * x, g) - mu_xx
    s_yy = _filter(y * y, g) - mu_yy
    s_xy = _filter(x * y, g) - mu_xy
    cs_map = (2.0 * s_xy + c2) / (s_xx + s_yy + c2)
    ssim_map = (2.0 * mu_xy + c1) / (mu_xx + mu_yy + c1) * cs_map
    return ssim_map.mean(axis=(0, 1)), cs_map.mean(axis=(0, 1))


def _check_size(h: int, w: int) -> None:
    if min(h, w) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs frames of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {h}x{w}")


def ssim(a: np.ndarray, b: np.ndarray):
    """SSIM (Gaussian 11x11, sigma 1.5, per RGB channel, averaged): 1 for identical frames."""
    x, y, single = _pair(a, b)
    _check_size(*x.shape[1:3])
    g = gaussian_kernel()
    vals = [float(_ssim_cs(_to_float(p), _to_float(q), g)[0].mean()) for p, q in zip(x, y)]
    return _out(vals, single)


def ms_ssim_scales(height: int, width: int, max_scales: int = len(MS_SSIM_WEIGHTS)) -> int:
    """Scales MS-SSIM uses for a frame: the most (up to 5) whose coarsest side is >= 11 pixels."""
    _check_size(height, width)
    n = 1
    h, w = height, width
    while n < max_scales and min(h // 2, w // 2) >= SSIM_WINDOW:
        h, w = h // 2, w // 2
        n += 1
    return n


def _pool2(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling of ``(H, W, C)`` (an odd last row/column is dropped)."""
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    x = x[:h, :w]
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


def _ms_ssim_one(x: np.ndarray, y: np.ndarray, weights: np.ndarray, g: np.ndarray) -> tuple[float, float]:
    """``(MS-SSIM, SSIM)`` of one pair: the first scale's full SSIM comes for free."""
    scales = len(weights)
    terms = []
    first = None
    for i in range(scales):
        s, cs = _ssim_cs(x, y, g)
        if i == 0:
            first = float(s.mean())
        if i == scales - 1:
            terms.append(s)
        else:
            terms.append(cs)
            x, y = _pool2(x), _pool2(y)
    stack = np.maximum(np.stack(terms), 0.0)  # (scales, C)
    return float(np.prod(stack ** weights[:, None], axis=0).mean()), first


def ms_ssim(a: np.ndarray, b: np.ndarray):
    """MS-SSIM: 5 scales with the standard weights (fewer, renormalised, for small frames)."""
    return ssim_and_ms_ssim(a, b)[1]


def ssim_and_ms_ssim(a: np.ndarray, b: np.ndarray):
    """``(ssim(a, b), ms_ssim(a, b))`` for the cost of MS-SSIM alone."""
    x, y, single = _pair(a, b)
    scales = ms_ssim_scales(*x.shape[1:3])
    weights = np.asarray(MS_SSIM_WEIGHTS[:scales], dtype=np.float64)
    if scales < len(MS_SSIM_WEIGHTS):  # the standard weights as they are (they sum to 1.0001)
        weights = weights / weights.sum()
    g = gaussian_kernel()
    pairs = [_ms_ssim_one(_to_float(p), _to_float(q), weights, g) for p, q in zip(x, y)]
    return _out([p[1] for p in pairs], single), _out([p[0] for p in pairs], single)


# ---------------------------------------------------------------------------------------------
# Interp-PSNR (DIS midpoint)
def _remap(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``out(p) = image(p + flow(p))`` (bilinear, edge pixels replicated): float32 ``(H, W, 3)``."""
    import cv2

    h, w = flow.shape[1:]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x = xs + flow[0].astype(np.float32)
    map_y = ys + flow[1].astype(np.float32)
    return cv2.remap(image.astype(np.float32), map_x, map_y, interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def interp_frame(before: np.ndarray, after: np.ndarray, preset: str = "medium") -> np.ndarray:
    """The frame halfway between ``before`` and ``after`` (uint8 ``(H, W, 3)``), DIS-based.

    ``f = DIS(before -> after)`` on ``before``'s grid and ``b = DIS(after -> before)`` on
    ``after``'s grid; the midpoint's backward flows (the ``t = 1/2`` linear-motion approximation
    of Super SloMo's intermediate flows) are ``m->before = (b - f) / 4`` and
    ``m->after = (f - b) / 4``; both frames are back-warped along them (bilinear, edges
    replicated) and averaged. Exact for a uniform translation.
    """
    from internet_cli.clips.flow import dis_flow_pair

    f, b = dis_flow_pair(before, after, preset)
    to_before = 0.25 * (b - f)
    to_after = 0.25 * (f - b)
    mid = 0.5 * (_remap(before, to_before) + _remap(after, to_after))
    return np.clip(np.rint(mid), 0, 255).astype(np.uint8)


def interp_psnr(before: np.ndarray, after: np.ndarray, target: np.ndarray, cap: float = PSNR_CAP,
                preset: str = "medium") -> float:
    """PSNR (dB) of :func:`interp_frame` ``(before, after)`` against ``target`` (the real frame)."""
    return float(psnr(interp_frame(before, after, preset), target, cap))


def interp_psnr_video(outputs: np.ndarray, reals: np.ndarray, cap: float = PSNR_CAP,
                      preset: str = "medium") -> np.ndarray:
    """Interp-PSNR of frames ``1 .. T-2`` of a whole video (``(T, H, W, 3)`` uint8 each)."""
    outputs, _ = _batch(outputs)
    reals, _ = _batch(reals)
    return np.array([interp_psnr(outputs[t - 1], outputs[t + 1], reals[t], cap, preset)
                     for t in range(1, len(outputs) - 1)], dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# warping error
def flow_valid(flow: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: where ``p + flow(p)`` lies inside the frame (a backwarp reads real pixels)."""
    h, w = flow.shape[1:]
    xs = np.arange(w, dtype=np.float32)[None, :] + flow[0]
    ys = np.arange(h, dtype=np.float32)[:, None] + flow[1]
    return (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1) & np.isfinite(xs) & np.isfinite(ys)


def warping_errors(prev: np.ndarray, cur: np.ndarray, flows: np.ndarray,
                   masks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Batched :func:`warping_error`: ``(sum of |.| over valid pixels and channels / 3, valid
    pixel count)`` per pair, so that callers can weight by valid pixels or by pairs.

    ``prev``, ``cur``: ``(B, H, W, 3)`` uint8; ``flows``: ``(B, 2, H, W)`` real-video flows
    ``t-1 -> t``; ``masks``: optional ``(B, H, W)`` extra validity (e.g. ground-truth
    visibility), combined with :func:`flow_valid`.
    """
    from internet_cli.motion.geometry import backwarp

    p, _ = _batch(prev)
    c, _ = _batch(cur)
    flows = np.asarray(flows, dtype=np.float32)
    if flows.ndim == 3:
        flows = flows[None]
    if p.shape != c.shape or flows.shape != (len(p), 2, *p.shape[1:3]):
        raise ValueError(f"shapes do not fit: prev {p.shape}, cur {c.shape}, flows {flows.shape}")
    valid = np.stack([flow_valid(f) for f in flows])
    if masks is not None:
        valid &= np.asarray(masks, dtype=bool).reshape(valid.shape)
    tc = torch.from_numpy(np.ascontiguousarray(c)).permute(0, 3, 1, 2).float() / 255.0
    tp = torch.from_numpy(np.ascontiguousarray(p)).permute(0, 3, 1, 2).float() / 255.0
    warped = backwarp(tc, torch.from_numpy(flows))
    diff = (warped - tp).abs().mean(dim=1).double().numpy()  # (B, H, W), mean over channels
    sums = (diff * valid).reshape(len(p), -1).sum(axis=1)
    counts = valid.reshape(len(p), -1).sum(axis=1).astype(np.float64)
    return sums, counts


def warping_error(prev: np.ndarray, cur: np.ndarray, flow: np.ndarray, mask: np.ndarray | None = None) -> float:
    """``mean |backwarp(cur, flow) - prev|`` in [0, 1] over valid pixels (NaN when none is valid).

    ``flow`` ``(2, H, W)`` is the real video's flow from frame ``t-1`` (``prev``'s time) into
    ``t`` (``cur``'s time), on ``t-1``'s grid. Valid: ``p + flow(p)`` inside the frame and
    ``mask`` (optional, e.g. visibility) set.
    """
    sums, counts = warping_errors(np.asarray(prev)[None], np.asarray(cur)[None], np.asarray(flow)[None],
                                  None if mask is None else np.asarray(mask)[None])
    return float(sums[0] / counts[0]) if counts[0] > 0 else math.nan
