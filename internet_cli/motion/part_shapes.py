"""Pose mode's body-part shapes, from each part's anchor and affine alone (``motion.part_prior``).

The paper feeds the dense motion network Gaussians at the anchors. A Gaussian at a forearm's
centre says little about where the forearm's pixels are, so a network trained on synthetic
dancers learns that from their appearance, and on a real photo it gives the arms to the torso or
the background. In pose mode each anchor is a body part with a known geometry
(:mod:`internet_cli.pose.parts`), so the part's region can be drawn in any frame:

- a limb: a capsule around its bone ``K -/+ J[:, 0] * LIMB_UNIT / 2``; forearms and shins reach
  :data:`DISTAL_REACH` of their bone past the wrist or ankle, for the hand or the foot;
- the torso: the trapezoid of the shoulders and hips (:data:`internet_cli.pose.parts.TORSO_TEMPLATE`
  mapped by ``J``);
- the head: a disc of :data:`HEAD_RADIUS` times the ear-to-ear distance.

:func:`part_distances` gives every pixel's distance to every part in units of the limb radius
(:data:`LIMB_RADIUS` of the torso width), so 1 is a capsule's edge. The dense motion network
(:mod:`internet_cli.motion.dense`) then sees ``exp(-d^2)`` in place of the Gaussians, and its
composition logits are ``part_prior * -d^2`` (the background's ``-part_prior``) plus its own,
bounded: geometry that holds on any photo, which the network refines rather than having to find.
The training-free nearest-part baseline (:mod:`internet_cli.runtime.nearest_part`) uses the same
radii. Plain tensor code; it exports.
"""

from __future__ import annotations

import torch

from internet_cli.motion.geometry import float32, inverse_2x2, make_coordinate_grid
from internet_cli.pose import skeleton as sk
from internet_cli.pose.parts import LIMB_UNIT, TORSO_TEMPLATE

LIMB_RADIUS = 0.35
"""A limb capsule's radius, as a share of the torso width (the shoulder distance)."""
HEAD_RADIUS = 0.75
"""The head disc's radius, as a share of the ear-to-ear distance."""
DISTAL_REACH = 0.3
"""How far forearms and shins reach past their bone's end, as a share of the bone (hand, foot)."""

DRAW_ORDER = ("torso", "left_thigh", "right_thigh", "left_shin", "right_shin", "head",
              "left_upper_arm", "right_upper_arm", "left_forearm", "right_forearm")
"""The parts back to front: where a moved forearm crosses the torso, the forearm is seen."""

_HEAD = next(i for i, p in enumerate(sk.PARTS) if p.name == "head")
_TORSO = next(i for i, p in enumerate(sk.PARTS) if p.name == "torso")
LIMBS = [i for i, p in enumerate(sk.PARTS) if p.bone is not None]
"""The limbs (upper arms, forearms, thighs, shins), by part index."""
_DISTAL = [1.0 + DISTAL_REACH if sk.PARTS[i].name.endswith(("forearm", "shin")) else 1.0 for i in LIMBS]
_T = TORSO_TEMPLATE - TORSO_TEMPLATE.mean(axis=0)
_TORSO_TOP, _TORSO_BOTTOM = float(_T[0, 1]), float(_T[2, 1])  # shoulders' y, hips' y (template)
_HALF_TOP, _HALF_BOTTOM = float(_T[0, 0]), float(_T[2, 0])  # half widths at the shoulders, hips
_EARS = 0.15  # the face template's ear-to-ear distance (pose/parts.py)


@float32
def part_distances(kp: torch.Tensor, jac: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Anchors ``(B, 10, 2)`` and affines ``(B, 10, 2, 2)`` -> distances ``(B, 10, H, W)`` in limb radii."""
    grid = make_coordinate_grid(height, width, dtype=kp.dtype, device=kp.device).view(1, 1, height, width, 2)
    z = grid - kp.view(*kp.shape[:2], 1, 1, 2)  # (B, n, H, W, 2), relative to each anchor
    torso_jac = jac[:, _TORSO]  # (B, 2, 2)
    shoulder = torso_jac[..., 0] * (2.0 * _HALF_TOP)  # the template's shoulder-to-shoulder vector
    radius = LIMB_RADIUS * shoulder.norm(dim=-1).clamp(min=1e-3).view(-1, 1, 1, 1)  # (B, 1, 1, 1)

    bones = jac[:, LIMBS, :, 0] * (LIMB_UNIT / 2.0)  # (B, L, 2): half of every bone
    reach = torch.tensor(_DISTAL, dtype=kp.dtype, device=kp.device).view(1, -1, 1)
    limbs = _segment_distance(z[:, LIMBS], -bones, bones * (2.0 * reach - 1.0))

    u = torch.einsum("bij,bhwj->bhwi", inverse_2x2(torso_jac), z[:, _TORSO])  # template coordinates
    t = ((u[..., 1] - _TORSO_TOP) / (_TORSO_BOTTOM - _TORSO_TOP)).clamp(0.0, 1.0)
    half = _HALF_TOP + t * (_HALF_BOTTOM - _HALF_TOP)
    dx = torch.relu(u[..., 0].abs() - half)
    dy = torch.relu(u[..., 1] - _TORSO_BOTTOM) + torch.relu(_TORSO_TOP - u[..., 1])
    det = (torso_jac[:, 0, 0] * torso_jac[:, 1, 1] - torso_jac[:, 0, 1] * torso_jac[:, 1, 0]).abs()
    torso = torch.sqrt(dx**2 + dy**2 + 1e-12) * det.sqrt().view(-1, 1, 1)  # template -> picture units

    head_radius = HEAD_RADIUS * _EARS * jac[:, _HEAD, :, 0].norm(dim=-1).view(-1, 1, 1)
    head = torch.relu(_norm(z[:, _HEAD]) - head_radius)

    out = [None] * kp.shape[1]
    out[_HEAD], out[_TORSO] = head, torso
    for j, k in enumerate(LIMBS):
        out[k] = limbs[:, j]
    return torch.stack(out, dim=1) / radius


def _segment_distance(z: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance of points ``z`` ``(B, L, H, W, 2)`` to the segments ``a -> b`` ``(B, L, 2)``."""
    a, b = a[:, :, None, None], b[:, :, None, None]
    ab = b - a
    t = (((z - a) * ab).sum(-1) / (ab * ab).sum(-1).clamp(min=1e-9)).clamp(0.0, 1.0)
    return _norm(z - a - t.unsqueeze(-1) * ab)


def _norm(v: torch.Tensor) -> torch.Tensor:
    """Euclidean norm over the last axis, with a finite gradient at 0."""
    return torch.sqrt((v * v).sum(-1) + 1e-12)


@float32
def part_shapes(kp: torch.Tensor, jac: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Soft part masks ``exp(-d^2)`` ``(B, 10, H, W)``: 1 on the part, ``e^-1`` at a capsule's edge."""
    return torch.exp(-part_distances(kp, jac, height, width) ** 2)
