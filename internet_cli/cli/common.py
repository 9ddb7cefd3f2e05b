"""Shared option types and console for the command modules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

# Progress and messages go to stderr; stdout stays clean for machine-readable output.
console = Console(stderr=True, highlight=False)

WeightsOption = Annotated[
    Path | None,
    typer.Option("--weights", "-w", help="Weights file (.safetensors). Default: the bundled weights/ file.",
                 show_default=False),
]
DeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")]


def warn(message: str) -> None:
    console.print(f"[bold yellow]warning:[/] {message}")


def load_weights_or_default(path: Path | None):
    """The ``Weights`` of a weights file (or the bundled default); warns loudly when untrained."""
    from internet_cli.errors import WeightsError
    from internet_cli.runtime.backends import resolve_model

    source = resolve_model(path, warn=warn)
    if source.weights is None:
        raise WeightsError(f"this command needs a weights file (.safetensors), not an exported folder: {path}")
    return source.weights
