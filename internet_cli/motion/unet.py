"""The U-Net (hourglass) that Stage I runs at the base resolution (paper section 4.1)."""

from __future__ import annotations

import torch
from torch import nn

from internet_cli.blocks import DownBlock, UpBlock


class UNet(nn.Module):
    """Encoder-decoder with skip connections.

    ``(B, cin, H, W) -> (B, out_channels, H, W)`` with ``out_channels = block_expansion + cin``;
    H and W must be divisible by ``2**num_blocks``. Width doubles at every level, capped at
    ``max_features``.
    """

    def __init__(self, cin: int, block_expansion: int, num_blocks: int, max_features: int):
        super().__init__()
        widths = [min(max_features, block_expansion * 2 ** (i + 1)) for i in range(num_blocks)]
        ins = [cin] + widths[:-1]
        self.down = nn.ModuleList(DownBlock(i, o) for i, o in zip(ins, widths))
        ups = []
        for level in reversed(range(num_blocks)):
            up_in = widths[level] if level == num_blocks - 1 else 2 * widths[level]
            up_out = ins[level] if level > 0 else block_expansion
            ups.append(UpBlock(up_in, up_out))
        self.up = nn.ModuleList(ups)
        self.out_channels = block_expansion + cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [x]
        for block in self.down:
            skips.append(block(skips[-1]))
        out = skips.pop()
        for block in self.up:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return out
