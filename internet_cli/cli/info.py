"""`internet info`: versions, threads, and the backends and devices that really work here."""

from __future__ import annotations

import importlib.metadata as md
import platform

import typer


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def info() -> None:
    """Print package and dependency versions, threads, and usable devices and backends."""
    from rich.table import Table

    from internet_cli import __version__
    from internet_cli.checkpoint import DEFAULT_WEIGHTS
    from internet_cli.devices import cpu_threads, cuda_usable, ort_provider_usable, tensorrt_usable

    table = Table(title=f"internet {__version__}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("python", platform.python_version())
    table.add_row("platform", f"{platform.system()} {platform.machine()}")
    for dist in ("torch", "onnxruntime-gpu", "onnx", "av", "mediapipe", "opencv-contrib-python", "numpy",
                 "safetensors", "typer", "rich", "tensorrt"):
        table.add_row(dist, _version(dist))
    table.add_row("cpu threads", str(cpu_threads()))
    table.add_row("torch cuda", "usable" if cuda_usable() else "not usable")
    for provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider", "CPUExecutionProvider"):
        table.add_row(f"onnxruntime {provider.removesuffix('ExecutionProvider')}",
                      "usable" if ort_provider_usable(provider) else "not usable")
    table.add_row("tensorrt", "usable" if tensorrt_usable() else "not usable")
    table.add_row("default weights", str(DEFAULT_WEIGHTS) if DEFAULT_WEIGHTS.exists() else "none bundled")
    from rich.console import Console

    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("info")(info)
