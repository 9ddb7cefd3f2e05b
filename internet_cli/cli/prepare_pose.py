"""`internet prepare-pose DIR`: cache MediaPipe landmarks beside every training video (NAME.pose.npz)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from internet_cli.cli.common import console


def prepare_pose(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Dataset folder (DIR/train/, DIR/test/).")],
    splits: Annotated[str, typer.Option("--splits", help="Comma-separated split folders to process.")] = "train,test",
) -> None:
    """Find the person's 33 body landmarks in every frame (MediaPipe Pose, one tracker per video):
    NAME.pose.npz, what pose-anchor training reads. Up-to-date files are skipped."""
    names = [s.strip() for s in splits.split(",") if s.strip()]
    if not names:
        raise typer.BadParameter("--splits names no split")
    report = run_with_progress(directory, names)
    share = report.found / report.frames if report.frames else 0.0
    console.print(f"prepare-pose {directory}: {len(report.computed)} computed, {len(report.up_to_date)} up to date; "
                  f"a person in {report.found} of {report.frames} frames ({share:.0%}) in {report.seconds:.1f} s",
                  soft_wrap=True)


def run_with_progress(directory: Path, splits) -> object:
    """:func:`internet_cli.clips.prepare_pose.prepare_pose` with a progress bar per video."""
    from internet_cli.cli.progress import progress_bar, task_advancer
    from internet_cli.clips.prepare_pose import prepare_pose as run
    from internet_cli.errors import InputError

    if not Path(directory).is_dir():
        raise InputError(f"{directory}: not a folder")
    with progress_bar() as bar:
        def on_entry(entry, total):
            return task_advancer(bar, f"pose {entry.split}/{entry.name}", total)

        return run(directory, splits=splits, on_entry=on_entry)


def register(app: typer.Typer) -> None:
    app.command("prepare-pose")(prepare_pose)
