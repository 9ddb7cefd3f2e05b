"""`internet prepare-flow DIR`: cache DIS optical flow beside every training video."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from internet_cli.cli.common import console, warn


def prepare_flow(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Dataset folder (DIR/train/, DIR/test/).")],
    size: Annotated[int, typer.Option("--size", help="Side of the square training frames the flow is computed on.")] = 512,
    splits: Annotated[str, typer.Option("--splits", help="Comma-separated split folders to process.")] = "train,test",
    preset: Annotated[str, typer.Option("--preset", help="DIS preset: ultrafast, fast or medium.")] = "fast",
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Frame cache folder. Default: DIR/.cache/frames.",
                                                   show_default=False)] = None,
) -> None:
    """Compute DIS optical flow (both directions) for every consecutive frame pair: NAME.dis.npz.

    Up-to-date files (same size, source unchanged) are skipped. Decoded frames are cached in
    DIR/.cache/frames (T*S*S*3 bytes per video), the same cache training reads.
    """
    from rich.markup import escape
    from internet_cli.cli.progress import progress_bar, task_advancer
    from internet_cli.clips import flow as flowmod
    from internet_cli.clips.prepare_flow import prepare_flow as run
    from internet_cli.errors import InputError

    if size < 8:
        raise typer.BadParameter(f"--size must be at least 8, got {size}")
    if preset.lower() not in flowmod.PRESETS:
        raise typer.BadParameter(f"--preset must be one of {', '.join(flowmod.PRESETS)}, got {preset!r}")
    names = [s.strip() for s in splits.split(",") if s.strip()]
    if not names:
        raise typer.BadParameter("--splits names no split")

    with progress_bar() as bar:
        def on_entry(entry, total):
            return task_advancer(bar, f"{entry.split}/{entry.name}", total)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = run(directory, size=size, splits=names, preset=preset.lower(), cache_dir=cache_dir,
                         on_entry=on_entry)
    for w in caught:
        warn(escape(str(w.message)))
    rate = report.pairs / report.seconds if report.seconds > 0 else 0.0
    console.print(f"prepare-flow {directory} at {size}x{size} ({preset}): {len(report.computed)} computed, "
                  f"{len(report.up_to_date)} up to date, {len(report.failed)} failed; "
                  f"{report.pairs} pairs in {report.seconds:.1f} s ({rate:.0f} pairs/s)", soft_wrap=True)
    if report.failed:
        raise InputError(f"{len(report.failed)} video(s) failed, first: {report.failed[0][0]}: {report.failed[0][1]}")


def register(app: typer.Typer) -> None:
    app.command("prepare-flow")(prepare_flow)
