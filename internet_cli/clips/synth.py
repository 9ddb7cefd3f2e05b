"""Synthetic dance / fashion videos with exact ground-truth optical flow (`internet synth`).

Each video shows one articulated, textured, human-like figure on a plain studio background:
head (hair, eyes, brows, mouth), neck, torso, arms, hands, legs, feet and a deformable skirt,
dress or coat whose hem lags the hips. The figure dances (smooth periodic joint angles, body
sway) and walks slowly toward the camera (scale-up and downward drift, as on a runway).

Everything is rendered by *inverse mapping*: every part has a transform from its own local
frame (where its texture lives) to the image. Rigid parts use one affine transform; the
garment is a triangle mesh, one affine transform per triangle (piecewise affine). A per-pixel
ownership map records which part/triangle was drawn on top, so the ground-truth flow is exact:
for a pixel ``p`` of frame ``t-1`` owned by piece ``k``, ``flow[t](p) = A_k(t) A_k(t-1)^-1 p - p``
(see ``docs/design.md`` for the flow convention and ``docs/synth.md`` for the file format).

Deterministic for a seed; numpy/OpenCV only (scikit-image photos are used as garment textures
when it is importable, procedural prints otherwise).
"""

from __future__ import annotations

import colorsys
import dataclasses
import functools
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from internet_cli.atomic import atomic_path, write_text
from internet_cli.pose.files import POSE_SUFFIX, PoseTrack, save_pose

__all__ = ["SynthVideo", "render_video", "write_dataset", "split_counts", "video_seed", "GT_SUFFIX"]

GT_SUFFIX = ".gt.npz"
SYNTH_FORMAT_VERSION = 1
_SS = 4  # supersampling factor for the anti-aliased coverage of a part's outline
_OWN = 120  # coverage (0..255) from which a pixel belongs to a part (about half covered)
_TEX_BLUR = 0.8  # texels; keeps textures smooth at the pixel scale (bilinear-exact warps)


# --------------------------------------------------------------------------------------
# Small geometry helpers
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Textures ("prints"): functions of local coordinates in body units
# --------------------------------------------------------------------------------------

# scikit-image's photos for garment prints. Not its astronaut or camera man: people, and sources of
# the real-photo evaluation (benchmarks/pose_following.py), which training must never see.
_PHOTO_NAMES = ("coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field",
                "colorwheel", "brick", "grass", "gravel")


@functools.lru_cache(maxsize=None)
def _photo(name: str) -> np.ndarray | None:
    """A bundled scikit-image photo as float32 RGB in [0, 1], or None (no scikit-image, no file)."""
    try:
        import skimage.data as skdata  # optional: only used for photo textures

        img = np.asarray(getattr(skdata, name)())
    except Exception:  # noqa: BLE001 - any failure just means "no photo texture"
        return None
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3].astype(np.float32)
    return img / (255.0 if img.max() > 1.0 else 1.0)


def texture_photos() -> list[str]:
    """The real photos garment prints are cut from on this machine: scikit-image's, then
    opencv-doc's people-free scenes when Debian's package is installed (never a photo of a person:
    the evaluation sources are among opencv-doc's)."""
    names = [n for n in _PHOTO_NAMES if _photo(n) is not None]
    return names + [n for n in _BACKGROUND_OPENCV if (_OPENCV_DATA / n).is_file()]


def photos_available() -> bool:
    return bool(texture_photos())


def _any_photo(name: str) -> np.ndarray | None:
    """float32 RGB in [0, 1] of a photo named by ``texture_photos`` or ``background_photos``."""
    return _photo(name) if name in _PHOTO_NAMES else _opencv_photo(name)


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
    """A random garment print; texture coordinates are body units in the part's local frame."""
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


# --------------------------------------------------------------------------------------
# Body, motion and scene sampling
# --------------------------------------------------------------------------------------


@dataclass
class _Body:
    torso_len: float
    shoulder_x: float
    shoulder_y: float
    hip_x: float
    hip_y: float
    waist_hw: float
    neck_len: float
    neck_r: float
    head_rx: float
    head_ry: float
    ua: tuple[float, float, float]  # length, r0, r1
    fa: tuple[float, float, float]
    hand: tuple[float, float, float]
    thigh: tuple[float, float, float]
    shin: tuple[float, float, float]
    foot_len: float
    foot_w: float
    hair_len: float  # hair hanging below the chin (0: short hair)
    sole: float = 0.0  # pelvis -> sole distance (rest pose), set by normalisation
    head_c: float = 0.0  # neck top -> head centre distance


def _sample_body(rng: np.random.Generator) -> _Body:
    u = lambda a, b: float(rng.uniform(a, b))  # noqa: E731
    thick = u(0.78, 1.32)
    arm_l, leg_l = u(0.88, 1.12), u(0.88, 1.12)
    head = u(0.85, 1.15)
    b = _Body(
        torso_len=0.30 * u(0.88, 1.12),
        shoulder_x=0.105 * u(0.82, 1.22),
        shoulder_y=0.0,
        hip_x=0.055 * u(0.85, 1.3),
        hip_y=0.025,
        waist_hw=0.075 * u(0.8, 1.2) * thick,
        neck_len=0.04 * u(0.85, 1.2),
        neck_r=0.026 * thick,
        head_rx=0.052 * head * u(0.93, 1.05),
        head_ry=0.066 * head,
        ua=(0.165 * arm_l, 0.033 * thick, 0.027 * thick),
        fa=(0.145 * arm_l, 0.026 * thick, 0.019 * thick),
        hand=(0.07 * arm_l, 0.02 * thick, 0.019 * thick),
        thigh=(0.24 * leg_l, 0.05 * thick, 0.035 * thick),
        shin=(0.23 * leg_l, 0.034 * thick, 0.022 * thick),
        foot_len=0.05,
        foot_w=0.026 * thick,
        hair_len=float(rng.choice([0.0, u(0.02, 0.08), u(0.08, 0.2)])),
    )
    b.shoulder_y = -b.torso_len + 0.038
    b.head_c = b.head_ry * 0.8
    head_top = -b.torso_len - b.neck_len - b.head_c - b.head_ry * 1.08
    sole = b.hip_y + b.thigh[0] + b.shin[0] + b.foot_len * 0.9
    f = 1.0 / (sole - head_top)  # normalise: rest-pose height (head top to sole) = 1
    for name in ("torso_len", "shoulder_x", "shoulder_y", "hip_x", "hip_y", "waist_hw", "neck_len", "neck_r",
                 "head_rx", "head_ry", "foot_len", "foot_w", "hair_len", "head_c"):
        setattr(b, name, getattr(b, name) * f)
    for name in ("ua", "fa", "hand", "thigh", "shin"):
        setattr(b, name, tuple(v * f for v in getattr(b, name)))
    b.sole = sole * f
    return b


