"""The figure's parts: each one's outline in its own frame and how it is painted (skin, hair, prints).

``draw_look`` draws the outfit and colours; the ``*_part(s)`` functions each give
``(name, outline, paint)`` for one part family. ``_Scene._build_parts`` calls them in the draw
order, which is also the order of the random draws: keep both as they are, or a seed no longer
gives the same video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from internet_cli.clips.synth.figure import _Body, _garment_mesh
from internet_cli.clips.synth.geometry import _blend, _capsule, _chaikin, _circle, _ellipse_mask, _hsv, _hull
from internet_cli.clips.synth.prints import Pattern, _make_pattern, _rand_color

Paint = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Look:
    """One video's colours and prints."""

    skin: np.ndarray
    hair: np.ndarray
    lips: np.ndarray
    iris: np.ndarray
    shoes: np.ndarray
    garment: str  # skirt | dress | coat
    top: Pattern
    bottom: Pattern
    gpat: Pattern  # the garment's print
    legs_skin: bool
    sleeves: tuple[bool, bool]  # upper arm, forearm covered
    sleeve_pat: Pattern
    light: float  # side light, -0.3..0.3
    K: float  # texels per body unit

    def shaded(self, pattern: Pattern, across: Paint, depth: float = 0.35) -> Paint:
        """``pattern`` with cylinder-like shading across the part (``across`` in -1..1) and the side light."""
        def paint(X, Y):
            c = np.asarray(pattern(X, Y, self.K), dtype=np.float32)
            a = np.clip(across(X, Y), -1.0, 1.0)
            return c * (1.0 - depth * a ** 2 + self.light * 0.15 * a)[..., None]

        return paint


def draw_look(rng: np.random.Generator, K: float) -> Look:
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
    return Look(skin, hair, lips, iris, shoes, garment, top, bottom, gpat, legs_skin, sleeves, sleeve_pat,
                light, K)


def _solid(color: np.ndarray) -> Pattern:
    return lambda X, Y, K_: np.broadcast_to(color[None, None, :], X.shape + (3,)).astype(np.float32)


def _limb_across(length: float, r0: float, r1: float) -> Paint:
    return lambda X, Y: X / (r0 + (r1 - r0) * np.clip(Y / length, 0.0, 1.0))


def arm_parts(b: _Body, look: Look, side: str) -> list[tuple]:
    L, r0, r1 = b.ua
    upper = (f"upper_arm_{side}", _capsule(L, r0, r1),
             look.shaded(look.sleeve_pat if look.sleeves[0] else _solid(look.skin), _limb_across(L, r0, r1)))
    L, r0, r1 = b.fa
    covered = look.sleeves[0] and look.sleeves[1]
    fore = (f"forearm_{side}", _capsule(L, r0, r1),
            look.shaded(look.sleeve_pat if covered else _solid(look.skin), _limb_across(L, r0, r1)))
    L, r0, r1 = b.hand
    hand = (f"hand_{side}", _capsule(L, r0, r1), look.shaded(_solid(look.skin * 0.95), _limb_across(L, r0, r1), 0.3))
    return [upper, fore, hand]


def leg_parts(b: _Body, look: Look, side: str) -> list[tuple]:
    leg_pat = _solid(look.skin * 0.97) if look.legs_skin else look.bottom
    L, r0, r1 = b.thigh
    thigh = (f"thigh_{side}", _capsule(L, r0, r1), look.shaded(leg_pat, _limb_across(L, r0, r1)))
    L, r0, r1 = b.shin
    shin = (f"shin_{side}", _capsule(L, r0, r1), look.shaded(leg_pat, _limb_across(L, r0, r1)))
    fw, fl = b.foot_w, b.foot_len
    outline = _chaikin(np.array([[-fw * 0.8, -0.012], [fw * 0.8, -0.012], [fw * 1.05, fl * 0.6],
                                 [fw * 0.7, fl], [-fw * 0.7, fl], [-fw * 1.05, fl * 0.6]]), 2)
    foot = (f"foot_{side}", outline, look.shaded(_solid(look.shoes), lambda X, Y: X / (fw * 1.1), 0.45))
    return [thigh, shin, foot]


