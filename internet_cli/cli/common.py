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
    """Load ``path`` or the bundled default weights; warn loudly when they are untrained."""
    from internet_cli.checkpoint import DEFAULT_WEIGHTS, load_weights
    from internet_cli.errors import WeightsError

    if path is None:
        if not DEFAULT_WEIGHTS.exists():
            raise WeightsError(
                f"no bundled weights at {DEFAULT_WEIGHTS}; pass --weights FILE "
                "(make one with `internet init paper-512 -o FILE` or `internet train`)"
            )
        path = DEFAULT_WEIGHTS
    weights = load_weights(path)
    if not weights.trained:
        warn(f"[bold]{path.name} holds UNTRAINED (randomly initialised) weights[/]: "
             "the output will not look like the source person. Train with `internet train`.")
    return weights
