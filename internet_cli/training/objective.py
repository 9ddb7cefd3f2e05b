"""The training objective as two modules, each wrapped whole by DDP.

``GeneratorObjective.forward(batch)`` runs the model and every generator-side term (perceptual,
style, adversarial, feature matching, equivariance, warp, mirror, ownership, temporal) in one forward, so DDP sees each
parameter used exactly once per step. ``DiscriminatorObjective`` is the pix2pixHD discriminator
step. Every term is returned by name, already multiplied by its weight; a weight of 0 skips it.
"""

from __future__ import annotations

import torch
from torch import nn

from internet_cli.config import LossConfig
from internet_cli.generation.discriminator import MultiScaleDiscriminator
from internet_cli.losses.adversarial import discriminator_loss, feature_matching_loss, generator_loss
from internet_cli.losses.equivariance import TPS, equivariance_losses
from internet_cli.losses.mirror import mirror_loss, mirror_pairs
from internet_cli.losses.ownership import ownership_loss
from internet_cli.losses.perceptual import PerceptualStyleLoss
from internet_cli.losses.temporal import temporal_loss
from internet_cli.losses.warp import warped_source_loss
from internet_cli.model import INTERnet


POSE_KEYS = ("kp_source", "jac_source", "kp_driving", "jac_driving")


def build_discriminator(cfg: LossConfig) -> MultiScaleDiscriminator | None:
    if cfg.adversarial <= 0 and cfg.feature_matching <= 0:
        return None
    return MultiScaleDiscriminator(
        num_scales=cfg.discriminator_scales,
        base_channels=cfg.discriminator_channels,
        num_layers=cfg.discriminator_layers,
    )


class GeneratorObjective(nn.Module):
    def __init__(self, model: INTERnet, backbone: nn.Module | None, discriminator: MultiScaleDiscriminator | None,
                 cfg: LossConfig):
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.perceptual = (
            PerceptualStyleLoss(backbone, perceptual_weight=cfg.perceptual, style_weight=cfg.style,
                                scales=cfg.perceptual_scales)
            if backbone is not None and (cfg.perceptual > 0 or cfg.style > 0) else None
        )
        self.mirror_pairs = mirror_pairs(cfg.mirror, cfg.mirror_pairs, model.config.motion.num_anchors)
        # Not a registered submodule: its parameters belong to the discriminator's own DDP.
        self._discriminator = [discriminator]

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        cfg = self.cfg
        source, driving = batch["source"], batch["driving"]
        pose_mode = self.model.pose_mode
        pose = {k: batch[k] for k in (*POSE_KEYS, "source_mask") if k in batch} if pose_mode else None
        out = self.model(source, driving, pose)
        pred = out["prediction"]
        losses: dict[str, torch.Tensor] = {}
        if self.perceptual is not None:
            losses.update(self.perceptual(pred, driving))
        disc = self._discriminator[0]
        if disc is not None:
            fake = disc(pred)
            if cfg.adversarial > 0:
                losses["adversarial"] = cfg.adversarial * generator_loss(fake, mode=cfg.adversarial_mode)
            if cfg.feature_matching > 0:
                with torch.no_grad():
                    real = disc(driving)
                losses["feature_matching"] = cfg.feature_matching * feature_matching_loss(real, fake)
        # The equivariance and mirror terms train the anchor detector, which pose mode does not have.
        if not pose_mode and (cfg.equivariance_value > 0 or cfg.equivariance_jacobian > 0):
            tps = TPS(driving.shape[0], sigma_affine=cfg.tps_sigma_affine, sigma_tps=cfg.tps_sigma_tps,
                      device=driving.device, dtype=driving.dtype)
            eq = equivariance_losses(self.model.detector, driving, tps, kp=out["kp_driving"], jac=out["jac_driving"])
            if cfg.equivariance_value > 0:
                losses["equivariance_value"] = cfg.equivariance_value * eq["equivariance_value"]
            if cfg.equivariance_jacobian > 0:
                losses["equivariance_jacobian"] = cfg.equivariance_jacobian * eq["equivariance_jacobian"]
        if cfg.warp > 0:
            losses["warp"] = cfg.warp * warped_source_loss(source, driving, out["field"])
        if cfg.mirror > 0 and not pose_mode:
            losses["mirror"] = cfg.mirror * mirror_loss(self.model.detector, driving, out["kp_driving"],
                                                        out["jac_driving"], self.mirror_pairs)
        if cfg.ownership > 0:
            losses["ownership"] = cfg.ownership * ownership_loss(
                out["weights"], out["kp_driving"], self.model.config.motion.gaussian_variance, cfg.ownership_floor)
        if cfg.temporal > 0 and cfg.temporal_mode != "none":
            losses["temporal"] = cfg.temporal * temporal_loss(
                cfg.temporal_mode, pred, batch["previous"], batch["flow"],
                confidence=out["confidence"], flow_back=_flow_back(batch),
            )
        return losses, out


def _flow_back(batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """The t -> t-1 flow when the whole batch has one (the ground-truth data has none)."""
    has = batch.get("has_flow_back")
    if "flow_back" not in batch or (has is not None and not bool(torch.as_tensor(has).all())):
        return None
    return batch["flow_back"]


class DiscriminatorObjective(nn.Module):
    def __init__(self, discriminator: MultiScaleDiscriminator, cfg: LossConfig):
        super().__init__()
        self.discriminator = discriminator
        self.mode = cfg.adversarial_mode

    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return discriminator_loss(self.discriminator(real), self.discriminator(fake.detach()), mode=self.mode)