@dataclass
class _Wave:
    """``mid + half * sum_k w_k sin(2 pi f_k t + phi_k)`` with ``sum w_k = 1``: stays in range."""

    mid: float
    half: float
    w: np.ndarray
    f: np.ndarray
    ph: np.ndarray

    def __call__(self, t: float) -> float:
        return self.mid + self.half * float(np.sum(self.w * np.sin(2.0 * math.pi * self.f * t + self.ph)))


def _wave(rng, lo, hi, mid, half, f0, harmonics=(0.5, 1.0, 1.5), deg=True) -> _Wave:
    k = math.pi / 180.0 if deg else 1.0
    m = float(rng.uniform(*mid))
    h = float(rng.uniform(*half))
    h = max(0.0, min(h, m - lo, hi - m))
    n = len(harmonics)
    w = rng.uniform(0.2, 1.0, size=n)
    w /= w.sum()
    f = f0 * np.asarray(harmonics) * rng.uniform(0.9, 1.1, size=n)
    ph = rng.uniform(0.0, 2.0 * math.pi, size=n)
    return _Wave(m * k, h * k, w, f, ph)


@dataclass
class _Motion:
    tilt: _Wave
    head: _Wave
    sway: _Wave
    bob: _Wave
    abd: dict[int, _Wave]
    elbow: dict[int, _Wave]
    wrist: dict[int, _Wave]
    hip: dict[int, _Wave]
    knee: dict[int, _Wave]


def _mocap_motion(periodic: _Motion, mocap) -> _Motion:
    """``periodic`` with every joint the clips capture replaced by the mocap's (the wrists stay)."""
    side = lambda key: {s: mocap.series(f"{key}{s}") for s in (-1, 1)}  # noqa: E731
    return dataclasses.replace(periodic, tilt=mocap.series("tilt"), head=mocap.series("head"),
                               sway=mocap.series("sway"), bob=mocap.series("bob"), abd=side("abd"),
                               elbow=side("elbow"), hip=side("hip"), knee=side("knee"))


def _sample_motion(rng: np.random.Generator, cross_side: int) -> _Motion:
    f0 = float(rng.uniform(0.35, 0.75))  # tempo (Hz)
    abd, elbow, wrist, hip, knee = {}, {}, {}, {}, {}
    for s in (-1, 1):
        crossing = s == cross_side and rng.uniform() < 0.7  # this arm swings across the body
        abd[s] = _wave(rng, -40, 155, (-10, 25) if crossing else (5, 70), (25, 85), f0)
        elbow[s] = _wave(rng, -125, 110, (-70, -10) if crossing else (-45, 40), (20, 65), f0)
        wrist[s] = _wave(rng, -30, 30, (-10, 10), (5, 20), f0)
        hip[s] = _wave(rng, -8, 35, (0, 10), (2, 13), f0)
        knee[s] = _wave(rng, -20, 25, (-4, 6), (2, 10), f0)
    return _Motion(
        tilt=_wave(rng, -10, 10, (-2, 2), (2, 7), f0),
        head=_wave(rng, -20, 20, (-5, 5), (4, 14), f0),
        sway=_wave(rng, -0.06, 0.06, (-0.005, 0.005), (0.005, 0.04), f0, deg=False),
        bob=_wave(rng, -0.012, 0.0, (-0.006, -0.006), (0.0, 0.006), f0, harmonics=(1.0, 2.0), deg=False),
        abd=abd, elbow=elbow, wrist=wrist, hip=hip, knee=knee,
    )


@dataclass
class _Mesh:
    rest: np.ndarray  # (nv, 2) rest coordinates in the trunk frame (body units)
    tris: np.ndarray  # (nt, 3) vertex indices, counter-clockwise in rest space
    boundary: np.ndarray  # vertex indices of the outline loop
    u: np.ndarray  # (nv,) across coordinate in [-1, 1]
    v: np.ndarray  # (nv,) top (0) to hem (1)
    lag_w: np.ndarray  # (nv,) how much the vertex follows the lagged hips
    kind: str
    hem_hw: float
    hem_y: float


def _garment_mesh(kind: str, b: _Body, rng: np.random.Generator) -> _Mesh:
    u = lambda a, c: float(rng.uniform(a, c))  # noqa: E731
    knee_y = b.hip_y + b.thigh[0]
    hip_hw = b.hip_x + b.thigh[1] * 0.95
    if kind == "coat":
        top_y = b.shoulder_y - 0.02
        waist_y = -0.1
        hem_y = knee_y + u(-0.08, 0.1)
        prof = [(top_y, b.shoulder_x + b.ua[1] * 0.85), (waist_y, b.waist_hw + 0.02),
                (0.0, hip_hw + 0.02), (hem_y, hip_hw * u(1.15, 1.6))]
    else:
        top_y = -0.1 * u(0.9, 1.2)
        hem_y = knee_y + u(-0.12, 0.16)
        prof = [(top_y, b.waist_hw + 0.004), (0.0, hip_hw + 0.006), (hem_y, hip_hw * u(1.2, 2.0))]
    ys = np.array([p[0] for p in prof])
    hws = np.array([p[1] for p in prof])
    rows_y = np.unique(np.concatenate([ys, np.linspace(top_y, hem_y, 5)]))
    rows_y = rows_y[np.concatenate([[True], np.diff(rows_y) > 0.02 * (hem_y - top_y)])]
    rows_y[-1] = hem_y
    ncol = 6
    us = np.linspace(-1.0, 1.0, ncol + 1)
    V, U = np.meshgrid((rows_y - top_y) / (hem_y - top_y), us, indexing="ij")
    Yr = top_y + V * (hem_y - top_y)
    HW = np.interp(Yr, ys, hws)
    if kind == "coat":  # sloping shoulders
        Yr = Yr + np.clip(1.0 - (Yr - top_y) / 0.08, 0.0, 1.0) * 0.03 * U ** 2
    rest = np.stack([U * HW, Yr], axis=-1).reshape(-1, 2)
    nr = len(rows_y)
    idx = np.arange(nr * (ncol + 1)).reshape(nr, ncol + 1)
    tris = []
    for i in range(nr - 1):
        for j in range(ncol):
            a, bb, c, d = idx[i, j], idx[i, j + 1], idx[i + 1, j], idx[i + 1, j + 1]
            tris += [(a, c, bb), (bb, c, d)]
    boundary = np.concatenate([idx[0, :], idx[1:, -1], idx[-1, -2::-1], idx[-2:0:-1, 0]])
    vflat = V.reshape(-1)
    yflat = rest[:, 1]
    # the part below the hips swings: weight grows from 0 at the hips to 1 at the hem
    swing = np.clip((yflat - 0.0) / max(hem_y, 1e-3), 0.0, 1.0) ** 1.5
    return _Mesh(rest, np.array(tris, dtype=np.int64), boundary, U.reshape(-1), vflat, swing, kind,
                 float(hws[-1]), float(hem_y))


