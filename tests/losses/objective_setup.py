"""A tiny model, a random batch, and a loss config with every term off: for the tests that check
how ``GeneratorObjective`` adds one optional term."""

from __future__ import annotations

import torch

from internet_cli.config import LossConfig, preset
from internet_cli.model import INTERnet

ALL_OFF = LossConfig(perceptual=0, adversarial=0, feature_matching=0, equivariance_value=0,
                     equivariance_jacobian=0, temporal_mode="none")


def tiny_model_and_batch() -> tuple[INTERnet, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    model = INTERnet(preset("tiny"))
    size = model.config.image_size
    return model, {"source": torch.rand(2, 3, size, size), "driving": torch.rand(2, 3, size, size)}
