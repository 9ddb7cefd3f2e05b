"""The training-free baseline: every person pixel moves with its nearest body part.

The floor a learned pose-mode model must beat (docs/evaluation.md). It takes the same anchors and
affines as the model (:mod:`internet_cli.pose.parts`) and has the same animator interface, so
the streaming pipeline runs it unchanged:

1. **Person mask**: MediaPipe's selfie segmentation of the source (>= 0.5), joined with capsules
   along the limb bones (the segmentation often misses legs and arms of a whole body).
2. **Parts**: each mask pixel belongs to the nearest part: the distance to a limb's bone, to the
   torso's quadrilateral (0 inside), to the head's circle.
3. **Background**: the source with the person inpainted (OpenCV Telea), so that the background
   stays put and a moved limb leaves no copy of itself behind.
4. **Each frame**: for every output pixel ``z`` and part ``k`` the source point ``T_k(z)`` is
   looked up; it is taken when that source pixel belongs to part ``k``. Overlaps are resolved
   front to back: forearms, upper arms, head, shins, thighs, torso.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from internet_cli.motion.part_shapes import DRAW_ORDER, HEAD_RADIUS, LIMB_RADIUS  # the model's part shapes
from internet_cli.pose import skeleton as sk
from internet_cli.pose.parts import LIMB_UNIT, TORSO_TEMPLATE, inverse

NO_PART = 255


@dataclass
class NearestPartState:
    source: np.ndarray  # (S, S, 3) uint8
    background: np.ndarray  # (S, S, 3) uint8, the person inpainted
    labels: np.ndarray  # (S, S) uint8: part index, NO_PART = background
    kp: np.ndarray  # (n, 2) normalised
    jac: np.ndarray  # (n, 2, 2)


def _pixels(p: np.ndarray, size: int) -> np.ndarray:
    return (p + 1.0) * (size - 1) / 2.0


def _segment_distance(px: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((px - a) @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
    return np.linalg.norm(px - (a + t[..., None] * ab), axis=-1)


def part_distances(kp: np.ndarray, jac: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """``(n, S, S)`` pixel distance of every pixel to every part, and the torso width (pixels)."""
    import cv2

    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    px = np.stack([xs, ys], axis=-1)
    scale = (size - 1) / 2.0
    out = np.empty((len(sk.PARTS), size, size))
    torso_width = 1.0
    for k, part in enumerate(sk.PARTS):
        c = _pixels(kp[k], size)
        if part.bone is not None:
            half = jac[k][:, 0] * LIMB_UNIT / 2.0 * scale
            out[k] = _segment_distance(px, c - half, c + half)
        elif part.name == "torso":
            quad = (TORSO_TEMPLATE - TORSO_TEMPLATE.mean(0)) @ jac[k].T * scale + c
            quad = quad[[0, 2, 3, 1]].astype(np.float32)  # ls, lh, rh, rs: a simple polygon
            torso_width = float(np.linalg.norm(quad[0] - quad[3]))
            inside = np.zeros((size, size), np.uint8)
            cv2.fillPoly(inside, [np.round(quad).astype(np.int32)], 1)
            d = cv2.distanceTransform((1 - inside).astype(np.uint8), cv2.DIST_L2, 5)
            out[k] = d
        else:
            ears = 0.15 * float(np.hypot(*jac[k][:, 0])) * scale  # the face template's ear distance
            out[k] = np.maximum(np.linalg.norm(px - c, axis=-1) - HEAD_RADIUS * ears, 0.0)
    return out, torso_width


class NearestPartAnimator:
    """The baseline as an animator (``encode_source`` with anchors, then ``animate_pose``)."""

    backend = "nearest-part"
    pose_mode = True

    def __init__(self, size: int = 512):
        from internet_cli.pose.estimator import PersonSegmenter

        self.size = size
        self._seg = PersonSegmenter()
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        self._grid = np.stack([xs, ys], axis=-1) * (2.0 / (size - 1)) - 1.0  # normalised (x, y) of every pixel
        self._order = [next(i for i, p in enumerate(sk.PARTS) if p.name == name) for name in DRAW_ORDER]

    def describe(self) -> str:
        return "nearest-part baseline (training-free)"

    def encode_source(self, source: np.ndarray, anchors: tuple[np.ndarray, np.ndarray]) -> NearestPartState:
        import cv2

        kp, jac = (np.asarray(a, np.float64)[0] for a in anchors)
        dist, torso_width = part_distances(kp, jac, self.size)
        limbs = [k for k, p in enumerate(sk.PARTS) if p.bone is not None]
        capsules = dist[limbs].min(0) <= LIMB_RADIUS * torso_width
        mask = (self._seg(source) >= 0.5) | capsules | (dist[[0, 1]].min(0) <= 0)
        labels = np.where(mask, dist.argmin(0), NO_PART).astype(np.uint8)
        grow = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8))
        background = cv2.inpaint(np.ascontiguousarray(source), grow, 5, cv2.INPAINT_TELEA)
        return NearestPartState(source, background, labels, kp, jac)

    def animate_pose(self, state: NearestPartState, kp: np.ndarray, jac: np.ndarray) -> np.ndarray:
        return np.stack([self._frame(state, k, j) for k, j in zip(kp, jac)])

    def _frame(self, state: NearestPartState, kp_d: np.ndarray, jac_d: np.ndarray) -> np.ndarray:
        import cv2

        s, z = self.size, self._grid
        out = state.background.copy()
        for k in self._order:
            m = (state.jac[k] @ inverse(jac_d[k].astype(np.float64))).astype(np.float32)
            src = (z - kp_d[k].astype(np.float32)) @ m.T + state.kp[k].astype(np.float32)
            mx, my = ((src + 1.0) * (s - 1) / 2.0).transpose(2, 0, 1)
            own = cv2.remap(state.labels, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=NO_PART)
            colour = cv2.remap(state.source, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            take = own == k
            out[take] = colour[take]
        return out
