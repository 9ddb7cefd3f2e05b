"""Small convolutional building blocks shared by Stage I and Stage II.

Every block is conv -> BatchNorm -> ReLU: BatchNorm folds into the convolution at inference
(and in the exported graphs), so normalisation costs nothing per frame.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3):
        super().__init__(
            nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class ResBlock(nn.Module):
    """Post-activation residual block: ReLU(x + BN(conv(ReLU(BN(conv(x))))))."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(y)))


class DownBlock(nn.Sequential):
    """conv (at the input resolution) then 2x average pooling."""

    def __init__(self, cin: int, cout: int):
        super().__init__(ConvBNReLU(cin, cout), nn.AvgPool2d(2))


class UpBlock(nn.Sequential):
    """2x nearest upsampling then conv."""

    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvBNReLU(cin, cout))