@dataclass
class _Part:
    name: str
    pid: int  # surface id in the ownership map (1..), draw order
    outline: np.ndarray | None  # (n, 2) local outline (rigid parts)
    tex: _Texture
    mesh: _Mesh | None = None
    piece0: int = 0  # first piece index (rigid: one piece, mesh: one per triangle)


@dataclass
class _FrameRender:
    image: np.ndarray  # (H, W, 3) uint8
    parts: np.ndarray  # (H, W) uint8 surface id, 0 = background
    pieces: np.ndarray  # (H, W) int32 piece id, 0 = background
    affines: np.ndarray  # (P, 3, 3) piece local -> image


class _Scene:
    """One video's figure, outfit, motion, camera path and background."""

    def __init__(self, seed: int, frames: int, size: int, fps: int, photo_backgrounds: float = 0.0,
                 motion: str = "periodic"):
        self.seed, self.T, self.size, self.fps = int(seed), int(frames), int(size), int(fps)
        self.photo_backgrounds = float(photo_backgrounds)
        ss = np.random.SeedSequence(self.seed)
        r_body, r_motion, r_layout, r_look, r_tex = (np.random.default_rng(s) for s in ss.spawn(5))
        self.body = _sample_body(r_body)
        self.front = int(r_layout.choice([-1, 1]))  # the arm drawn in front of the torso
        self.motion = _sample_motion(r_motion, cross_side=self.front)
        self.mocap = None
        if motion == "mocap":  # its own stream: everything else is drawn as for a periodic dancer
            from internet_cli.clips import mocap

            r_mocap = np.random.default_rng(np.random.SeedSequence([self.seed, 17]))
            self.mocap = mocap.sample_motion(r_mocap, max(self.T - 1, 1) / self.fps, self.fps)
            self.motion = _mocap_motion(self.motion, self.mocap)

        # camera path (runway): the figure walks toward the camera, so it grows by `grow` over the
        # clip and, in perspective, everything below the horizon `hz` moves down by the same factor
        duration = max(self.T - 1, 1) / self.fps
        grow = min(0.15, float(r_layout.uniform(0.0, 0.04)) * duration)
        h0 = float(r_layout.uniform(0.70, min(0.86, 0.92 / (1.0 + grow))))  # height / frame height
        delta = float(r_layout.uniform(0.0, 0.05))
        top0 = float(r_layout.uniform(0.02, max(0.02, 0.985 - h0 * (1.0 + grow) - delta * grow)))
        x0 = float(r_layout.uniform(0.32, 0.68))
        xdrift = float(r_layout.uniform(-0.012, 0.012)) * duration
        self.path = (h0, grow, top0 + h0, top0 - delta, x0, xdrift)  # height, grow, feet, horizon, x, dx
        self.K = size * h0 * (1.0 + grow) * 1.05  # texels per body unit >= pixels per body unit

        self.bg = self._background(r_look)
        self.parts = self._build_parts(r_look, r_tex)
        n = 1
        for p in self.parts:
            p.piece0 = n
            n += 1 if p.mesh is None else len(p.mesh.tris)
        self.n_pieces = n
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        self._X, self._Y = xs, ys

    # -- look -------------------------------------------------------------------------

    def _background(self, rng) -> np.ndarray:
        s = self.size
        # Its own stream, so that the studio backgrounds (and everything after) stay as they were.
        r_photo = np.random.default_rng(np.random.SeedSequence([self.seed, 13]))
        if r_photo.uniform() < self.photo_backgrounds:
            photo = _background_photo(r_photo, s)
            if photo is not None:
                return photo
        hue = rng.uniform()
        sat = rng.uniform(0.03, 0.35)
        top = _hsv(hue, sat, rng.uniform(0.45, 0.95))
        bottom = _hsv(hue + rng.uniform(-0.05, 0.05), sat * rng.uniform(0.6, 1.2), rng.uniform(0.3, 0.9))
        y = np.linspace(0.0, 1.0, s, dtype=np.float32)[:, None, None]
        floor = self.path[2] - 0.06
        w = 1.0 / (1.0 + np.exp(-(y - floor) / 0.04))  # soft cyclorama bend at the floor
        img = top[None, None, :] * (1.0 - 0.5 * w - 0.25 * y) + bottom[None, None, :] * (0.5 * w + 0.25 * y)
        cx, cy = rng.uniform(0.3, 0.7), rng.uniform(0.25, 0.55)
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / s
        r2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / rng.uniform(0.15, 0.45) ** 2
        img = img * (0.82 + 0.28 * np.exp(-r2))[..., None]
        return np.clip(img, 0.0, 1.0).astype(np.float32)

    def _build_parts(self, rng, r_tex) -> list[_Part]:
        b, K = self.body, self.K
        texel = 1.0 / K
        skin = _hsv(rng.uniform(0.02, 0.1), rng.uniform(0.25, 0.6), rng.uniform(0.35, 0.95))
        hair = _hsv(rng.uniform(0.0, 0.12), rng.uniform(0.2, 0.8), rng.uniform(0.06, 0.6))
        if rng.uniform() < 0.12:
            hair = _rand_color(rng)
        lips = _hsv(rng.uniform(-0.04, 0.02), rng.uniform(0.4, 0.8), rng.uniform(0.4, 0.8))
        iris = _hsv(rng.uniform(0.0, 0.7), rng.uniform(0.3, 0.8), rng.uniform(0.1, 0.45))
        shoes = _rand_color(rng, v=(0.1, 0.8))
        garment = str(rng.choice(["skirt", "dress", "coat"], p=[0.45, 0.25, 0.3]))
        _, top = _make_pattern(rng)
        _, bottom = _make_pattern(rng)
        _, gpat = _make_pattern(rng)
        if garment == "dress":
            top = gpat
        legs_skin = garment != "coat" and rng.uniform() < 0.6
        sleeves = (rng.uniform() < 0.8, rng.uniform() < 0.55)
        sleeve_pat = gpat if garment == "coat" else top
        light = rng.uniform(-0.3, 0.3)

        def shaded(pattern, across: Callable[[np.ndarray, np.ndarray], np.ndarray], depth=0.35):
            def paint(X, Y):
                c = np.asarray(pattern(X, Y, K), dtype=np.float32)
                a = np.clip(across(X, Y), -1.0, 1.0)
                return c * (1.0 - depth * a ** 2 + light * 0.15 * a)[..., None]

            return paint

        def solid(color):
            return lambda X, Y, K_: np.broadcast_to(color[None, None, :], X.shape + (3,)).astype(np.float32)

        def limb_across(length, r0, r1):
            return lambda X, Y: X / (r0 + (r1 - r0) * np.clip(Y / length, 0.0, 1.0))

        parts: list[_Part] = []

        def add(name, outline, paint, mesh=None):
            lo, hi = (mesh.rest if mesh is not None else outline).min(0), (mesh.rest if mesh is not None
                                                                            else outline).max(0)
            tex = _texture(lo, hi, K, paint, r_tex)
            parts.append(_Part(name, len(parts) + 1, outline, tex, mesh))

        def arm(s):
            side = "f" if s == self.front else "b"
            L, r0, r1 = b.ua
            add(f"upper_arm_{side}", _capsule(L, r0, r1),
                shaded(sleeve_pat if sleeves[0] else solid(skin), limb_across(L, r0, r1)))
            L, r0, r1 = b.fa
            add(f"forearm_{side}", _capsule(L, r0, r1),
                shaded(sleeve_pat if sleeves[0] and sleeves[1] else solid(skin), limb_across(L, r0, r1)))
            L, r0, r1 = b.hand
            hand_col = skin * 0.95
            add(f"hand_{side}", _capsule(L, r0, r1), shaded(solid(hand_col), limb_across(L, r0, r1), 0.3))

        # hair hanging behind everything
        hc, rx, ry = b.head_c, b.head_rx, b.head_ry
        hair_pts = [_circle(0.0, -hc - 0.08 * ry, rx * 1.2, ry * 1.12)]
        if b.hair_len > 0:
            hair_pts.append(_circle(0.0, -hc + ry * 0.4 + b.hair_len, rx * 1.05, rx * 0.6))
        strands = float(rng.uniform(0.004, 0.009))
        hair_phase = float(rng.uniform(0, 6.3))

        strands = max(strands, 5.0 / K)

        def hair_paint(X, Y):
            s_ = 0.9 + 0.1 * np.sin(2 * math.pi * X / strands + hair_phase + 3.0 * np.sin(Y * 40.0))
            dark = 1.0 - 0.35 * np.clip((Y + hc) / (ry + b.hair_len + 1e-6), 0.0, 1.0)
            return hair[None, None, :] * (s_ * dark)[..., None]

        add("hair_back", _hull(np.concatenate(hair_pts)), hair_paint)
        arm(-self.front)
        for s in (-1, 1):
            side = "l" if s < 0 else "r"
            L, r0, r1 = b.thigh
            leg_pat = solid(skin * 0.97) if legs_skin else bottom
            add(f"thigh_{side}", _capsule(L, r0, r1), shaded(leg_pat, limb_across(L, r0, r1)))
            L, r0, r1 = b.shin
            add(f"shin_{side}", _capsule(L, r0, r1), shaded(leg_pat, limb_across(L, r0, r1)))
            fw, fl = b.foot_w, b.foot_len
            foot = _chaikin(np.array([[-fw * 0.8, -0.012], [fw * 0.8, -0.012], [fw * 1.05, fl * 0.6],
                                      [fw * 0.7, fl], [-fw * 0.7, fl], [-fw * 1.05, fl * 0.6]]), 2)
            add(f"foot_{side}", foot, shaded(solid(shoes), lambda X, Y: X / (fw * 1.1), 0.45))
        # neck
        nl, nr = b.neck_len, b.neck_r
        neck = _hull(np.concatenate([_circle(0.0, 0.01, nr), _circle(0.0, -nl - 0.02, nr)]))

        def neck_paint(X, Y):
            shade = 1.0 - 0.25 * np.clip((-Y - nl * 0.4) / (nl * 0.6 + 0.02), 0.0, 1.0)  # under the chin
            return skin[None, None, :] * (shade * (1.0 - 0.3 * np.clip(X / nr, -1, 1) ** 2))[..., None]

        add("neck", neck, neck_paint)
        # torso (trunk frame: origin at the pelvis, y down)
        Lt, sx, sy = b.torso_len, b.shoulder_x, b.shoulder_y
        right = np.array([
            [nr * 1.3, -Lt], [sx * 0.7, -Lt + 0.012], [sx + b.ua[1] * 0.6, sy - b.ua[1] * 0.4],
            [sx + b.ua[1] * 0.7, sy + 0.02], [sx * 0.95, sy + 0.07], [b.waist_hw * 1.08, -0.17],
            [b.waist_hw, -0.1], [b.hip_x + b.thigh[1] * 0.9, -0.01], [b.hip_x + b.thigh[1] * 0.8, 0.05],
            [0.02, 0.07],
        ])
        torso = _chaikin(np.concatenate([right, right[::-1] * [-1.0, 1.0]]), 3)
        neckline = float(rng.choice([0.03, 0.05, 0.08]))
        hw_torso = sx + b.ua[1]

        def torso_paint(X, Y):
            c = np.asarray(top(X, Y, K), dtype=np.float32)
            a = np.clip(X / hw_torso, -1.0, 1.0)
            c = c * (1.0 - 0.28 * a ** 2 + light * 0.1 * a)[..., None]
            neck_m = _ellipse_mask(X, Y, 0.0, -Lt, nr * 1.9, neckline, texel)
            return c * (1.0 - neck_m[..., None]) + skin[None, None, :] * 0.95 * neck_m[..., None]

        add("torso", torso, torso_paint)
        # garment (deformable)
        mesh = _garment_mesh("coat" if garment == "coat" else "skirt", b, rng)
        folds = int(rng.integers(3, 7))
        top_y, hem_y = mesh.rest[:, 1].min(), mesh.hem_y

        def garment_paint(X, Y):
            c = np.asarray(gpat(X, Y, K), dtype=np.float32)
            prof_y = mesh.rest[:: len(np.unique(mesh.u)), 1]
            prof_hw = np.abs(mesh.rest[:: len(np.unique(mesh.u)), 0])
            hw = np.interp(Y, prof_y, prof_hw)
            a = np.clip(X / np.maximum(hw, 1e-3), -1.0, 1.0)
            vv = np.clip((Y - top_y) / (hem_y - top_y), 0.0, 1.0)
            fold = 1.0 - 0.16 * vv * np.sin(math.pi * folds * (a + 1.0) / 2.0) ** 2
            return c * (fold * (1.0 - 0.22 * a ** 2 + light * 0.1 * a))[..., None]

        add("garment", None, garment_paint, mesh=mesh)
        # head: face ellipse + hair volume; origin at the neck top, y down
        cy = -hc
        head = _hull(np.concatenate([_circle(0.0, cy, rx, ry), _circle(0.0, cy - 0.1 * ry, rx * 1.1, ry * 1.05)]))
        part_depth = rng.uniform(0.25, 0.55)
        fringe = rng.uniform(-0.1, 0.25)
        brow = hair * 0.6

        def head_paint(X, Y):
            xn, yn = X / rx, (Y - cy) / ry
            face = _ellipse_mask(X, Y, 0.0, cy, rx, ry, texel)
            shade = 1.0 - 0.22 * np.clip(xn ** 2 + 0.5 * yn ** 2, 0, 1) + light * 0.08 * xn
            c = skin[None, None, :] * shade[..., None]
            nose = _ellipse_mask(X, Y, 0.0, cy + 0.2 * ry, 0.07 * rx, 0.13 * ry, texel)
            c = c * (1.0 - 0.12 * nose[..., None])
            for s in (-1, 1):
                ex, ey = s * 0.38 * rx, cy - 0.02 * ry
                white = _ellipse_mask(X, Y, ex, ey, 0.22 * rx, 0.1 * ry, texel)
                c = _blend(c, np.array([0.95, 0.95, 0.93]), white)
                c = _blend(c, iris, _ellipse_mask(X, Y, ex, ey, 0.1 * ry, 0.1 * ry, texel) * white)
                c = _blend(c, brow, _ellipse_mask(X, Y, ex, ey - 0.24 * ry, 0.24 * rx, 0.045 * ry, texel))
            c = _blend(c, lips, _ellipse_mask(X, Y, 0.0, cy + 0.5 * ry, 0.28 * rx, 0.075 * ry, texel))
            hairline = cy - ry * (part_depth - 0.6 * xn ** 2) + fringe * ry * (1 - xn ** 2)
            cap = np.clip((hairline - Y) * K + 0.5, 0.0, 1.0)
            hair_m = np.maximum(1.0 - face, cap)
            strand = 0.9 + 0.1 * np.sin(2 * math.pi * X / strands + hair_phase)
            return _blend(c, hair * 1.0, hair_m, strand)

        add("head", head, head_paint)
        arm(self.front)
        return parts

    # -- motion -----------------------------------------------------------------------

    def _trunk(self, t: float) -> np.ndarray:
        """Trunk frame (origin at the pelvis) -> body coordinates; the lower foot stays on the floor."""
        b, m = self.body, self.motion
        tilt = m.tilt(t)
        lowest = -math.inf
        for s in (-1, 1):
            hp = _rot(tilt) @ np.array([s * b.hip_x, b.hip_y])
            a = tilt + s * m.hip[s](t)
            kn = hp + _rot(a) @ np.array([0.0, b.thigh[0]])
            a = a + s * m.knee[s](t)
            an = kn + _rot(a) @ np.array([0.0, b.shin[0]])
            lowest = max(lowest, an[1] + 0.9 * b.foot_len * math.cos(0.5 * a + s * 0.06))
        return _aff(_rot(tilt), (m.sway(t), m.bob(t) + b.sole - lowest))

    def _global(self, frame: int) -> np.ndarray:
        """Body coordinates (height 1, origin at the pelvis) -> image pixels."""
        h0, grow, feet0, horizon, x0, xdrift = self.path
        prog = frame / max(self.T - 1, 1)
        g = 1.0 + grow * prog
        scale = self.size * h0 * g
        feet = self.size * (horizon + (feet0 - horizon) * g)
        cx = self.size * (x0 + xdrift * prog)
        return _aff(np.eye(2) * scale, (cx, feet - scale * self.body.sole))

    def _pose(self, frame: int) -> dict[str, np.ndarray]:
        """Local -> image 3x3 transform of every rigid part, and image vertices of the garment."""
        b, m = self.body, self.motion
        t = frame / self.fps
        G = self._global(frame)
        tr = self._trunk(t)
        tilt = m.tilt(t)
        out = {"torso": tr}
        neck_base = _apply(tr, np.array([[0.0, -b.torso_len]]))[0]
        head_tilt = m.head(t)
        a_neck = tilt + 0.5 * head_tilt
        out["neck"] = _aff(_rot(a_neck), neck_base)
        neck_top = neck_base + _rot(a_neck) @ np.array([0.0, -b.neck_len])
        out["head"] = out["hair_back"] = _aff(_rot(tilt + head_tilt), neck_top)
        for s in (-1, 1):
            mirror = np.diag([float(s), 1.0])
            side = "f" if s == self.front else "b"
            sh = _apply(tr, np.array([[s * b.shoulder_x, b.shoulder_y]]))[0]
            a = tilt + s * m.abd[s](t)
            out[f"upper_arm_{side}"] = _aff(_rot(a) @ mirror, sh)
            el = sh + _rot(a) @ np.array([0.0, b.ua[0]])
            a = a + s * m.elbow[s](t)
            out[f"forearm_{side}"] = _aff(_rot(a) @ mirror, el)
            wr = el + _rot(a) @ np.array([0.0, b.fa[0]])
            a = a + s * m.wrist[s](t)
            out[f"hand_{side}"] = _aff(_rot(a) @ mirror, wr)
            side = "l" if s < 0 else "r"
            hp = _apply(tr, np.array([[s * b.hip_x, b.hip_y]]))[0]
            a = tilt + s * m.hip[s](t)
            out[f"thigh_{side}"] = _aff(_rot(a) @ mirror, hp)
            kn = hp + _rot(a) @ np.array([0.0, b.thigh[0]])
            a = a + s * m.knee[s](t)
            out[f"shin_{side}"] = _aff(_rot(a) @ mirror, kn)
            an = kn + _rot(a) @ np.array([0.0, b.shin[0]])
            out[f"foot_{side}"] = _aff(_rot(0.5 * a + s * 0.06) @ mirror, an)
        out = {k: G @ v for k, v in out.items()}
        out["garment"] = _apply(G, self._garment_body(t))
        return out

    def landmarks(self, frame: int) -> np.ndarray:
        """The figure's joints in MediaPipe's 33-landmark layout, ``(33, 3)`` float32: continuous
        pixel ``x, y`` (pixel ``i`` spans ``[i, i + 1)``, as MediaPipe) and a visibility of 1 inside
        the frame, 0 outside. The figure faces the camera: its left side is on the picture's right."""
        from internet_cli.pose import skeleton as sk

        b, pose = self.body, self._pose(frame)
        pts = np.zeros((sk.NUM_LANDMARKS, 2))
        hc, rx, ry = b.head_c, b.head_rx, b.head_ry
        face = {sk.NOSE: (0.0, -hc + 0.2 * ry), sk.MOUTH_L: (0.25 * rx, -hc + 0.5 * ry),
                sk.MOUTH_R: (-0.25 * rx, -hc + 0.5 * ry), sk.L_EAR: (rx, -hc), sk.R_EAR: (-rx, -hc)}
        for s, (inner, eye, outer) in ((1, (sk.L_EYE_INNER, sk.L_EYE, sk.L_EYE_OUTER)),
                                       (-1, (sk.R_EYE_INNER, sk.R_EYE, sk.R_EYE_OUTER))):
            for idx, dx in ((inner, 0.22), (eye, 0.38), (outer, 0.56)):
                face[idx] = (s * dx * rx, -hc - 0.02 * ry)
        for idx, xy in face.items():
            pts[idx] = _apply(pose["head"], np.array([xy]))[0]
        for s, L in ((1, True), (-1, False)):  # s = +1: the picture's right, the figure's left
            side = "f" if s == self.front else "b"
            leg = "r" if s > 0 else "l"
            ids = (sk.L_SHOULDER, sk.L_ELBOW, sk.L_WRIST, sk.L_PINKY, sk.L_INDEX, sk.L_THUMB, sk.L_HIP,
                   sk.L_KNEE, sk.L_ANKLE, sk.L_HEEL, sk.L_FOOT) if L else \
                  (sk.R_SHOULDER, sk.R_ELBOW, sk.R_WRIST, sk.R_PINKY, sk.R_INDEX, sk.R_THUMB, sk.R_HIP,
                   sk.R_KNEE, sk.R_ANKLE, sk.R_HEEL, sk.R_FOOT)
            ua, fa, hand = pose[f"upper_arm_{side}"], pose[f"forearm_{side}"], pose[f"hand_{side}"]
            hl = b.hand[0]
            local = [(ua, (0.0, 0.0)), (fa, (0.0, 0.0)), (hand, (0.0, 0.0)), (hand, (-0.3 * b.hand[1], 0.8 * hl)),
                     (hand, (0.3 * b.hand[1], 0.9 * hl)), (hand, (0.6 * b.hand[1], 0.4 * hl)),
                     (pose[f"thigh_{leg}"], (0.0, 0.0)), (pose[f"shin_{leg}"], (0.0, 0.0)),
                     (pose[f"foot_{leg}"], (0.0, 0.0)), (pose[f"foot_{leg}"], (0.0, -0.01)),
                     (pose[f"foot_{leg}"], (0.0, b.foot_len))]
            for idx, (m, xy) in zip(ids, local):
                pts[idx] = _apply(m, np.array([xy]))[0]
        pts += 0.5  # pixel-index coordinates (pixel centres at integers) -> continuous
        inside = (pts >= 0).all(1) & (pts < self.size).all(1)
        return np.concatenate([pts, inside[:, None]], axis=1).astype(np.float32)

    def _garment_body(self, t: float) -> np.ndarray:
        """Garment vertices in body coordinates: the hem lags the hips (and flares, ripples)."""
        mesh = next(p.mesh for p in self.parts if p.mesh is not None)
        b, m = self.body, self.motion
        params = self._garment_params
        # legs spreading: flare the hem so that it keeps covering the thighs
        knee_x = [s * (b.hip_x + b.thigh[0] * math.sin(m.hip[s](t))) for s in (-1, 1)]
        need = 0.5 * (knee_x[1] - knee_x[0]) + b.thigh[2] * 1.2
        reach = float(np.clip((mesh.hem_y - b.hip_y) / b.thigh[0], 0.0, 1.0))
        flare = max(0.0, need - mesh.hem_hw) * reach
        rest = mesh.rest.copy()
        rest[:, 0] += mesh.u * flare * np.clip(mesh.rest[:, 1] / max(mesh.hem_y, 1e-3), 0.0, 1.0)
        w = mesh.lag_w
        phase = 2 * math.pi * params["ripple_f"] * t + 2.5 * mesh.u + params["ripple_ph"]
        rest[:, 0] += params["ripple"] * w * np.sin(phase)  # a travelling wave along the hem
        rest[:, 1] += 0.35 * params["ripple"] * w * np.cos(phase)
        now = _apply(self._trunk(t), rest)
        lag = _apply(self._trunk(t - params["lag"]), rest)
        return now + (w * params["gain"])[:, None] * (lag - now)

    @functools.cached_property
    def _garment_params(self) -> dict[str, float]:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 7]))
        return {"lag": float(rng.uniform(0.12, 0.3)), "gain": float(rng.uniform(1.0, 2.2)),
                "ripple": float(rng.uniform(0.0, 0.006)), "ripple_f": float(rng.uniform(0.4, 1.2)),
                "ripple_ph": float(rng.uniform(0, 6.3))}

    # -- rendering --------------------------------------------------------------------

    def render(self, frame: int) -> _FrameRender:
        S = self.size
        pose = self._pose(frame)
        img = self.bg.copy()
        parts_map = np.zeros((S, S), np.uint8)
        pieces = np.zeros((S, S), np.int32)
        affines = np.tile(np.eye(3), (self.n_pieces, 1, 1))
        for part in self.parts:
            if part.mesh is None:
                A = pose[part.name]
                affines[part.piece0] = A
                outline = _apply(A, part.outline)
            else:
                verts = pose[part.name]
                tri_aff = _triangle_affines(part.mesh.rest, verts, part.mesh.tris)
                affines[part.piece0:part.piece0 + len(tri_aff)] = tri_aff
                outline = verts[part.mesh.boundary]
            x0, y0 = max(int(math.floor(outline[:, 0].min())) - 1, 0), max(int(math.floor(outline[:, 1].min())) - 1, 0)
            x1, y1 = min(int(math.ceil(outline[:, 0].max())) + 2, S), min(int(math.ceil(outline[:, 1].max())) + 2, S)
            if x1 <= x0 or y1 <= y0:
                continue
            cov = _coverage(outline - [x0, y0], x1 - x0, y1 - y0)
            if not cov.any():
                continue
            X, Y = self._X[y0:y1, x0:x1], self._Y[y0:y1, x0:x1]
            T = part.tex.from_local()
            own = cov >= _OWN
            if part.mesh is None:
                B = (T @ np.linalg.inv(A))[:2].astype(np.float32)
                mx = B[0, 0] * X + B[0, 1] * Y + B[0, 2]
                my = B[1, 0] * X + B[1, 1] * Y + B[1, 2]
                piece = part.piece0
            else:
                sel = cov > 0
                px, py = X[sel], Y[sel]
                tri = _which_triangle(px, py, verts, part.mesh.tris)
                Bs = (T[None] @ np.linalg.inv(tri_aff))[:, :2].astype(np.float32)[tri]
                mx = np.zeros(X.shape, np.float32)
                my = np.zeros(X.shape, np.float32)
                mx[sel] = Bs[:, 0, 0] * px + Bs[:, 0, 1] * py + Bs[:, 0, 2]
                my[sel] = Bs[:, 1, 0] * px + Bs[:, 1, 1] * py + Bs[:, 1, 2]
                piece = np.zeros(X.shape, np.int32)
                piece[sel] = part.piece0 + tri
                piece = piece[own]
            color = cv2.remap(part.tex.image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            region = img[y0:y1, x0:x1]
            alpha = cov.astype(np.float32)[..., None] * (1.0 / 255.0)
            region += alpha * (color - region)
            parts_map[y0:y1, x0:x1][own] = part.pid
            pieces[y0:y1, x0:x1][own] = piece
        image = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return _FrameRender(image, parts_map, pieces, affines)

    def flow(self, prev: _FrameRender, cur: _FrameRender) -> tuple[np.ndarray, np.ndarray]:
        """Exact flow (2, H, W) on the grid of ``prev`` into ``cur``, and visibility (H, W) uint8."""
        M = cur.affines @ np.linalg.inv(prev.affines)
        M[0] = np.eye(3)
        M = M[:, :2, :].astype(np.float32)[prev.pieces]  # (H, W, 2, 3)
        X, Y = self._X, self._Y
        fx = M[..., 0, 0] * X + M[..., 0, 1] * Y + M[..., 0, 2] - X
        fy = M[..., 1, 0] * X + M[..., 1, 1] * Y + M[..., 1, 2] - Y
        bg = prev.pieces == 0
        fx[bg] = 0.0
        fy[bg] = 0.0
        qx = np.rint(X + fx).astype(np.int32)
        qy = np.rint(Y + fy).astype(np.int32)
        S = self.size
        inside = (qx >= 0) & (qx < S) & (qy >= 0) & (qy < S)
        target = cur.parts[np.clip(qy, 0, S - 1), np.clip(qx, 0, S - 1)]
        visible = inside & (target == prev.parts)
        return np.stack([fx, fy]), visible.astype(np.uint8)


_OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
# Scenes without people (the evaluation sources, messi5.jpg and the basketball frames among them,
# are never drawn on). scikit-image's are always there with the [test] extra; opencv-doc's when
# Debian's package is installed.
_BACKGROUND_SKIMAGE = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel")
_BACKGROUND_OPENCV = ("building.jpg", "home.jpg", "aero1.jpg", "leuvenA.jpg", "fruits.jpg", "baboon.jpg",
                      "stuff.jpg", "aloeL.jpg", "board.jpg", "box_in_scene.png", "rubberwhale1.png", "orange.jpg",
                      "graf1.png", "left01.jpg", "starry_night.jpg", "pic1.png", "apple.jpg", "butterfly.jpg")


@functools.lru_cache(maxsize=None)
def _opencv_photo(name: str) -> np.ndarray | None:
    img = cv2.imread(str(_OPENCV_DATA / name), cv2.IMREAD_COLOR)
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def photo_folders() -> list[Path]:
    """The folders synth reads photos from, its only inputs: scikit-image's data and opencv-doc's
    samples (garment prints, and backgrounds with ``photo_backgrounds``); those present here."""
    folders = []
    try:
        import skimage.data as skdata

        folders.append(Path(skdata.data_dir))
    except Exception:  # noqa: BLE001 - no scikit-image: no photo textures
        pass
    folders.append(_OPENCV_DATA)
    return [f for f in folders if f.is_dir()]


def background_photos() -> list[str]:
    """Names of the real photos that ``photo_backgrounds`` draws from on this machine."""
    names = [n for n in _BACKGROUND_SKIMAGE if _photo(n) is not None]
    return names + [n for n in _BACKGROUND_OPENCV if (_OPENCV_DATA / n).is_file()]


def _background_photo(rng: np.random.Generator, size: int) -> np.ndarray | None:
    """A random square crop of a real photo (random zoom, flip, brightness), ``(size, size, 3)``."""
    names = background_photos()
    if not names:
        return None
    name = names[int(rng.integers(len(names)))]
    img = _any_photo(name)
    h, w = img.shape[:2]
    side = int(min(h, w) * rng.uniform(0.5, 1.0))
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = img[y0:y0 + side, x0:x0 + side]
    if rng.uniform() < 0.5:
        crop = crop[:, ::-1]
    out = cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=cv2.INTER_AREA)
    return np.clip(out * rng.uniform(0.7, 1.15), 0.0, 1.0).astype(np.float32)


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


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


