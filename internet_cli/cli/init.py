"""`internet init PRESET -o FILE`: randomly initialised weights for a preset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from internet_cli.cli.common import console


def init(
    preset_name: Annotated[str, typer.Argument(metavar="PRESET", help="Model preset: paper-512, small-256 or tiny.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Weights file to write (.safetensors).")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the initialisation.")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace FILE if it exists.")] = False,
) -> None:
    """Write randomly initialised (UNTRAINED) weights: to start training or to measure speed."""
    import torch

    from internet_cli.checkpoint import save_weights
    from internet_cli.config import preset
    from internet_cli.errors import OutputError
    from internet_cli.model import INTERnet

    try:
        cfg = preset(preset_name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if output.exists() and not overwrite:
        raise OutputError(f"{output} exists; use --overwrite to replace it")
    if not output.parent.is_dir():
        raise OutputError(f"output folder does not exist: {output.parent}")
    torch.manual_seed(seed)
    model = INTERnet(cfg)
    save_weights(output, model, trained=False, info={"preset": preset_name, "seed": seed, "steps": 0})
    params = sum(p.numel() for p in model.parameters())
    console.print(f"wrote {output}: preset {preset_name}, {params / 1e6:.2f} M parameters, seed {seed}, UNTRAINED")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
