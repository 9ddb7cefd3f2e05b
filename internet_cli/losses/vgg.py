"""VGG-19 feature extractor for the perceptual and style losses (paper eq. 9-11).

The module is written here (torchvision does not import beside this torch build) with the same
layer indices as torchvision's ``vgg19().features``, so a torchvision-format ImageNet state dict
(``features.N.weight`` / ``features.N.bias`` keys, e.g. ``vgg19-dcbb9e9d.pth``) loads unchanged.

Layer indices of ``features`` (conv ``c``, ReLU ``r``, max-pool ``p``)::

    0 c1_1  1 r1_1  2 c1_2  3 r1_2  4 p
    5 c2_1  6 r2_1  7 c2_2  8 r2_2  9 p
    10 c3_1 11 r3_1 12 c3_2 13 r3_2 14 c3_3 15 r3_3 16 c3_4 17 r3_4 18 p
    19 c4_1 20 r4_1 21 c4_2 22 r4_2 23 c4_3 24 r4_3 25 c4_4 26 r4_4 27 p
    28 c5_1 29 r5_1 30 c5_2 31 r5_2 32 c5_3 33 r5_3 34 c5_4 35 r5_4 36 p

The forward pass returns relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1 (indices 1, 6, 11, 20,
29), the layers FOMM and pix2pixHD use; later layers are never run.

Weights: ``load_vgg19`` never downloads. It takes an explicit file, else torch's hub cache, else
a deterministic random (He-initialised) network with a loud warning. Random deep conv features
are still a usable structural/texture loss: a random ReLU conv pyramid is a bank of multi-scale
edge/texture detectors, and matching their responses penalises blur and misplaced structure
(FACTS.md: a FOMM-style model trained with a random VGG pyramid learnt on CPU). ImageNet weights
remain what the paper uses and give better textures; supply them with ``--vgg-weights PATH``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn as nn

from internet_cli.errors import WeightsError
from internet_cli.losses.frozen import Frozen

#: torchvision's configuration "E" (VGG-19): output channels of each conv, "M" = max-pool.
VGG19_CONFIG: tuple = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                       512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
#: indices in ``features`` of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
OUTPUT_LAYERS: tuple[int, ...] = (1, 6, 11, 20, 29)
LAYER_NAMES: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: file name torchvision gives the ImageNet VGG-19 weights in the hub cache.
TORCHVISION_VGG19_FILE = "vgg19-dcbb9e9d.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RANDOM_INIT_SEED = 19


class RandomVGGWarning(UserWarning):
    """The perceptual/style losses run through a randomly initialised VGG-19."""


def _make_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    in_channels = 3
    for item in VGG19_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.Conv2d(in_channels, int(item), kernel_size=3, padding=1))
            layers.append(nn.ReLU(inplace=True))
            in_channels = int(item)
    return nn.Sequential(*layers)


class VGG19Features(Frozen):
    """Frozen VGG-19 ``features``; ``forward(x in [0, 1]) -> [relu1_1, ..., relu5_1]``.

    Inputs are RGB ``(B, 3, H, W)`` in ``[0, 1]``; ImageNet mean/std normalisation is applied
    inside. ``state_dict()`` keys are torchvision's (``features.N.weight``); the normalisation
    constants are non-persistent buffers. Parameters never require grad and the module stays in
    eval mode (``train()`` is a no-op), but gradients do flow through it to the input.
    """

    layer_names = LAYER_NAMES
    strides = (1, 2, 4, 8, 16)  # of each output layer (relu{k}_1 follows k-1 max-pools)

    def __init__(self) -> None:
        super().__init__()
        self.features = _make_features()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        # Slices ending at each output ReLU: features[start:end] (shares the modules).
        bounds = (0,) + tuple(i + 1 for i in OUTPUT_LAYERS)
        self._slices = [(bounds[k], bounds[k + 1]) for k in range(len(OUTPUT_LAYERS))]
        self.freeze()

    def forward(self, x: torch.Tensor, num_layers: int = len(OUTPUT_LAYERS)) -> list[torch.Tensor]:
        """Features of the first ``num_layers`` (1..5) output layers; deeper layers are skipped."""
        if not 1 <= num_layers <= len(OUTPUT_LAYERS):
            raise ValueError(f"num_layers must be in 1..{len(OUTPUT_LAYERS)}, got {num_layers}")
        h = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        outputs = []
        for start, end in self._slices[:num_layers]:
            for idx in range(start, end):
                layer = self.features[idx]
                # In-place ReLU would overwrite a tensor we return; use the functional form.
                h = torch.relu(h) if isinstance(layer, nn.ReLU) else layer(h)
            outputs.append(h)
        return outputs


def random_init_(module: VGG19Features, seed: int = RANDOM_INIT_SEED) -> VGG19Features:
    """Deterministic He (Kaiming-normal, fan-in, ReLU gain) init, zero biases.

    He init keeps the activation variance roughly constant through the ReLU stack, so every output
    layer carries signal of comparable magnitude (a plain uniform init would vanish by relu5_1).
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.features:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu", generator=gen)
                nn.init.zeros_(m.bias)
    return module


def hub_checkpoint_path() -> Path:
    """Where torchvision would have cached the ImageNet VGG-19 weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_VGG19_FILE


def _load_state_dict(module: VGG19Features, path: Path) -> None:
    if not path.is_file():
        raise WeightsError(f"VGG-19 weights file not found: {path}")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user problem
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"cannot read VGG-19 weights {path}: {msg[:200]}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsError(f"VGG-19 weights {path} do not hold a state dict (got {type(state).__name__})")
    features = {k[len("features."):]: v for k, v in state.items()
                if isinstance(k, str) and k.startswith("features.")}
    expected = module.features.state_dict()
    missing = sorted(set(expected) - set(features), key=lambda k: int(k.split(".")[0]))
    if missing:
        raise WeightsError(
            f"{path} is not a torchvision-format VGG-19 state dict "
            f"(missing {len(missing)} 'features.*' tensors, e.g. features.{missing[0]})"
        )
    for key, ref in expected.items():
        value = features[key]
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(ref.shape):
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise WeightsError(
                f"{path}: features.{key} has shape {got}, VGG-19 needs {tuple(ref.shape)}"
            )
    module.features.load_state_dict({k: features[k].float() for k in expected}, strict=True)


def load_vgg19(weights: Path | str | None = None) -> tuple[VGG19Features, bool]:
    """Build the frozen VGG-19 feature extractor. Returns ``(module, pretrained)``.

    ``weights`` given: load it (``torch.load(weights_only=True)``), or raise ``WeightsError``
    with a one-line reason. Otherwise use the torch hub cache
    (``torch.hub.get_dir()/checkpoints/vgg19-dcbb9e9d.pth``) when present (a broken cached file
    is an error too, not a silent fallback). Otherwise: a deterministic random He init and a
    ``RandomVGGWarning``. Never downloads anything.
    """
    module = VGG19Features()
    if weights is not None:
        _load_state_dict(module, Path(weights))
        return module.freeze(), True
    cached = hub_checkpoint_path()
    if cached.is_file():
        _load_state_dict(module, cached)
        return module.freeze(), True
    random_init_(module)
    warnings.warn(
        "perceptual/style losses run WITHOUT ImageNet VGG-19 weights (deterministic random init): "
        "training still works but textures are learnt less well. Supply torchvision's "
        f"{TORCHVISION_VGG19_FILE} with --vgg-weights PATH (or place it at {cached}).",
        RandomVGGWarning,
        stacklevel=2,
    )
    return module.freeze(), False