@dataclass
class Hair:
    outline: np.ndarray
    strands: float  # the strands' period (body units)
    phase: float


def draw_hair(b: _Body, look: Look, rng: np.random.Generator) -> Hair:
    """The hair hanging behind everything (its strands are also drawn on the head's hair cap)."""
    hc, rx, ry = b.head_c, b.head_rx, b.head_ry
    hair_pts = [_circle(0.0, -hc - 0.08 * ry, rx * 1.2, ry * 1.12)]
    if b.hair_len > 0:
        hair_pts.append(_circle(0.0, -hc + ry * 0.4 + b.hair_len, rx * 1.05, rx * 0.6))
    strands = float(rng.uniform(0.004, 0.009))
    phase = float(rng.uniform(0, 6.3))
    return Hair(_hull(np.concatenate(hair_pts)), max(strands, 5.0 / look.K), phase)


def hair_part(b: _Body, look: Look, hair: Hair) -> tuple:
    hc, ry = b.head_c, b.head_ry

    def paint(X, Y):
        s_ = 0.9 + 0.1 * np.sin(2 * math.pi * X / hair.strands + hair.phase + 3.0 * np.sin(Y * 40.0))
        dark = 1.0 - 0.35 * np.clip((Y + hc) / (ry + b.hair_len + 1e-6), 0.0, 1.0)
        return look.hair[None, None, :] * (s_ * dark)[..., None]

    return "hair_back", hair.outline, paint


def neck_part(b: _Body, look: Look) -> tuple:
    nl, nr = b.neck_len, b.neck_r
    outline = _hull(np.concatenate([_circle(0.0, 0.01, nr), _circle(0.0, -nl - 0.02, nr)]))

    def paint(X, Y):
        shade = 1.0 - 0.25 * np.clip((-Y - nl * 0.4) / (nl * 0.6 + 0.02), 0.0, 1.0)  # under the chin
        return look.skin[None, None, :] * (shade * (1.0 - 0.3 * np.clip(X / nr, -1, 1) ** 2))[..., None]

    return "neck", outline, paint


def torso_part(b: _Body, look: Look, rng: np.random.Generator) -> tuple:
    """The torso in the trunk frame (origin at the pelvis, y down), with a neckline of skin."""
    Lt, sx, sy, nr = b.torso_len, b.shoulder_x, b.shoulder_y, b.neck_r
    right = np.array([
        [nr * 1.3, -Lt], [sx * 0.7, -Lt + 0.012], [sx + b.ua[1] * 0.6, sy - b.ua[1] * 0.4],
        [sx + b.ua[1] * 0.7, sy + 0.02], [sx * 0.95, sy + 0.07], [b.waist_hw * 1.08, -0.17],
        [b.waist_hw, -0.1], [b.hip_x + b.thigh[1] * 0.9, -0.01], [b.hip_x + b.thigh[1] * 0.8, 0.05],
        [0.02, 0.07],
    ])
    outline = _chaikin(np.concatenate([right, right[::-1] * [-1.0, 1.0]]), 3)
    neckline = float(rng.choice([0.03, 0.05, 0.08]))
    hw_torso, texel = sx + b.ua[1], 1.0 / look.K

    def paint(X, Y):
        c = np.asarray(look.top(X, Y, look.K), dtype=np.float32)
        a = np.clip(X / hw_torso, -1.0, 1.0)
        c = c * (1.0 - 0.28 * a ** 2 + look.light * 0.1 * a)[..., None]
        neck_m = _ellipse_mask(X, Y, 0.0, -Lt, nr * 1.9, neckline, texel)
        return c * (1.0 - neck_m[..., None]) + look.skin[None, None, :] * 0.95 * neck_m[..., None]

    return "torso", outline, paint


