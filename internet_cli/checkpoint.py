"""Weights files: one safetensors file holding the tensors, the model config and a format version.

Metadata keys (all strings, safetensors allows nothing else):
``format`` = "internet-weights", ``format_version``, ``config`` (JSON of ModelConfig),
``trained`` ("true"/"false") and ``info`` (JSON: how the weights were made).
safetensors never executes code, so a weights file cannot run anything when loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from internet_cli.atomic import atomic_path
from internet_cli.config import ModelConfig
from internet_cli.errors import WeightsError

FORMAT = "internet-weights"
FORMAT_VERSION = 1

# The weights `animate` uses when --weights is not given.
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "internet-512.safetensors"


@dataclass
class Weights:
    config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    trained: bool
    info: dict = field(default_factory=dict)

    def build(self, dtype=torch.float32):
        """The model in eval mode on CPU, with these weights (in ``dtype``)."""
        from internet_cli.model import INTERnet

        model = INTERnet(self.config)
        model.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in self.state_dict.items()})
        return model.eval()


def save_weights(path: Path, model, *, trained: bool, info: dict | None = None, half: bool = False) -> Path:
    """Write ``model``'s weights atomically (temporary file in the same folder, then rename).

    ``half`` stores floating-point tensors as float16 (halves the file; they are cast back to
    float32 on load).
    """
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        if half and v.is_floating_point():
            v = v.half()
        tensors[k] = v.contiguous()
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(model.config.to_dict()),
        "trained": "true" if trained else "false",
        "info": json.dumps(info or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata of a weights file, checked; raises WeightsError with one line."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise WeightsError(f"weights file not found: {path}")
    if path.is_dir():
        raise WeightsError(f"weights path is a folder, not a file: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises several types for bad headers
        raise WeightsError(f"not a valid weights file (corrupt or not safetensors): {path}") from exc
    if meta.get("format") != FORMAT:
        raise WeightsError(f"not an internet weights file (no '{FORMAT}' metadata): {path}")
    version = meta.get("format_version", "?")
    if version != str(FORMAT_VERSION):
        raise WeightsError(
            f"weights format version {version} is not supported by this internet (expects {FORMAT_VERSION}): {path}"
        )
    return meta


def load_weights(path: Path) -> Weights:
    """Read and validate a weights file (tensors are float32 on CPU)."""
    from safetensors.torch import load_file

    meta = read_metadata(path)
    try:
        config = ModelConfig.from_dict(json.loads(meta["config"]))
        info = json.loads(meta.get("info", "{}"))
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"weights file has an unreadable model config: {path}") from exc
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:
        raise WeightsError(f"weights file is truncated or corrupt: {path}") from exc
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    weights = Weights(config, tensors, meta.get("trained") == "true", info)
    _check_tensors(weights, path)
    return weights


def _check_tensors(weights: Weights, path: Path) -> None:
    from internet_cli.model import INTERnet

    expected = {k: v.shape for k, v in INTERnet(weights.config).state_dict().items()}
    got = {k: v.shape for k, v in weights.state_dict.items()}
    if expected.keys() != got.keys() or any(expected[k] != got[k] for k in expected):
        missing = sorted(set(expected) - set(got))
        raise WeightsError(
            f"weights do not match their config ({len(missing)} tensors missing or shapes differ): {path}"
        )