@dataclass
class SynthVideo:
    """One rendered video and its exact ground truth (conventions: docs/design.md)."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    flow: np.ndarray  # (T, 2, H, W) float32, pixels, (dx, dy) on frame t-1 into frame t; flow[0] = 0
    mask: np.ndarray  # (T, H, W) uint8 in {0, 1}: figure foreground of frame t
    visible: np.ndarray  # (T, H, W) uint8 in {0, 1}: pixel of frame t-1 still visible in frame t
    landmarks: np.ndarray  # (T, 33, 3) float32: the joints (x, y, visibility), :meth:`_Scene.landmarks`
    fps: int = 30
    seed: int = 0


MOTIONS = ("periodic", "mocap")  # smooth periodic joint angles | DeepMimic's motion capture (clips/mocap.py)


def _check(frames: int, size: int, fps: int, motion: str = "periodic") -> None:
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {', '.join(MOTIONS)}, got {motion!r}")
    if motion == "mocap":
        from internet_cli.clips.mocap import motions_dir

        motions_dir()  # InputError, one line, without pybullet
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if size < 32:
        raise ValueError(f"size must be >= 32, got {size}")
    if fps < 1:
        raise ValueError(f"fps must be >= 1, got {fps}")


def _iter_video(scene: _Scene, landmarks: list | None = None
                ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(frame, flow, mask, visible)`` for t = 0..T-1 (flow float32 (2,H,W), others uint8);
    each frame's joints (:meth:`_Scene.landmarks`) are appended to ``landmarks`` when given."""
    frames, size = scene.T, scene.size
    prev = None
    for t in range(frames):
        cur = scene.render(t)
        if prev is None:
            flow = np.zeros((2, size, size), np.float32)
            visible = np.ones((size, size), np.uint8)
        else:
            flow, visible = scene.flow(prev, cur)
        if landmarks is not None:
            landmarks.append(scene.landmarks(t))
        yield cur.image, flow, (cur.parts > 0).astype(np.uint8), visible
        prev = cur


