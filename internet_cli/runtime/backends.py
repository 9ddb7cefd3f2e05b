"""Pick and open an inference backend: ``open_animator(model, backend, device)``.

``model`` is a weights file (``.safetensors``) or a folder written by ``internet export --onnx``.

- ``torch``: PyTorch (weights files only).
- ``onnx``: onnxruntime, CUDA when it really runs here, else CPU. A weights file is exported once
  into the cache (``$INTERNET_CACHE_DIR`` or ``~/.cache/internet``, ``onnx/<sha256>/``).
- ``tensorrt``: the TensorRT engines of the exported folder (``GRAPH.plan``, built once when
  missing; needs TensorRT and an NVIDIA GPU).
- ``auto``: TensorRT if usable, else onnxruntime on CUDA if usable, else PyTorch on CUDA if usable,
  else onnxruntime on CPU. ``--device cpu`` skips the GPU choices.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from internet_cli.config import ModelConfig
from internet_cli.errors import BackendError, WeightsError

BACKENDS = ("auto", "torch", "onnx", "tensorrt")


def cache_dir() -> Path:
    """Where exported graphs are cached: ``$INTERNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/internet``,
    else ``~/.cache/internet``."""
    env = os.environ.get("INTERNET_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "internet"


@dataclass
class ModelSource:
    """A resolved ``--weights`` argument: a weights file (``weights`` loaded) or an exported folder."""

    path: Path
    config: ModelConfig
    trained: bool
    weights: object | None = None  # checkpoint.Weights for a weights file
    export: object | None = None  # onnx_backend.ExportInfo for an exported folder

    @property
    def is_export(self) -> bool:
        return self.export is not None


def resolve_model(path: Path | None, warn: Callable[[str], None] | None = None) -> ModelSource:
    """Check ``--weights`` (a file, a folder, or None for the bundled weights) and read its config.
    Warns through ``warn`` when the weights are untrained."""
    if path is not None and Path(path).is_dir():
        from internet_cli.runtime.onnx_backend import read_export

        info = read_export(Path(path))
        _warn_untrained(Path(path), info.trained, warn)
        return ModelSource(Path(path), info.config, info.trained, export=info)
    from internet_cli.checkpoint import DEFAULT_WEIGHTS, load_weights

    if path is None:
        if not DEFAULT_WEIGHTS.exists():
            raise WeightsError(
                f"no bundled weights at {DEFAULT_WEIGHTS}; pass --weights FILE "
                "(make one with `internet init paper-512 -o FILE` or `internet train`)"
            )
        path = DEFAULT_WEIGHTS
    weights = load_weights(Path(path))
    _warn_untrained(Path(path), weights.trained, warn)
    return ModelSource(Path(path), weights.config, weights.trained, weights=weights)


def _warn_untrained(path: Path, trained: bool, warn: Callable[[str], None] | None) -> None:
    if not trained and warn:
        warn(f"[bold]{path.name} holds UNTRAINED (randomly initialised) weights[/]: "
             "the output will not look like the source person. Train with `internet train`.")


def check_choice(backend: str, device: str) -> None:
    """Reject an unknown ``--backend`` or ``--device`` before any work (one line)."""
    if backend.lower() not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r} (use {', '.join(BACKENDS)})")
    from internet_cli.devices import check_device_name

    check_device_name(device.lower())


def choose_backend(backend: str, device: str, source: ModelSource) -> str:
    """The concrete backend for ``auto`` (others are returned as they are, after a check)."""
    from internet_cli.devices import CUDA_PROVIDER, cuda_index, cuda_usable, ort_provider_usable, tensorrt_usable

    check_choice(backend, device)
    backend = backend.lower()
    if backend == "torch" and source.is_export:
        raise BackendError(f"--backend torch needs a weights file (.safetensors), not an exported folder: {source.path}")
    if backend != "auto":
        return backend
    if device.lower() == "cpu":
        return "onnx"
    index = cuda_index(device)
    if tensorrt_usable(index):
        return "tensorrt"
    if ort_provider_usable(CUDA_PROVIDER, index):
        return "onnx"
    if cuda_usable(index) and not source.is_export:
        return "torch"  # a GPU that torch can use but onnxruntime cannot: still better than the CPU
    return "onnx"


def exported_folder(source: ModelSource, log: Callable[[str], None] = print) -> Path:
    """The exported folder for ``source``: itself, or the cache entry of a weights file (exported
    once, on first use)."""
    if source.is_export:
        return source.path
    from internet_cli.export.onnx import export_onnx, sha256_file

    folder = cache_dir() / "onnx" / sha256_file(source.path)
    if (folder / "export.json").is_file():
        return folder
    log(f"exporting {source.path.name} to ONNX once (cached in {folder}); this takes a minute")
    folder.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(source.path, folder, log=log)
    return folder


def open_animator(source: ModelSource | Path | None, backend: str = "auto", device: str = "auto",
                  log: Callable[[str], None] = print, batch_size: int = 1):
    """An animator (``encode_source``/``reference``/``animate``) on the chosen backend.
    ``batch_size``: the most driving frames per call (TensorRT's engines have a limit)."""
    if not isinstance(source, ModelSource):
        source = resolve_model(source)
    chosen = choose_backend(backend, device, source)
    if chosen == "torch":
        from internet_cli.devices import select_device
        from internet_cli.runtime.animator import TorchAnimator

        return TorchAnimator(source.weights, select_device(device))
    if chosen == "tensorrt":
        from internet_cli.devices import tensorrt_device
        from internet_cli.export.tensorrt import check_batch_size
        from internet_cli.runtime.tensorrt_backend import TensorRTAnimator

        tensorrt_device(device)  # before any export: fail fast with one line
        check_batch_size(batch_size)
        return TensorRTAnimator(exported_folder(source, log), device, batch_size=batch_size,
                                rebuild_stale=not source.is_export, log=log)
    from internet_cli.runtime.onnx_backend import OnnxAnimator

    return OnnxAnimator(exported_folder(source, log), device=device)


def describe(animator) -> str:
    """One line naming the backend and where it runs."""
    if hasattr(animator, "describe"):
        return animator.describe()
    return f"{animator.backend} on {getattr(animator, 'device', 'cpu')}"
