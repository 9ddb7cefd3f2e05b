"""The one-euro filter (Casiez et al., CHI 2012), for landmarks and crop boxes alike.

A low-pass filter whose cutoff rises with speed: strong smoothing while a point is still (no
jitter), little lag when it moves fast. Works on a float or on any array, element-wise.
"""

from __future__ import annotations

import math

import numpy as np

from internet_cli.pose import skeleton as sk


class OneEuro:
    """``filter(value, dt, scale)`` -> the smoothed value; the speed term is relative to ``scale``."""

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.x = None
        self.dx = 0.0

    @staticmethod
    def _alpha(cutoff, dt: float):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def reset(self) -> None:
        self.x, self.dx = None, 0.0

    def __call__(self, value, dt: float, scale: float = 1.0):
        if self.x is None:
            self.x = value
            return value
        dx = (value - self.x) / dt
        a_d = self._alpha(self.d_cutoff, dt)
        self.dx = a_d * dx + (1 - a_d) * self.dx
        cutoff = self.min_cutoff + self.beta * np.abs(self.dx) / max(scale, 1e-6)
        a = self._alpha(cutoff, dt)
        self.x = a * value + (1 - a) * self.x
        return self.x


LANDMARK_MIN_CUTOFF = 1.0
"""Hz: the cutoff of a still landmark (jitter above it is removed)."""
LANDMARK_BETA = 3.0
"""Cutoff rise per unit of speed (normalised units per second)."""


class LandmarkSmoother:
    """One-euro filter on a video's landmarks ``(33, 3)``: positions and visibilities.

    ``update(None)`` (no person in a frame) returns the last smoothed landmarks and keeps the
    filter's state, so the next detection continues from there; None until the first detection.
    """

    def __init__(self, fps: float, min_cutoff: float = LANDMARK_MIN_CUTOFF, beta: float = LANDMARK_BETA):
        self.dt = 1.0 / max(float(fps), 1e-3)
        self._xy = OneEuro(min_cutoff, beta)
        self._vis = OneEuro(min_cutoff, 0.0)
        self.last: np.ndarray | None = None

    def update(self, landmarks: np.ndarray | None) -> np.ndarray | None:
        if landmarks is None:
            return self.last
        lm = np.asarray(landmarks, np.float64)
        if lm.shape != (sk.NUM_LANDMARKS, 3):
            raise ValueError(f"landmarks must be ({sk.NUM_LANDMARKS}, 3), got {lm.shape}")
        xy = self._xy(lm[:, :2], self.dt)
        vis = self._vis(lm[:, 2], self.dt)
        self.last = np.concatenate([xy, np.asarray(vis)[:, None]], axis=1)
        return self.last