def render_video(seed: int, frames: int, size: int, fps: int = 30, photo_backgrounds: float = 0.0,
                 motion: str = "periodic") -> SynthVideo:
    """Render one synthetic video (deterministic for ``seed``) with its exact ground truth.
    ``photo_backgrounds``: the probability that the background is a real photo; ``motion``: one of
    ``MOTIONS``."""
    _check(frames, size, fps, motion)
    T = int(frames)
    landmarks: list[np.ndarray] = []
    out = SynthVideo(np.empty((T, size, size, 3), np.uint8), np.empty((T, 2, size, size), np.float32),
                     np.empty((T, size, size), np.uint8), np.empty((T, size, size), np.uint8),
                     np.empty((T, 33, 3), np.float32), int(fps), int(seed))
    scene = _Scene(seed, T, size, fps, photo_backgrounds, motion)
    for t, (img, flow, mask, vis) in enumerate(_iter_video(scene, landmarks)):
        out.frames[t], out.flow[t], out.mask[t], out.visible[t] = img, flow, mask, vis
    out.landmarks[:] = np.stack(landmarks)
    return out


def arm_angles(seed: int, frames: int, fps: int = 30, motion: str = "periodic") -> np.ndarray:
    """``(frames, 4)`` degrees: shoulder and elbow of one side, then of the other, in each frame of
    ``render_video(seed, frames, fps=fps, motion=motion)`` (the motion alone, nothing is rendered)."""
    m = _Scene(seed, frames, 64, fps, motion=motion).motion  # the motion does not depend on the frame size
    joints = (m.abd[-1], m.elbow[-1], m.abd[1], m.elbow[1])
    return np.degrees([[joint(t / fps) for joint in joints] for t in range(frames)])


