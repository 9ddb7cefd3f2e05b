"""2D geometry and rasterising for the synthetic dancers: local frames, outlines, coverage, triangles."""

from __future__ import annotations

import colorsys
import math

import cv2
import numpy as np


_SS = 4  # supersampling factor for the anti-aliased coverage of a part's outline
_OWN = 120  # coverage (0..255) from which a pixel belongs to a part (about half covered)


def _rot(a: float) -> np.ndarray:
    """2x2 matrix mapping a local frame whose +y axis points along angle ``a`` (0 = down)."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, s], [-s, c]])


def _aff(lin: np.ndarray, trans) -> np.ndarray:
    m = np.eye(3)
    m[:2, :2] = lin
    m[:2, 2] = trans
    return m


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:2, :2].T + m[:2, 2]


def _chaikin(pts: np.ndarray, iterations: int = 3) -> np.ndarray:
    p = np.asarray(pts, dtype=np.float64)
    for _ in range(iterations):
        n = np.roll(p, -1, axis=0)
        q = 0.75 * p + 0.25 * n
        r = 0.25 * p + 0.75 * n
        p = np.stack([q, r], axis=1).reshape(-1, 2)
    return p


def _hull(pts: np.ndarray) -> np.ndarray:
    return cv2.convexHull(np.asarray(pts, dtype=np.float32))[:, 0, :].astype(np.float64)


def _circle(cx: float, cy: float, rx: float, ry: float | None = None, n: int = 28) -> np.ndarray:
    a = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(a), cy + (rx if ry is None else ry) * np.sin(a)], axis=1)


def _capsule(length: float, r0: float, r1: float) -> np.ndarray:
    """Tapered capsule from (0, 0) (radius r0) to (0, length) (radius r1), local +y along it."""
    return _hull(np.concatenate([_circle(0.0, 0.0, r0), _circle(0.0, length, r1)]))


def _smooth_mask(d: np.ndarray, width: float) -> np.ndarray:
    """1 where the signed distance-like ``d`` < 0, 0 where > 0, linear ramp of ``width``."""
    return np.clip(0.5 - d / max(width, 1e-9), 0.0, 1.0)


def _ellipse_mask(X, Y, cx, cy, rx, ry, texel):
    d = (np.sqrt(((X - cx) / rx) ** 2 + ((Y - cy) / ry) ** 2) - 1.0) * min(rx, ry)
    return _smooth_mask(d, texel)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1))))


def _blend(c: np.ndarray, color: np.ndarray, m: np.ndarray, scale: np.ndarray | float = 1.0) -> np.ndarray:
    col = color[None, None, :] * (np.asarray(scale)[..., None] if np.ndim(scale) else scale)
    return c * (1.0 - m[..., None]) + col * m[..., None]


def _coverage(poly: np.ndarray, w: int, h: int) -> np.ndarray:
    """Anti-aliased coverage (h, w) uint8 of a polygon given in pixel coordinates of the box."""
    ss = np.zeros((h * _SS, w * _SS), np.uint8)
    shift = 6
    pts = np.rint((poly * _SS + (_SS - 1) / 2.0) * (1 << shift)).astype(np.int32)
    cv2.fillPoly(ss, [pts], 255, lineType=cv2.LINE_8, shift=shift)
    return cv2.resize(ss, (w, h), interpolation=cv2.INTER_AREA)


def _triangle_affines(rest: np.ndarray, img: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(nt, 3, 3) affine maps taking each rest triangle onto its image triangle."""
    R = np.concatenate([rest[tris], np.ones(tris.shape + (1,))], axis=2)  # (nt, 3, 3) rows [x y 1]
    D = img[tris]  # (nt, 3, 2)
    sol = np.linalg.solve(R, D)  # (nt, 3, 2): R @ sol = D
    out = np.tile(np.eye(3), (len(tris), 1, 1))
    out[:, :2, :] = np.transpose(sol, (0, 2, 1))
    return out


def _which_triangle(px: np.ndarray, py: np.ndarray, verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Index of the triangle containing each point (the nearest one, for points just outside)."""
    a, b, c = verts[tris[:, 0]], verts[tris[:, 1]], verts[tris[:, 2]]
    e1, e2 = b - a, c - a
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    inv = np.stack([np.stack([e2[:, 1], -e2[:, 0]], 1), np.stack([-e1[:, 1], e1[:, 0]], 1)], 1) / det[:, None, None]
    inv = inv.astype(np.float32)
    dx = px[:, None] - a[None, :, 0].astype(np.float32)
    dy = py[:, None] - a[None, :, 1].astype(np.float32)
    l1 = inv[None, :, 0, 0] * dx + inv[None, :, 0, 1] * dy
    l2 = inv[None, :, 1, 0] * dx + inv[None, :, 1, 1] * dy
    score = np.minimum(np.minimum(l1, l2), 1.0 - l1 - l2)
    return np.argmax(score, axis=1).astype(np.int32)