def garment_part(b: _Body, look: Look, rng: np.random.Generator):
    """``(mesh, paint)`` of the deformable skirt, dress or coat, with folds."""
    mesh = _garment_mesh("coat" if look.garment == "coat" else "skirt", b, rng)
    folds = int(rng.integers(3, 7))
    top_y, hem_y = mesh.rest[:, 1].min(), mesh.hem_y

    def paint(X, Y):
        c = np.asarray(look.gpat(X, Y, look.K), dtype=np.float32)
        prof_y = mesh.rest[:: len(np.unique(mesh.u)), 1]
        prof_hw = np.abs(mesh.rest[:: len(np.unique(mesh.u)), 0])
        hw = np.interp(Y, prof_y, prof_hw)
        a = np.clip(X / np.maximum(hw, 1e-3), -1.0, 1.0)
        vv = np.clip((Y - top_y) / (hem_y - top_y), 0.0, 1.0)
        fold = 1.0 - 0.16 * vv * np.sin(math.pi * folds * (a + 1.0) / 2.0) ** 2
        return c * (fold * (1.0 - 0.22 * a ** 2 + look.light * 0.1 * a))[..., None]

    return mesh, paint


def _face(X, Y, b: _Body, look: Look, texel: float) -> tuple[np.ndarray, np.ndarray]:
    """The painted face (skin, nose, eyes, brows, lips) and its mask, origin at the neck top."""
    rx, ry, cy = b.head_rx, b.head_ry, -b.head_c
    xn, yn = X / rx, (Y - cy) / ry
    face = _ellipse_mask(X, Y, 0.0, cy, rx, ry, texel)
    shade = 1.0 - 0.22 * np.clip(xn ** 2 + 0.5 * yn ** 2, 0, 1) + look.light * 0.08 * xn
    c = look.skin[None, None, :] * shade[..., None]
    nose = _ellipse_mask(X, Y, 0.0, cy + 0.2 * ry, 0.07 * rx, 0.13 * ry, texel)
    c = c * (1.0 - 0.12 * nose[..., None])
    brow = look.hair * 0.6
    for s in (-1, 1):
        ex, ey = s * 0.38 * rx, cy - 0.02 * ry
        white = _ellipse_mask(X, Y, ex, ey, 0.22 * rx, 0.1 * ry, texel)
        c = _blend(c, np.array([0.95, 0.95, 0.93]), white)
        c = _blend(c, look.iris, _ellipse_mask(X, Y, ex, ey, 0.1 * ry, 0.1 * ry, texel) * white)
        c = _blend(c, brow, _ellipse_mask(X, Y, ex, ey - 0.24 * ry, 0.24 * rx, 0.045 * ry, texel))
    c = _blend(c, look.lips, _ellipse_mask(X, Y, 0.0, cy + 0.5 * ry, 0.28 * rx, 0.075 * ry, texel))
    return c, face


def head_part(b: _Body, look: Look, hair: Hair, rng: np.random.Generator) -> tuple:
    """Face ellipse and hair volume; origin at the neck top, y down."""
    rx, ry, cy = b.head_rx, b.head_ry, -b.head_c
    outline = _hull(np.concatenate([_circle(0.0, cy, rx, ry), _circle(0.0, cy - 0.1 * ry, rx * 1.1, ry * 1.05)]))
    part_depth = rng.uniform(0.25, 0.55)
    fringe = rng.uniform(-0.1, 0.25)
    texel = 1.0 / look.K

    def paint(X, Y):
        c, face = _face(X, Y, b, look, texel)
        xn = X / rx
        hairline = cy - ry * (part_depth - 0.6 * xn ** 2) + fringe * ry * (1 - xn ** 2)
        cap = np.clip((hairline - Y) * look.K + 0.5, 0.0, 1.0)
        hair_m = np.maximum(1.0 - face, cap)
        strand = 0.9 + 0.1 * np.sin(2 * math.pi * X / hair.strands + hair.phase)
        return _blend(c, look.hair * 1.0, hair_m, strand)

    return "head", outline, paint
