"""Body landmarks -> the K = 10 motion anchors and their 2x2 affines (``motion.anchors = "pose"``).

Conventions (docs/pose.md):

- **Coordinates.** Landmarks come in pixels of the square model input, continuous, as MediaPipe
  gives them (pixel ``i`` spans ``[i, i + 1)``). :func:`normalise` maps them onto the model's
  normalised ``(x, y)`` in [-1, 1] with the extremes at the centres of the corner pixels
  (``align_corners=True``, docs/design.md). Anchors and affines are in those units.
- **Anchor.** Each part's anchor is its centre: the middle of a limb's bone, the mean of the four
  torso landmarks, the visibility-weighted mean of the face landmarks.
- **Affine.** Each part has a frame ``J`` (2x2) per picture; the model's local transform is
  ``T_k(z) = K^s_k + J^s_k (J^d_k)^-1 (z - K^d_k)`` (driving -> source coordinates, eq. 5), so
  ``J^s (J^d)^-1`` is what carries the part from the driving picture back to the source.
  - a limb: ``J = [b / LIMB_UNIT, n]``, ``b`` the bone vector (start -> end), ``n`` its unit
    normal. Between two pictures this stretches along the bone by the ratio of the bone
    lengths, keeps the width, and rotates by the change of the bone's direction;
  - the torso: the least-squares linear map from a fixed template of the shoulders and hips onto
    the picture's, its smaller singular value kept at least :data:`MIN_ASPECT` of the larger
    (a person turned sideways gives no degenerate frame);
  - the head: the least-squares similarity (rotation and scale) from a fixed face template,
    weighted by visibility.
- **Hidden parts.** A limb is hidden when either end has visibility below
  :data:`internet_cli.pose.skeleton.VISIBLE`; the head when fewer than two of its nose, eyes and
  ears are visible. The torso is never hidden (MediaPipe always places it). A part hidden in the
  source or in the driving picture follows its parent: its driving anchor and affine are chosen
  so that its transform equals its parent's, ``T_k = T_parent``.
"""

from __future__ import annotations

import numpy as np

from internet_cli.pose import skeleton as sk

LIMB_UNIT = 0.25
"""Bone length (normalised units) whose frame has a unit first column; it cancels in T_k."""

MIN_ASPECT = 0.3
"""The torso frame's smaller singular value is kept at least this share of the larger."""

TORSO_TEMPLATE = np.array([[0.2, -0.25], [-0.2, -0.25], [0.13, 0.25], [-0.13, 0.25]])  # ls, rs, lh, rh
_FACE_TEMPLATE = {sk.NOSE: (0.0, 0.02), sk.L_EYE: (0.035, -0.01), sk.R_EYE: (-0.035, -0.01),
                  sk.L_EAR: (0.075, 0.0), sk.R_EAR: (-0.075, 0.0), sk.MOUTH_L: (0.025, 0.045),
                  sk.MOUTH_R: (-0.025, 0.045)}
_FACE_IDS = np.array(list(_FACE_TEMPLATE))
_FACE_PTS = np.array(list(_FACE_TEMPLATE.values()))
_HEAD_KEY = (sk.NOSE, sk.L_EYE, sk.R_EYE, sk.L_EAR, sk.R_EAR)


def normalise(landmarks: np.ndarray, size: int) -> np.ndarray:
    """``(..., 33, 3)`` pixel landmarks of a ``size`` x ``size`` picture -> normalised ``x, y``."""
    out = np.array(landmarks, dtype=np.float64)
    out[..., :2] = (out[..., :2] - 0.5) * (2.0 / (size - 1)) - 1.0
    return out


