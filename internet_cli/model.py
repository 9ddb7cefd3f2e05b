"""INTERnet: Stage I (motion estimator) + Stage II (generator), paper section 3.3.

Inference is split so that the source is processed once:

    state = model.encode_source(source)             # anchors, affines, features at every scale
    out = model.animate(state, driving, reference)  # per driving frame (or batch of frames)

``forward(source, driving)`` is the training path and returns everything the losses need.
All of it is plain tensor code (no data-dependent Python branches), so it exports to ONNX.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
import torch.nn.functional as F

from internet_cli.config import ModelConfig
from internet_cli.generation.generator import Decoder, SourceEncoder, background_plate, deform
from internet_cli.motion.anchors import AnchorDetector
from internet_cli.motion.dense import FILL_PARTS, DenseMotion, fill_regions, limb_weight, source_ownership
from internet_cli.motion.geometry import blend_warps, float32, inverse_2x2, resize, warp


class SourceState(NamedTuple):
    """Everything computed once per source image (batch ``Bs``, usually 1)."""

    # (Bs, 3, S, S): the source itself, for the pass-through path; with motion.person_mask 3 more
    # channels: its background plate (generator.background_plate); with motion.hidden_fill
    # "body" 4 more per fill part (torso, head): its plate and where it is (dense.fill_regions)
    image: torch.Tensor
    # (Bs, 3, base, base); with motion.person_mask 1 + n more channels: the person and each part's
    # share of it (dense.source_ownership)
    image_small: torch.Tensor
    anchors: torch.Tensor  # (Bs, n, 2)
    affines: torch.Tensor  # (Bs, n, 2, 2)
    features: tuple[torch.Tensor, ...]  # base resolution first: (Bs, c_i, base*2^i, base*2^i)


class DrivingReference(NamedTuple):
    """Relative-motion reference (FOMM): anchors of the first driving frame and how to use them.

    ``relative`` is 1.0 for relative motion, 0.0 for absolute; ``scale`` multiplies the anchor
    displacement (``--adapt-scale``). Tensors rather than Python flags, so one exported graph
    serves both modes.
    """

    anchors: torch.Tensor  # (1, n, 2)
    affines: torch.Tensor  # (1, n, 2, 2)
    relative: torch.Tensor  # (1,) float
    scale: torch.Tensor  # (1,) float


@float32
def relative_motion(state: SourceState, kp_d, jac_d, ref: DrivingReference):
    """Driving anchors as the model should see them.

    Relative: the displacement since the first driving frame is applied to the source anchors,
    ``K = K^s + scale * (K^d - K^d_1)``, ``J = J^d (J^d_1)^-1 J^s``. Absolute: ``K^d``, ``J^d``.
    """
    kp_rel = state.anchors + ref.scale.view(-1, 1, 1) * (kp_d - ref.anchors)
    jac_rel = jac_d @ inverse_2x2(ref.affines) @ state.affines
    r = ref.relative.view(-1, 1, 1)
    return r * kp_rel + (1 - r) * kp_d, r.unsqueeze(-1) * jac_rel + (1 - r.unsqueeze(-1)) * jac_d


class INTERnet(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        # Pose mode has no detector: anchors and affines come from body landmarks (pose/parts.py).
        self.detector = AnchorDetector(config.motion) if config.motion.anchors == "learned" else None
        self.dense_motion = DenseMotion(config.motion)
        self.encoder = SourceEncoder(config.generator)
        self.decoder = Decoder(config.generator)

    @property
    def pose_mode(self) -> bool:
        return self.detector is None

    def encode_source(self, source: torch.Tensor, kp: torch.Tensor | None = None,
                      jac: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> SourceState:
        """``source`` ``(Bs, 3, S, S)`` in [0, 1] -> :class:`SourceState`. Pose mode takes the
        source's anchors ``kp`` ``(Bs, n, 2)`` and affines ``jac`` ``(Bs, n, 2, 2)``, and with
        ``motion.person_mask`` its person ``mask`` ``(Bs, 1, S, S)`` (:mod:`internet_cli.pose.person`)."""
        if self.detector is not None:
            kp, jac = self.detector(source)
        elif kp is None or jac is None:
            raise ValueError("a pose-mode model needs the source's anchors and affines")
        features = tuple(self.encoder(source))
        if not self.config.motion.person_mask:
            return SourceState(source, resize(source, self.config.motion.base_size), kp, jac, features)
        if mask is None:
            raise ValueError("this model needs the source's person mask (motion.person_mask)")
        small = resize(torch.cat([source, mask.to(source.dtype)], dim=1), self.config.motion.base_size)
        cfg = self.config.motion
        person, own = source_ownership(small[:, 3:], kp, jac, cfg.limb_core, cfg.capsule_join)

        def full(t: torch.Tensor) -> torch.Tensor:
            return F.interpolate(t, size=source.shape[2:], mode="bilinear", align_corners=True)

        image = [source, background_plate(source, full(person))]
        if cfg.hidden_fill == "body":  # each fill part's pixels fill the rest of it: the chest under an arm
            regions = full(fill_regions(own, kp, jac))
            for i, k in enumerate(FILL_PARTS):
                image += [background_plate(source, 1.0 - full(own[:, k:k + 1])), regions[:, i:i + 1]]
        return SourceState(torch.cat(image, dim=1), torch.cat([small[:, :3], person, own], dim=1), kp, jac, features)

    def generate(self, state: SourceState, kp_d: torch.Tensor, jac_d: torch.Tensor) -> dict[str, torch.Tensor]:
        """Stage I dense motion + Stage II for driving anchors ``(B, n, 2)``; the source state is
        broadcast over the batch when it holds one image."""
        b = kp_d.shape[0]

        def batch(t: torch.Tensor) -> torch.Tensor:
            return t.expand(b, *t.shape[1:]) if t.shape[0] != b else t

        motion = self.dense_motion(batch(state.image_small), batch(state.anchors), batch(state.affines), kp_d, jac_d)
        features = state.features if self.config.generator.scales == "multi" else state.features[:1]
        deformed = deform([batch(f) for f in features], motion["field"], motion["confidence"])
        image = batch(state.image)  # the source (and its background plate)
        if self.config.motion.image_warp == "parts":
            warped = blend_warps(image[:, :3], motion["transforms"], motion["weights"])
        else:
            warped = warp(image[:, :3], motion["field"])
        floor = None  # with generator.limb_pass: a moved limb shows its own source pixels
        if self.config.generator.limb_pass:
            floor = F.interpolate(limb_weight(motion["weights"]), size=image.shape[2:], mode="bilinear",
                                  align_corners=True)
        prediction = self.decoder(deformed, warped, motion["confidence"], floor)
        if self.config.motion.person_mask:  # where the background would show the source's person: the plate
            hidden = F.interpolate(motion["hidden"], size=image.shape[2:], mode="bilinear", align_corners=True)
            prediction = (1 - hidden) * prediction + hidden * self._hidden_fill(image, motion["transforms"])
        motion["prediction"] = prediction
        return motion

    def _hidden_fill(self, image: torch.Tensor, transforms: torch.Tensor) -> torch.Tensor:
        """What shows where the background would show the source's person ``(B, 3, S, S)``: the
        background plate, or with ``motion.hidden_fill = "body"`` inside the torso and the head
        their own plates, each moved by its part's transform (``transforms``, the dense motion's
        ``(B, n+1, h, w, 2)``; the head in front)."""
        fill = image[:, 3:6]
        if self.config.motion.hidden_fill == "background":
            return fill
        for i, k in enumerate(FILL_PARTS):
            part = warp(image[:, 6 + 4 * i:10 + 4 * i], transforms[:, 1 + k])  # its plate and where it is
            fill = part[:, 3:] * part[:, :3] + (1 - part[:, 3:]) * fill
        return fill

    def animate(self, state: SourceState, driving: torch.Tensor, ref: DrivingReference) -> torch.Tensor:
        """Driving frames ``(B, 3, S, S)`` -> output frames ``(B, 3, S, S)`` in [0, 1] (learned anchors)."""
        return self.animate_motion(state, driving, ref)["prediction"]

    def animate_motion(self, state: SourceState, driving: torch.Tensor, ref: DrivingReference) -> dict:
        """:meth:`animate` with its Stage I outputs: :meth:`generate`'s dict plus ``kp_driving``, the
        anchors the model used ``(B, n, 2)`` (for the evaluation's anchor placement)."""
        kp_d, jac_d = self.detector(driving)
        kp, jac = relative_motion(state, kp_d, jac_d, ref)
        return {**self.generate(state, kp, jac), "kp_driving": kp}

    def forward(self, source: torch.Tensor, driving: torch.Tensor,
                pose: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Training path (absolute motion, as in self-reconstruction). Returns the prediction,
        ``field`` F^0, ``confidence`` M^0, ``weights`` and the anchors/affines of both frames.
        Pose mode takes them from ``pose`` (``kp_source``, ``jac_source``, ``kp_driving``,
        ``jac_driving``, as :func:`internet_cli.pose.parts.part_motion` gives them, and
        ``source_mask`` with ``motion.person_mask``)."""
        if self.detector is None:
            if pose is None:
                raise ValueError("a pose-mode model needs the anchors of source and driving")
            state = self.encode_source(source, pose["kp_source"], pose["jac_source"], pose.get("source_mask"))
            kp_d, jac_d = pose["kp_driving"], pose["jac_driving"]
        else:
            state = self.encode_source(source)
            kp_d, jac_d = self.detector(driving)
        out = self.generate(state, kp_d, jac_d)
        out.update(kp_source=state.anchors, jac_source=state.affines, kp_driving=kp_d, jac_driving=jac_d)
        return out

    def absolute_reference(self) -> DrivingReference:
        """A reference that makes :meth:`animate` use absolute motion."""
        n = self.config.motion.num_anchors
        p = next(self.parameters())
        return DrivingReference(
            torch.zeros(1, n, 2, dtype=p.dtype, device=p.device),
            torch.eye(2, dtype=p.dtype, device=p.device).expand(1, n, 2, 2).contiguous(),
            torch.zeros(1, dtype=p.dtype, device=p.device),
            torch.ones(1, dtype=p.dtype, device=p.device),
        )
