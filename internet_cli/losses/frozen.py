"""A frozen feature network: no parameter trains and it always stays in eval mode (its BatchNorm too)."""

from __future__ import annotations

import torch.nn as nn


class Frozen(nn.Module):
    """Base of the perceptual loss's backbones; gradients still flow through to the input."""

    def freeze(self):
        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)
        return self

    def train(self, mode: bool = True):  # noqa: ARG002 - always frozen
        return super().train(False)