def to_pixels(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Inverse of :func:`normalise`."""
    out = np.array(landmarks, dtype=np.float64)
    out[..., :2] = (out[..., :2] + 1.0) * ((size - 1) / 2.0) + 0.5
    return out


def inverse(m: np.ndarray) -> np.ndarray:
    """Inverse of ``(..., 2, 2)`` matrices, the determinant kept away from 0 (as the model's)."""
    det = m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0]
    det = np.where(det < 0, -1.0, 1.0) * np.maximum(np.abs(det), 1e-6)
    adj = np.stack([np.stack([m[..., 1, 1], -m[..., 0, 1]], -1), np.stack([-m[..., 1, 0], m[..., 0, 0]], -1)], -2)
    return adj / det[..., None, None]


def limb_frame(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre ``(2,)`` and frame ``(2, 2)`` of a bone from ``start`` to ``end``."""
    b = end - start
    length = max(float(np.hypot(*b)), 1e-4)
    u = b / length if length > 1e-4 else np.array([0.0, 1.0])
    n = np.array([-u[1], u[0]])
    return (start + end) / 2.0, np.stack([u * length / LIMB_UNIT, n], axis=1)


def torso_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and least-squares linear frame of the 4 torso points (ls, rs, lh, rh)."""
    centre = points.mean(axis=0)
    q = TORSO_TEMPLATE - TORSO_TEMPLATE.mean(axis=0)
    a = (points - centre).T @ q @ np.linalg.inv(q.T @ q)  # argmin_A sum |A q_i - p_i|^2
    u, s, vt = np.linalg.svd(a)
    s = np.maximum(s, [1e-4, MIN_ASPECT * max(s[0], 1e-4)])
    return centre, u @ np.diag(s) @ vt


def head_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and weighted least-squares similarity frame of the face landmarks."""
    p = landmarks[_FACE_IDS, :2]
    w = np.clip(landmarks[_FACE_IDS, 2], 1e-3, 1.0)
    pc = (w[:, None] * p).sum(0) / w.sum()
    qc = (w[:, None] * _FACE_PTS).sum(0) / w.sum()
    dp, dq = p - pc, _FACE_PTS - qc
    # similarity [[a, -b], [b, a]] minimising sum w |S dq - dp|^2
    den = (w * (dq**2).sum(1)).sum()
    a = (w * (dq * dp).sum(1)).sum() / den
    b = (w * (dq[:, 0] * dp[:, 1] - dq[:, 1] * dp[:, 0])).sum() / den
    if np.hypot(a, b) < 1e-4:
        a, b = 1e-4, 0.0
    return pc, np.array([[a, -b], [b, a]])


def part_frames(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised landmarks ``(33, 3)`` -> anchors ``(10, 2)``, frames ``(10, 2, 2)``, visible ``(10,)``."""
    lm = np.asarray(landmarks, dtype=np.float64)
    vis = lm[:, 2] >= sk.VISIBLE
    anchors = np.zeros((len(sk.PARTS), 2))
    frames = np.zeros((len(sk.PARTS), 2, 2))
    visible = np.ones(len(sk.PARTS), dtype=bool)
    for k, part in enumerate(sk.PARTS):
        if part.bone is not None:
            i, j = part.bone
            anchors[k], frames[k] = limb_frame(lm[i, :2], lm[j, :2])
            visible[k] = vis[i] and vis[j]
        elif part.name == "torso":
            anchors[k], frames[k] = torso_frame(lm[list(sk.TORSO), :2])
        else:
            anchors[k], frames[k] = head_frame(lm)
            visible[k] = int(vis[list(_HEAD_KEY)].sum()) >= 2
    return anchors, frames, visible


def follow_parents(kp_s, jac_s, kp_d, jac_d, visible) -> tuple[np.ndarray, np.ndarray]:
    """Driving anchors and frames where every part not ``visible`` moves exactly as its parent."""
    kp_d, jac_d = kp_d.copy(), jac_d.copy()
    for k in sk.ORDER:
        p = sk.PARTS[k].parent
        if visible[k] or p is None:
            continue
        m = jac_d[p] @ inverse(jac_s[p])  # source -> driving, linear part of the parent's motion
        kp_d[k] = kp_d[p] + m @ (kp_s[k] - kp_s[p])
        jac_d[k] = m @ jac_s[k]
    return kp_d, jac_d


def part_motion(source: np.ndarray, driving: np.ndarray) -> dict[str, np.ndarray]:
    """Normalised source and driving landmarks ``(33, 3)`` -> the model's anchor inputs, float32:
    ``kp_source (10, 2)``, ``jac_source (10, 2, 2)``, ``kp_driving``, ``jac_driving`` and
    ``visible (10,)`` (the parts that move on their own; the rest follow their parents)."""
    kp_s, jac_s, vis_s = part_frames(source)
    kp_d, jac_d, vis_d = part_frames(driving)
    visible = vis_s & vis_d
    kp_d, jac_d = follow_parents(kp_s, jac_s, kp_d, jac_d, visible)
    f = np.float32
    return {"kp_source": kp_s.astype(f), "jac_source": jac_s.astype(f), "kp_driving": kp_d.astype(f),
            "jac_driving": jac_d.astype(f), "visible": visible}


def mirror(landmarks: np.ndarray) -> np.ndarray:
    """Normalised landmarks of the horizontally flipped picture (x -> -x, left and right swapped)."""
    out = np.array(landmarks)[..., list(sk.MIRROR), :]
    out[..., 0] = -out[..., 0]
    return out
