"""Perceptual (paper eq. 9) and style (eq. 10-11) losses through one pass of a frozen backbone.

The backbone (``losses/backbones.py``) is VGG-19, the paper's, or EfficientNet-lite0; each gives five
feature layers ``phi_l`` (VGG: relu1_1..relu5_1) and says each layer's stride.

Perceptual loss, over an image pyramid (FOMM's multi-scale variant)::

    L_per = sum_s sum_l w_l * mean |phi_l(down_s(I)) - phi_l(down_s(O))|

``mean`` is over batch, channels and positions (the 1/CHW of eq. 9, an L1 norm). A backbone may
carry a ``loss_scale`` that multiplies the perceptual term (EfficientNet-lite0's 1/16 keeps the
default weight's meaning); the style term is not rescaled. Downsampling is
area averaging. Layer weights: ``FOMM_LAYER_WEIGHTS`` = [10]*5 (the default, what FOMM trains with)
or ``PIX2PIXHD_LAYER_WEIGHTS`` = [1/32, 1/16, 1/8, 1/4, 1].

Style loss, at full resolution only (the first pyramid level)::

    G(F)_ij = sum_hw F_ihw F_jhw / (C H W)                   (eq. 11)
    L_sty  = sum_l v_l * || G(phi_l(I)) - G(phi_l(O)) ||_F^2   (eq. 10), averaged over the batch

The Gram normalisation 1/(CHW) already makes the term size independent, so no second 1/(CHW) is
applied. Grams are computed in float32.

Layers an image level is too small for (a layer needs at least its stride in pixels per side, e.g.
VGG's relu5_1 needs 16) are skipped at that level.

The target's features are computed under ``no_grad``. A term whose weight is 0 (or whose layer
weights are all 0) is not computed and is absent from the returned dict; backbone layers deeper than
the deepest one with a non-zero weight are not run.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


NUM_LAYERS = 5  # feature layers of every backbone
FOMM_LAYER_WEIGHTS: tuple[float, ...] = (10.0, 10.0, 10.0, 10.0, 10.0)
PIX2PIXHD_LAYER_WEIGHTS: tuple[float, ...] = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
DEFAULT_SCALES: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125)
DEFAULT_STYLE_LAYER_WEIGHTS: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W) -> (B, C, C)``: ``G_ij = sum_hw F_ihw F_jhw / (C H W)`` (eq. 11), float32."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w).float()
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def style_distance(pred_features: torch.Tensor, target_features: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius distance of the Gram matrices, averaged over the batch."""
    diff = gram_matrix(pred_features) - gram_matrix(target_features)
    return diff.pow(2).sum(dim=(1, 2)).mean()


def downsample(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Area-average downsampling by ``scale`` (<= 1); identity at 1."""
    if scale == 1.0:
        return x
    h, w = x.shape[2:]
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return F.interpolate(x, size=size, mode="area")


def _max_depth(strides: Sequence[int], height: int, width: int) -> int:
    """How many of the backbone's layers an image of this size reaches (each needs its stride in px)."""
    return sum(1 for s in strides if min(height, width) >= s)


def _check_weights(name: str, weights: Sequence[float]) -> tuple[float, ...]:
    weights = tuple(float(v) for v in weights)
    if len(weights) != NUM_LAYERS:
        raise ValueError(f"{name} needs {NUM_LAYERS} values (one per feature layer), got {len(weights)}")
    if any(v < 0 for v in weights):
        raise ValueError(f"{name} must be non-negative, got {weights}")
    return weights


class PerceptualStyleLoss(nn.Module):
    """Computes ``{"perceptual": lambda_per * L_per, "style": lambda_sty * L_sty}``.

    Args:
        backbone: the frozen feature extractor (``load_backbone(...)[0]``): ``forward(x, num_layers)``
            gives the first ``num_layers`` of its five layers, ``strides`` says each one's stride.
        perceptual_weight: lambda_per; 0 skips the perceptual term.
        style_weight: lambda_sty; 0 (the default) skips the style term.
        layer_weights: per-layer weights of the perceptual term (relu1_1..relu5_1).
        style_layer_weights: per-layer weights of the style term.
        scales: pyramid scales of the perceptual term, e.g. ``(1, 0.5, 0.25, 0.125)``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        perceptual_weight: float = 1.0,
        style_weight: float = 0.0,
        layer_weights: Sequence[float] = FOMM_LAYER_WEIGHTS,
        style_layer_weights: Sequence[float] = DEFAULT_STYLE_LAYER_WEIGHTS,
        scales: Sequence[float] = DEFAULT_SCALES,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.perceptual_weight = float(perceptual_weight)
        self.style_weight = float(style_weight)
        self.layer_weights = _check_weights("layer_weights", layer_weights)
        self.style_layer_weights = _check_weights("style_layer_weights", style_layer_weights)
        self.scales = tuple(float(s) for s in scales)
        if not self.scales or any(not 0 < s <= 1 for s in self.scales):
            raise ValueError(f"scales must be non-empty and in (0, 1], got {self.scales}")
        if self.perceptual_weight < 0 or self.style_weight < 0:
            raise ValueError("loss weights must be non-negative")

    @property
    def uses_perceptual(self) -> bool:
        return self.perceptual_weight > 0 and any(self.layer_weights)

    @property
    def uses_style(self) -> bool:
        return self.style_weight > 0 and any(self.style_layer_weights)

    def _depth(self, weights: Sequence[float]) -> int:
        return max(i + 1 for i, v in enumerate(weights) if v > 0)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """``prediction`` (generated) and ``target`` (real) images ``(B, 3, H, W)`` in [0, 1]."""
        if prediction.shape != target.shape:
            raise ValueError(f"prediction {tuple(prediction.shape)} vs target {tuple(target.shape)}")
        out: dict[str, torch.Tensor] = {}
        use_per, use_sty = self.uses_perceptual, self.uses_style
        if not (use_per or use_sty):
            return out
        per_depth = self._depth(self.layer_weights) if use_per else 0
        sty_depth = self._depth(self.style_layer_weights) if use_sty else 0
        # The style term uses the first (finest) pyramid level; the perceptual term all of them.
        scales = self.scales if use_per else self.scales[:1]
        per_total = prediction.new_zeros(())
        sty_total = prediction.new_zeros((), dtype=torch.float32)
        for k, scale in enumerate(scales):
            pred_in = downsample(prediction, scale)
            depth = min(max(per_depth, sty_depth if k == 0 else 0),
                        _max_depth(self.backbone.strides, *pred_in.shape[2:]))
            if depth == 0:
                continue
            pred_feats = self.backbone(pred_in, num_layers=depth)
            with torch.no_grad():
                target_feats = self.backbone(downsample(target, scale), num_layers=depth)
            if use_per:
                for w, pf, tf in zip(self.layer_weights, pred_feats, target_feats):
                    if w > 0:
                        per_total = per_total + w * (pf - tf).abs().mean()
            if use_sty and k == 0:
                for w, pf, tf in zip(self.style_layer_weights, pred_feats, target_feats):
                    if w > 0:
                        sty_total = sty_total + w * style_distance(pf, tf)
        if use_per:
            out["perceptual"] = self.perceptual_weight * getattr(self.backbone, "loss_scale", 1.0) * per_total
        if use_sty:
            out["style"] = self.style_weight * sty_total.to(prediction.dtype)
        return out
