"""Mirror pairs: teach one anchor to be the left-right mirror image of another.

Not in the paper, and off by default (``LossConfig.mirror = 0``). A body is left-right
symmetric, and training flips half of the samples (``DataConfig.flip``), yet FOMM-style anchors
are found one by one: an anchor can settle on the left arm while no anchor ever takes the right
one, because an anchor that owns no pixels gets no gradient from the image losses (a "dead"
anchor). A mirror pair ``(a, b)`` gives the student ``b`` a target of its own: in the flipped
image, ``b`` must be where the teacher ``a`` is in the original, mirrored::

    kp_b(flip X) = m(kp_a(X)),   J_b(flip X) = M J_a(X) M,   m(x, y) = (-x, y), M = diag(-1, 1)

``flip`` mirrors the image about its vertical centre line, which maps normalised ``x`` to ``-x``
exactly (``make_coordinate_grid``). The teacher's side is detached: ``a`` is the anchor that
already works and is trained by the image losses alone; the loss moves only ``b``. It is the L1
mean over the pairs of the anchor term plus the affine term.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

Detector = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

_MIRROR = torch.tensor([-1.0, 1.0])


def mirror_pairs(weight: float, pairs: Sequence[int], num_anchors: int) -> list[tuple[int, int]]:
    """``LossConfig``'s ``(a, b, c, d, ...)`` -> ``[(a, b), (c, d), ...]`` (teacher, student),
    validated; ``ValueError`` names the problem."""
    if weight > 0 and not pairs:
        raise ValueError("the mirror loss is weighted but no mirror pairs are given (--mirror TEACHER:STUDENT)")
    if len(pairs) % 2:
        raise ValueError(f"mirror pairs come two by two (teacher, student), got {tuple(pairs)}")
    out = [(int(a), int(b)) for a, b in zip(pairs[::2], pairs[1::2])]
    for a, b in out:
        if not (0 <= a < num_anchors and 0 <= b < num_anchors) or a == b:
            raise ValueError(f"mirror pair {a}:{b} needs two different anchors in 0..{num_anchors - 1}")
    students = [b for _, b in out]
    if len(set(students)) != len(students):
        raise ValueError(f"an anchor can be the student of one mirror pair only, got {tuple(pairs)}")
    return out


def mirror_loss(detector: Detector, images: torch.Tensor, kp: torch.Tensor, jac: torch.Tensor,
                pairs: Sequence[tuple[int, int]]) -> torch.Tensor:
    """``images`` ``(B, 3, H, W)``; ``kp`` ``(B, n, 2)`` and ``jac`` ``(B, n, 2, 2)``, the
    detector's output on ``images`` (the teacher side, detached here)."""
    teacher = torch.tensor([a for a, _ in pairs], device=kp.device)
    student = torch.tensor([b for _, b in pairs], device=kp.device)
    m = _MIRROR.to(kp.device, kp.dtype)
    kp_f, jac_f = detector(torch.flip(images, dims=[-1]))
    target_kp = kp.detach()[:, teacher] * m
    target_jac = jac.detach()[:, teacher] * m[:, None] * m[None, :]  # M J M
    value = (kp_f[:, student] - target_kp).abs().mean()
    affine = (jac_f[:, student] - target_jac).abs().mean()
    return value + affine
