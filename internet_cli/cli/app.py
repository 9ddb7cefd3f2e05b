"""The `internet` command: this file only registers the command groups."""

from __future__ import annotations

import typer

from internet_cli import __version__
from internet_cli.cli.errors import run_app

app = typer.Typer(
    name="internet",
    help="INTERnet: turn one photo of a person and a driving video into a 512x512 video.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"internet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """INTERnet video synthesis."""


def _register() -> None:
    # Each command module exposes `register(app)`; imports stay light (torch is imported lazily).
    from internet_cli.cli import (animate, evaluate, export, info, init, prepare, prepare_flow, prepare_pose, synth,
                                  train, web)

    for module in (animate, init, train, synth, prepare, prepare_flow, prepare_pose, evaluate, export, info, web):
        module.register(app)


_register()


def main() -> None:
    run_app(app)
