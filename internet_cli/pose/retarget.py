"""Retargeting: the driving person's bone directions on the source person's body (``--retarget``).

All landmarks are normalised ``(33, 3)`` (:func:`internet_cli.pose.parts.normalise`). For each
driving frame the source skeleton is rebuilt, parents first (docs/pose.md):

- **Global motion is relative.** The torso centre moves by the driving torso's displacement since
  the reference frame (the first driving frame), scaled by the ratio of the torso heights
  (source / driving), so a tall driver moves a short source by proportionally less.
- **The torso** turns, leans and squashes as the driving torso has since the reference frame
  (``J_t J_ref^-1`` applied to the source's torso landmarks about their centre).
- **Each limb bone** takes the driving bone's direction in this frame and the source's own length,
  times the driving bone's foreshortening: its length now over the longest it has been so far
  in the video (the reference frame included), never above 1. A driver's long or short limbs
  therefore never stretch or shrink the source's.
- **The head** (face landmarks) turns as the driving head has since the reference frame, about
  the middle of the shoulders.
- **Hands and feet** move rigidly with their forearm and shin.
- **A hidden driving bone** (either end below the visibility threshold) keeps the angle it has
  in the source relative to its parent, which is what "follows its parent" means for landmarks.

Visibilities of the result are the driving frame's, so the parts hidden there still follow
their parents in :func:`internet_cli.pose.parts.part_motion`.
"""

from __future__ import annotations

import numpy as np

from internet_cli.pose import skeleton as sk
from internet_cli.pose.parts import head_frame, inverse, torso_frame

_TORSO = list(sk.TORSO)
_FACE = list(sk.FACE)
MIN_FORESHORTENING = 0.2
"""A bone is never drawn shorter than this share of the source's length."""


def _angle(v: np.ndarray) -> float:
    return float(np.arctan2(v[1], v[0]))


def _rot(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s], [s, c]])


def _rotation_angle(m: np.ndarray) -> float:
    """The angle of the rotation closest to the 2x2 matrix ``m``."""
    return float(np.arctan2(m[1, 0] - m[0, 1], m[0, 0] + m[1, 1]))


def torso_height(lm: np.ndarray) -> float:
    """Distance from the middle of the shoulders to the middle of the hips."""
    return float(np.hypot(*(lm[[sk.L_SHOULDER, sk.R_SHOULDER], :2].mean(0) - lm[[sk.L_HIP, sk.R_HIP], :2].mean(0))))


class Retargeter:
    """``Retargeter(source, reference)(driving)`` -> the source's landmarks in the driving pose."""

    def __init__(self, source: np.ndarray, reference: np.ndarray):
        self.source = np.asarray(source, np.float64)
        self.reference = np.asarray(reference, np.float64)
        self.scale = torso_height(self.source) / max(torso_height(self.reference), 1e-4)
        self._torso_ref = torso_frame(self.reference[_TORSO, :2])
        self._head_ref = head_frame(self.reference)[1]
        self._longest = {name: self._length(self.reference, bone) for name, bone in sk.LIMB_BONES.items()}

    @staticmethod
    def _length(lm: np.ndarray, bone: tuple[int, int]) -> float:
        return float(np.hypot(*(lm[bone[1], :2] - lm[bone[0], :2])))

    def __call__(self, driving: np.ndarray) -> np.ndarray:
        drv = np.asarray(driving, np.float64)
        src = self.source
        out = src.copy()
        out[:, 2] = drv[:, 2]
        vis = drv[:, 2] >= sk.VISIBLE

        # torso: relative displacement (scaled) and relative linear change
        c_ref, j_ref = self._torso_ref
        c_drv, j_drv = torso_frame(drv[_TORSO, :2])
        c_src = src[_TORSO, :2].mean(0)
        torso = j_drv @ inverse(j_ref)
        c_new = c_src + self.scale * (c_drv - c_ref)
        out[_TORSO, :2] = c_new + (src[_TORSO, :2] - c_src) @ torso.T
        torso_turn = _rotation_angle(torso)

        # head: relative turn about the middle of the shoulders
        neck_src = src[[sk.L_SHOULDER, sk.R_SHOULDER], :2].mean(0)
        neck_new = out[[sk.L_SHOULDER, sk.R_SHOULDER], :2].mean(0)
        head_visible = int(vis[[sk.NOSE, sk.L_EYE, sk.R_EYE, sk.L_EAR, sk.R_EAR]].sum()) >= 2
        head = head_frame(drv)[1] @ inverse(self._head_ref) if head_visible else _rot(torso_turn)
        turn = _rot(_rotation_angle(head))
        out[_FACE, :2] = neck_new + (src[_FACE, :2] - neck_src) @ turn.T

        # limbs, parents first: each bone's rotation from source to output is kept for its children
        turns = {"torso": torso_turn}
        for part in sk.PARTS:
            if part.bone is None:
                continue
            i, j = part.bone
            parent = sk.PARTS[part.parent].name
            b_src = src[j, :2] - src[i, :2]
            length = float(np.hypot(*b_src))
            if vis[i] and vis[j]:
                b_drv = drv[j, :2] - drv[i, :2]
                now = float(np.hypot(*b_drv))
                self._longest[part.name] = longest = max(self._longest[part.name], now)
                short = np.clip(now / max(longest, 1e-6), MIN_FORESHORTENING, 1.0)
                direction = _angle(b_drv)
            else:
                short = 1.0
                direction = _angle(b_src) + turns[parent]
            turns[part.name] = direction - _angle(b_src)
            out[j, :2] = out[i, :2] + length * short * np.array([np.cos(direction), np.sin(direction)])
            r = _rot(turns[part.name])
            for c in part.carried:
                out[c, :2] = out[j, :2] + (src[c, :2] - src[j, :2]) @ r.T
        return out
