"""What Stage I got right, measured on the synthetic ground truth (the paper could only show it in
Fig. 7 and Fig. 4):

- **Anchor placement** (``anchors_on_body``, higher is better): the share of the driving anchors
  (the ones the model used, ``K`` after relative motion) that lie on the person of the driving
  frame (the ground-truth mask at the anchor's nearest pixel); the rest sit on still background,
  or outside the frame.
- **Confidence fit** (``confidence_iou``, higher is better): the IoU of ``M > 0.5`` (M bilinearly
  upsampled to the frame) with the pixels of the driving frame that the source really shows on
  the body: the ground-truth mask and ``source_visible`` of ``internet synth`` (a point of the
  body not hidden in frame 0).
- **Confidence ranking** (``confidence_auc``, higher is better): the same region and M without a
  threshold: the probability that M is higher at a pixel of that region than at a pixel outside it
  (the ROC AUC, ties counted half). 0.5 is an M that says nothing, 1 one that ranks every shown body
  pixel first. It reads an M that sits wholly above or below 0.5, where the IoU is only the
  region's share of the frame or 0.

All three need ``NAME.gt.npz`` with ``mask`` and ``source_visible`` (``internet synth`` writes them) and a
backend that returns Stage I's outputs (PyTorch). Frame 0, the source itself, is not scored.
"""

from __future__ import annotations

import numpy as np

STAGE_ONE_METRICS = ("anchors_on_body", "confidence_iou", "confidence_auc")
STAGE_ONE_INFO = {
    "anchors_on_body": {"label": "Anchors on body", "better": "higher", "per": "anchor",
                        "text": "share of the driving anchors on the ground-truth person mask (paper Fig. 7)"},
    "confidence_iou": {"label": "M fit (IoU)", "better": "higher", "per": "frame",
                       "text": "IoU of M > 0.5 with the body pixels the source shows (ground-truth mask and "
                               "source visibility; paper Fig. 4)"},
    "confidence_auc": {"label": "M ranking (AUC)", "better": "higher", "per": "frame",
                       "text": "probability that M is higher on a body pixel the source shows than off it "
                               "(ROC AUC, threshold-free; 0.5: M says nothing)"},
}


class StageOneTruth:
    """A video's ground truth for the two scores; :attr:`available` is False without it."""

    def __init__(self, entry, frames: int):
        self.mask = self.seen = None
        path = entry.side_file(".gt.npz")
        if not path.exists():
            return
        try:
            with np.load(path, allow_pickle=False) as z:
                if "source_visible" not in z.files or z["mask"].shape[0] != frames:
                    return
                self.mask, self.seen = z["mask"].astype(bool), z["source_visible"].astype(bool)
        except (OSError, ValueError, KeyError):
            self.mask = self.seen = None

    @property
    def available(self) -> bool:
        return self.mask is not None

    def anchors_on_body(self, t: int, anchors: np.ndarray) -> np.ndarray:
        """Per anchor ``(n,)`` 1.0 on the person of frame ``t``, else 0.0; ``anchors`` normalised ``(n, 2)``."""
        h, w = self.mask.shape[1:]
        x = np.rint((anchors[:, 0] + 1.0) * 0.5 * (w - 1)).astype(int)
        y = np.rint((anchors[:, 1] + 1.0) * 0.5 * (h - 1)).astype(int)
        inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        on = np.zeros(len(anchors))
        on[inside] = self.mask[t, y[inside], x[inside]]
        return on

    def confidence_iou(self, t: int, confidence: np.ndarray) -> float:
        """IoU of ``confidence`` ``(h, w)`` > 0.5 with the body pixels of frame ``t`` that the source shows."""
        m = self._full_size(confidence) > 0.5
        truth = self.mask[t] & self.seen[t]
        union = int((m | truth).sum())
        return float((m & truth).sum() / union) if union else float("nan")

    def confidence_auc(self, t: int, confidence: np.ndarray) -> float:
        """ROC AUC of ``confidence`` ``(h, w)`` for the body pixels of frame ``t`` that the source shows."""
        return roc_auc(self._full_size(confidence).ravel(), (self.mask[t] & self.seen[t]).ravel())

    def _full_size(self, confidence: np.ndarray) -> np.ndarray:
        """M ``(h, w)`` bilinearly upsampled to the frame, float32."""
        import cv2

        h, w = self.mask.shape[1:]
        return cv2.resize(confidence.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)

    def score(self, start: int, motion: dict[str, np.ndarray], add) -> None:
        """Score a batch of frames ``start ..`` with its Stage I ``motion`` through ``add(metric, values)``."""
        for i, t in enumerate(range(start, start + len(motion["anchors"]))):
            if t == 0:
                continue
            add("anchors_on_body", self.anchors_on_body(t, motion["anchors"][i]))
            add("confidence_iou", self.confidence_iou(t, motion["confidence"][i]))
            add("confidence_auc", self.confidence_auc(t, motion["confidence"][i]))


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The probability that a positive's score exceeds a negative's, ties counted half (Mann-Whitney
    U over the pair count); NaN when either class is empty."""
    pos = int(positive.sum())
    neg = positive.size - pos
    if pos == 0 or neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # 1-based, ties get their mean rank
    return float((ranks[positive].sum() - pos * (pos + 1) / 2.0) / (pos * neg))
