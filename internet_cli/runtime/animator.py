"""The model as the pipeline sees it: numpy frames in, numpy frames out, on one device.

One backend-neutral interface (``encode_source`` once, then ``reference`` and ``animate``);
exported backends implement the same three methods.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from internet_cli.checkpoint import Weights
from internet_cli.model import DrivingReference, INTERnet, SourceState
from internet_cli.pose.person import SourceMasker, source_pose_arrays


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(B, H, W, 3)`` uint8 -> ``(B, 3, H, W)`` float in [0, 1].

    Read-only arrays (``np.asarray`` of a PIL image, decoded buffers) are copied: torch warns on
    wrapping memory it could write to."""
    t = torch.from_numpy(np.require(images, requirements=("C", "W"))).to(device)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``(B, 3, H, W)`` float in [0, 1] -> ``(B, H, W, 3)`` uint8."""
    return (images.clamp(0, 1) * 255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def anchor_scale(source_anchors: np.ndarray, driving_anchors: np.ndarray) -> float:
    """``--adapt-scale`` without poses: sqrt of the ratio of the anchors' convex-hull areas (FOMM);
    1.0 when either hull is degenerate."""
    src, drv = hull_area(source_anchors), hull_area(driving_anchors)
    return math.sqrt(src / drv) if drv > 1e-8 and src > 1e-8 else 1.0


def hull_area(points: np.ndarray) -> float:
    """Area of the convex hull of ``(n, 2)`` points (FOMM's adapt-scale uses it)."""
    import cv2

    hull = cv2.convexHull(points.astype(np.float32))
    return float(cv2.contourArea(hull))


class TorchAnimator:
    backend = "torch"

    def __init__(self, weights: Weights, device: torch.device):
        self.config = weights.config
        self.size = weights.config.image_size
        self.device = device
        self.model: INTERnet = weights.build().to(device)
        if device.type == "cpu":  # oneDNN's convolutions run ~10% faster on NHWC; the output is the same
            self.model.to(memory_format=torch.channels_last)  # (benchmarks/channels_last.py)
        self._masker = SourceMasker(self.config.motion.segmenter)

    @property
    def pose_mode(self) -> bool:
        return self.config.motion.anchors == "pose"

    @torch.inference_mode()
    def encode_source(self, source: np.ndarray, anchors: tuple[np.ndarray, np.ndarray] | None = None) -> SourceState:
        """``source`` ``(S, S, 3)`` uint8 -> the per-source state; pose mode takes the source's
        ``anchors`` ``((1, n, 2), (1, n, 2, 2))`` (:class:`internet_cli.runtime.pose_motion.DrivingPose`)."""
        extra = () if anchors is None else source_pose_arrays(self.config, source, anchors, self._masker)
        return self.model.encode_source(to_tensor(source[None], self.device),
                                        *(torch.from_numpy(a).to(self.device) for a in extra))

    @torch.inference_mode()
    def reference(self, state: SourceState, first_frame: np.ndarray, relative: bool, adapt_scale: bool) -> DrivingReference:
        """Relative-motion reference from the first driving frame ``(S, S, 3)`` uint8."""
        kp_d, jac_d = self.model.detector(to_tensor(first_frame[None], self.device))
        scale = anchor_scale(state.anchors[0].cpu().numpy(), kp_d[0].cpu().numpy()) if adapt_scale else 1.0
        opts = dict(dtype=kp_d.dtype, device=self.device)
        return DrivingReference(
            kp_d, jac_d, torch.tensor([1.0 if relative else 0.0], **opts), torch.tensor([scale], **opts)
        )

    @staticmethod
    def with_scale(ref: DrivingReference, scale: float) -> DrivingReference:
        """``ref`` with its motion scale replaced (the pose-based ``--adapt-scale``)."""
        return ref._replace(scale=torch.full_like(ref.scale, float(scale)))

    @torch.inference_mode()
    def animate_pose(self, state: SourceState, kp: np.ndarray, jac: np.ndarray, motion: bool = False):
        """Pose mode: driving anchors ``(B, n, 2)`` and affines ``(B, n, 2, 2)`` -> frames ``(B, S, S, 3)``
        uint8; with ``motion``, ``(frames, stage_one(...))``."""
        kp_d, jac_d = (torch.from_numpy(np.ascontiguousarray(a, np.float32)).to(self.device) for a in (kp, jac))
        out = self.model.generate(state, kp_d, jac_d)
        frames = to_uint8(out["prediction"])
        return (frames, stage_one(out, kp_d)) if motion else frames

    @torch.inference_mode()
    def animate(self, state: SourceState, frames: np.ndarray, ref: DrivingReference, motion: bool = False):
        """Driving frames ``(B, S, S, 3)`` uint8 -> output frames ``(B, S, S, 3)`` uint8; with
        ``motion``, ``(frames, stage_one(...))`` (only this backend offers it: the evaluation's)."""
        if not motion:
            return to_uint8(self.model.animate(state, to_tensor(frames, self.device), ref))
        out = self.model.animate_motion(state, to_tensor(frames, self.device), ref)
        return to_uint8(out["prediction"]), stage_one(out, out["kp_driving"])


def stage_one(out: dict, anchors: torch.Tensor) -> dict[str, np.ndarray]:
    """What the evaluation reads of Stage I: the driving ``anchors`` ``(B, n, 2)`` (normalised
    ``x, y``) and the confidence map M ``(B, h, w)`` at the base resolution, float32."""
    return {"anchors": anchors.float().cpu().numpy(), "confidence": out["confidence"][:, 0].float().cpu().numpy()}
