"""Adversarial losses for paper eq. 8 and pix2pixHD feature matching.

Eq. 8 is the log form ``sum_i E[log(1 - D_i(O))] + E[log D_i(I)]`` with ``D_i = sigmoid(logits)``
over the ``N_D`` scales of ``MultiScaleDiscriminator``. Implemented stably with logits:

- ``mode="bce"`` (default):
  discriminator ``sum_i mean(softplus(-D_i(I))) + mean(softplus(D_i(O)))``
  (= ``-log sigmoid(real) - log(1 - sigmoid(fake))``, i.e. minus eq. 8);
  generator, non-saturating: ``sum_i mean(softplus(-D_i(O)))`` (= ``-log D_i(O)``).
- ``mode="lsgan"`` (pix2pixHD's default): discriminator ``sum_i mean((D_i(I) - 1)^2) +
  mean(D_i(O)^2)``, generator ``sum_i mean((D_i(O) - 1)^2)``.

Each ``outputs`` argument is what ``MultiScaleDiscriminator`` returns: a list of
``(logits, features)`` per scale; a list of bare logits tensors is accepted too.
For the discriminator step, pass ``fake`` outputs computed on a detached generated frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

MODES = ("bce", "lsgan")

ScaleOutputs = Sequence[tuple[torch.Tensor, Sequence[torch.Tensor]] | torch.Tensor]


def _logits(outputs: ScaleOutputs) -> list[torch.Tensor]:
    result = [o[0] if isinstance(o, (tuple, list)) else o for o in outputs]
    if not result:
        raise ValueError("no discriminator outputs")
    return result


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"adversarial mode must be one of {MODES}, got {mode!r}")


def discriminator_loss(real_outputs: ScaleOutputs, fake_outputs: ScaleOutputs, mode: str = "bce") -> torch.Tensor:
    """Loss the discriminator minimises, summed over scales (real -> 1, fake -> 0)."""
    _check_mode(mode)
    total = None
    for real, fake in zip(_logits(real_outputs), _logits(fake_outputs), strict=True):
        if mode == "bce":
            term = F.softplus(-real).mean() + F.softplus(fake).mean()
        else:
            term = (real - 1).pow(2).mean() + fake.pow(2).mean()
        total = term if total is None else total + term
    return total


def generator_loss(fake_outputs: ScaleOutputs, mode: str = "bce") -> torch.Tensor:
    """Loss the generator minimises, summed over scales (non-saturating for ``bce``)."""
    _check_mode(mode)
    total = None
    for fake in _logits(fake_outputs):
        term = F.softplus(-fake).mean() if mode == "bce" else (fake - 1).pow(2).mean()
        total = term if total is None else total + term
    return total


def feature_matching_loss(real_outputs: ScaleOutputs, fake_outputs: ScaleOutputs) -> torch.Tensor:
    """L1 between discriminator features of the real and generated frames (real detached).

    ``mean |D_i^k(I) - D_i^k(O)|`` averaged over all scales ``i`` and intermediate layers ``k``
    (pix2pixHD sums layers with weight 4/(n_layers+1) and averages scales: with its 3-layer
    discriminators that is 4x this value; fold the factor into the loss weight).
    """
    terms = []
    for real, fake in zip(real_outputs, fake_outputs, strict=True):
        real_feats, fake_feats = real[1], fake[1]
        for rf, ff in zip(real_feats, fake_feats, strict=True):
            terms.append((ff - rf.detach()).abs().mean())
    if not terms:
        raise ValueError("feature matching needs (logits, features) outputs with features")
    return torch.stack(terms).mean()