def video_seed(seed: int, index: int) -> int:
    """The per-video seed used by :func:`write_dataset` for video number ``index``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint32)[0])


def split_counts(videos: int, test_fraction: float) -> tuple[int, int]:
    """(train, test) counts: at least one test video when videos >= 2, at least one train video."""
    if videos < 1:
        raise ValueError(f"videos must be >= 1, got {videos}")
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
    if videos == 1:
        return 1, 0
    n_test = min(videos - 1, max(1, int(round(videos * test_fraction))))
    return videos - n_test, n_test


def _video_writer(path: Path, fps: int, size: int):
    from internet_cli.video.writer import VideoWriter

    # the dataset folder was checked (and cleared with --overwrite) by the caller
    return VideoWriter(path, fps=fps, size=size, crf=15, overwrite=True)


def clear_previous(out: Path) -> None:
    """Remove what an earlier `internet synth` wrote into ``out`` (used by --overwrite)."""
    for split in ("train", "test"):
        d = out / split
        if d.is_dir():
            for f in d.glob("synth_*"):
                if f.is_dir():
                    shutil.rmtree(f)
                else:
                    f.unlink()
    (out / "synth.json").unlink(missing_ok=True)


def write_dataset(out: Path, videos: int, frames: int, size: int, seed: int, fps: int = 30,
                  test_fraction: float = 0.2, photo_backgrounds: float = 0.0, motion: str = "periodic",
                  progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write ``videos`` synthetic videos (+ ``NAME.gt.npz``, ``NAME.pose.npz``) into ``out/train``
    and ``out/test``; ``photo_backgrounds`` is the probability of a real-photo background,
    ``motion`` how the dancers move (``MOTIONS``).

    Video ``i`` is ``synth_{i:04d}.mp4`` rendered with seed ``video_seed(seed, i)``; the last
    ``n_test`` videos go to ``test/``. ``progress(done_frames, total_frames)`` is called after
    every frame. Returns the paths of the video files, in index order.
    """
    from internet_cli import __version__

    _check(frames, size, fps, motion)
    n_train, n_test = split_counts(videos, test_fraction)
    out = Path(out)
    for split in ("train", "test"):
        (out / split).mkdir(parents=True, exist_ok=True)
    total, done = videos * frames, 0
    paths: list[Path] = []
    names = {"train": [], "test": []}
    mocap: list[dict] = []
    for i in range(videos):
        split = "train" if i < n_train else "test"
        name = f"synth_{i:04d}"
        path = out / split / f"{name}.mp4"
        flow = np.empty((frames, 2, size, size), np.float16)
        mask = np.empty((frames, size, size), np.uint8)
        visible = np.empty((frames, size, size), np.uint8)
        landmarks: list[np.ndarray] = []
        with _video_writer(path, fps, size) as writer:
            scene = _Scene(video_seed(seed, i), frames, size, fps, photo_backgrounds, motion)
            if scene.mocap is not None:
                mocap.append({"video": path.name, **scene.mocap.describe()})
            for t, (img, f, m, v) in enumerate(_iter_video(scene, landmarks)):
                writer.write(img)
                flow[t], mask[t], visible[t] = f, m, v
                done += 1
                if progress is not None:
                    progress(done, total)
        with atomic_path(out / split / f"{name}{GT_SUFFIX}", suffix=".npz") as tmp:
            np.savez_compressed(tmp, flow=flow, mask=mask, visible=visible)
        save_pose(out / split / f"{name}{POSE_SUFFIX}",
                  PoseTrack(np.stack(landmarks), np.ones(frames, bool), (size, size), "synth", fps))
        del flow, mask, visible
        paths.append(path)
        names[split].append(path.name)
    meta = {
        "generator": "internet synth",
        "version": __version__,
        "format_version": SYNTH_FORMAT_VERSION,
        "args": {"videos": videos, "frames": frames, "size": size, "seed": seed, "fps": fps,
                 "test_fraction": test_fraction, "photo_backgrounds": photo_backgrounds, "motion": motion},
        "video_seeds": [video_seed(seed, i) for i in range(videos)],
        "train": names["train"],
        "test": names["test"],
        "photo_textures": texture_photos(),
        "background_photos": background_photos() if photo_backgrounds > 0 else [],
        "mocap": mocap,  # per video: the DeepMimic clips chained, speed and camera (clips/mocap.py)
        "gt": {"suffix": GT_SUFFIX, "flow": "(T,2,H,W) float16 pixels (dx,dy) from frame t-1 into frame t",
               "mask": "(T,H,W) uint8 figure foreground of frame t",
               "visible": "(T,H,W) uint8 pixel of frame t-1 visible in frame t",
               "pose": f"NAME{POSE_SUFFIX}: (T,33,3) joints in MediaPipe's layout (docs/pose.md)"},
    }
    write_text(out / "synth.json", json.dumps(meta, indent=2) + "\n")
    return paths
