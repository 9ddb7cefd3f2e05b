"""What each dancer is and does: body proportions, periodic or captured motion, the garment mesh."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np


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
    thick = u(0.85, 1.2)
    arm_l, leg_l = u(0.93, 1.07), u(0.93, 1.08)
    head = u(0.88, 1.12)
    b = _Body(
        torso_len=0.30 * u(0.93, 1.07),
        shoulder_x=0.105 * u(0.88, 1.15),
        shoulder_y=0.0,
        hip_x=0.055 * u(0.9, 1.2),
        hip_y=0.025,
        waist_hw=0.075 * u(0.85, 1.15) * thick,
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

