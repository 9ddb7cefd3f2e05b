"""Garment prints and part textures: procedural patterns and real-photo crops, painted in each part's own frame."""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from internet_cli.clips.synth.geometry import _hsv, _smooth_mask
from internet_cli.clips.synth.photos import _any_photo, texture_photos


_TEX_BLUR = 0.8  # texels; keeps textures smooth at the pixel scale (bilinear-exact warps)


Pattern = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def _mix(c1, c2, m):
    return c1[None, None, :] * (1.0 - m[..., None]) + c2[None, None, :] * m[..., None]


def _rand_color(rng, s=(0.25, 0.9), v=(0.25, 0.95)) -> np.ndarray:
    return _hsv(rng.uniform(), rng.uniform(*s), rng.uniform(*v))


def _contrast_color(rng, c: np.ndarray) -> np.ndarray:
    h, s, v = colorsys.rgb_to_hsv(*c)
    v2 = v - rng.uniform(0.35, 0.6) if v > 0.55 else v + rng.uniform(0.35, 0.6)
    return _hsv(h + rng.choice([0.0, 0.5, rng.uniform(-0.2, 0.2)]), rng.uniform(0.1, 0.9), v2)


def _make_pattern(rng: np.random.Generator, kind: str | None = None) -> tuple[str, Pattern]:
    """A random garment print; texture coordinates are body units in the part's local frame.

    Longer than most functions here, on purpose: every print's parameters are drawn up front, in
    one fixed order whatever the kind (so a seed's later draws do not depend on it), and each kind
    is a short closure over them."""
    kinds = ("stripes", "checks", "dots", "photo", "plain")
    if kind is None:
        kind = str(rng.choice(kinds, p=[0.24, 0.2, 0.2, 0.24, 0.12]))
    c1 = _rand_color(rng)
    c2 = _contrast_color(rng, c1)
    theta = rng.uniform(0.0, math.pi) if rng.uniform() < 0.5 else rng.choice([0.0, math.pi / 2])
    ct, st = math.cos(theta), math.sin(theta)
    period = rng.uniform(0.018, 0.06)
    duty = rng.uniform(0.3, 0.7)
    radius = period * rng.uniform(0.18, 0.33)
    photos = texture_photos()
    photo_pick = int(rng.integers(max(1, len(photos))))
    photo_span = rng.uniform(0.25, 0.7)  # body units covered by the whole photo
    photo_off = rng.uniform(0.0, 1.0, size=2)
    photo_flip = bool(rng.uniform() < 0.5)
    tint = rng.uniform(0.0, 0.4)

    if kind == "photo" and not photos:
        kind = "checks"  # no photos here: procedural fallback

    def stripes(X, Y, K):
        P = max(period, 8.0 / K)  # never near the pixel scale: no aliasing, near-exact warps
        ph = ((X * ct + Y * st) / P) % 1.0
        return _mix(c1, c2, (ph < duty).astype(np.float32))

    def checks(X, Y, K):
        u, v = X * ct + Y * st, -X * st + Y * ct
        P = max(period, 8.0 / K)
        m = (np.floor(u / P) + np.floor(v / P)) % 2.0
        return _mix(c1, c2, m.astype(np.float32))

    def dots(X, Y, K):
        u, v = X * ct + Y * st, -X * st + Y * ct
        P = max(period, 10.0 / K)
        r = radius * P / period
        row_h = P * 0.866
        best = np.full(X.shape, np.inf)
        j0 = np.floor(v / row_h)
        for dj in (0.0, 1.0):
            j = j0 + dj
            off = 0.5 * P * (j % 2.0)
            du = u - off - P * np.round((u - off) / P)
            dv = v - j * row_h
            best = np.minimum(best, np.sqrt(du * du + dv * dv))
        return _mix(c1, c2, _smooth_mask(best - r, 1.0 / K))

    def photo(X, Y, K):
        img = _any_photo(photos[photo_pick])
        h, w = img.shape[:2]
        px_per_unit = max(w, h) / photo_span
        # prefilter the photo to about one pixel per texel, then sample it bilinearly
        f = min(1.0, K / px_per_unit)
        if f < 1.0:
            img = cv2.resize(img, (max(2, round(w * f)), max(2, round(h * f))), interpolation=cv2.INTER_AREA)
            px_per_unit *= img.shape[1] / w
        if photo_flip:
            img = img[:, ::-1]
        mx = ((X - photo_off[0] * photo_span) * px_per_unit).astype(np.float32)
        my = ((Y - photo_off[1] * photo_span) * px_per_unit).astype(np.float32)
        out = cv2.remap(np.ascontiguousarray(img), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        gray = out.mean(axis=2, keepdims=True)
        return out * (1.0 - tint) + tint * gray * (0.6 + 0.8 * c1[None, None, :])

    def plain(X, Y, K):
        return np.broadcast_to(c1[None, None, :], X.shape + (3,)).copy()

    return kind, {"stripes": stripes, "checks": checks, "dots": dots, "photo": photo, "plain": plain}[kind]


def _noise(rng: np.random.Generator, shape: tuple[int, int], cell: float, amp: float) -> np.ndarray:
    """Smooth value noise (about one feature per ``cell`` texels) in [-amp, amp]."""
    h, w = shape
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    g = rng.uniform(-amp, amp, size=(gh, gw)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)


@dataclass
class _Texture:
    image: np.ndarray  # (h, w, 3) float32 in [0, 1]
    lo: np.ndarray  # local coordinates (body units) of texel (0, 0)
    K: float  # texels per body unit

    def from_local(self) -> np.ndarray:
        """3x3 matrix: local body-unit coordinates -> texel coordinates."""
        return np.array([[self.K, 0.0, -self.K * self.lo[0]], [0.0, self.K, -self.K * self.lo[1]], [0, 0, 1.0]])


def _texture(bbox_lo, bbox_hi, K: float, paint: Callable[[np.ndarray, np.ndarray], np.ndarray],
             rng: np.random.Generator) -> _Texture:
    margin = 4.0 / K
    lo = np.asarray(bbox_lo, dtype=np.float64) - margin
    hi = np.asarray(bbox_hi, dtype=np.float64) + margin
    nx, ny = int(math.ceil((hi[0] - lo[0]) * K)) + 1, int(math.ceil((hi[1] - lo[1]) * K)) + 1
    X, Y = np.meshgrid(lo[0] + np.arange(nx) / K, lo[1] + np.arange(ny) / K)
    img = paint(X, Y).astype(np.float32)
    img *= 1.0 + _noise(rng, (ny, nx), cell=max(4.0, K * 0.02), amp=0.035)[..., None]  # fabric / skin grain
    img = cv2.GaussianBlur(img, (0, 0), _TEX_BLUR)
    return _Texture(np.ascontiguousarray(np.clip(img, 0.0, 1.0)), lo, K)

