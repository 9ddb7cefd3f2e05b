"""The source's person mask for pose-mode models with ``motion.person_mask`` (docs/pose.md).

One rule for training and inference, so that the model learns the mask it will be given:
a MediaPipe segmentation of the source (``motion.segmenter``: the selfie model, or the pose
model's own), thresholded at 0.5, dilated by :data:`DILATE`
of the side (the segmentation is often a little inside the silhouette: hair, fingers, loose
cloth) and its edge softened by a blur of the same width. On synthetic dancers the thresholded
selfie segmentation alone overlaps the exact silhouette with an IoU of 0.91-0.94 (four seeds, at
256); ``tests/pose/test_person.py`` checks that the mask holds the silhouette, with either model.
"""

from __future__ import annotations

import numpy as np

DILATE = 0.015
"""Dilation (and edge blur) of the mask, as a share of the image side."""


def dilated(probability: np.ndarray, share: float) -> np.ndarray:
    """A segmentation probability ``(H, W)`` -> the person (``>= 0.5``) dilated by a disc of
    ``share`` of the side, ``(H, W)`` uint8 in {0, 1}."""
    import cv2

    r = max(1, int(round(share * max(probability.shape))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate((probability >= 0.5).astype(np.uint8), kernel)


def soft_mask(probability: np.ndarray) -> np.ndarray:
    """A segmentation probability ``(H, W)`` -> the soft person mask ``(H, W)`` float32 in [0, 1]."""
    import cv2

    r = max(1, int(round(DILATE * max(probability.shape))))
    return cv2.GaussianBlur(dilated(probability, DILATE).astype(np.float32), (2 * r + 1, 2 * r + 1), r / 2.0)


class SourceMasker:
    """``masker(rgb)`` -> the soft person mask of an ``(H, W, 3)`` uint8 image, ``(1, 1, H, W)``
    float32 (the model's ``source_mask`` input), from ``segmenter``'s segmentation
    (``motion.segmenter``: :class:`~internet_cli.pose.estimator.PersonSegmenter`). The segmenter
    starts on first use."""

    def __init__(self, segmenter: str = "selfie"):
        self.segmenter = segmenter
        self._seg = None

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        if self._seg is None:
            from internet_cli.pose.estimator import PersonSegmenter

            self._seg = PersonSegmenter(self.segmenter)
        return soft_mask(self._seg(rgb))[None, None]

    def close(self) -> None:
        if self._seg is not None:
            self._seg.close()
            self._seg = None


def source_pose_arrays(config, source: np.ndarray, anchors: tuple, masker: SourceMasker) -> tuple[np.ndarray, ...]:
    """What a pose-mode model's source encoder takes besides the image: the source's anchors and
    affines, then, with ``motion.person_mask``, ``masker``'s mask of ``source`` (every backend's rule)."""
    arrays = tuple(np.ascontiguousarray(a, np.float32) for a in anchors)
    return (*arrays, masker(source)) if config.motion.person_mask else arrays
