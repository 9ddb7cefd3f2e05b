"""`internet prepare RAW_DIR OUT_DIR`: raw videos -> person-centred training crops (docs/cropping.md)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from internet_cli.cli.common import console, warn


def prepare(
    raw: Annotated[Path, typer.Argument(metavar="RAW_DIR", help="Raw videos / frame folders (optionally in train/ and test/).")],
    out: Annotated[Path, typer.Argument(metavar="OUT_DIR", help="Dataset folder to write (OUT_DIR/train/, OUT_DIR/test/).")],
    size: Annotated[int, typer.Option("--size", help="Side of the square crops.")] = 512,
    test_fraction: Annotated[float, typer.Option("--test-fraction", min=0.0, max=0.95,
                                                 help="Share of videos for test/ when RAW_DIR has no train/ or test/.")] = 0.2,
    max_gap: Annotated[int | None, typer.Option("--max-gap", min=0, help="Frames without a person kept inside a clip "
                                                "(longer gaps split it). Default: one second.", show_default=False)] = None,
    crf: Annotated[int, typer.Option("--crf", min=0, max=51, help="H.264 quality of the crops (lower is better).")] = 15,
    flow: Annotated[bool, typer.Option("--flow", help="Then cache DIS optical flow (as `internet prepare-flow`).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Redo videos whose crops exist.")] = False,
) -> None:
    """Crop every raw video around its person (tracked, smoothed) into the training layout.

    Frames without a person are trimmed; the train/test split of RAW_DIR is kept, or made. Every
    clip gets its MediaPipe landmarks (NAME.pose.npz) for pose-anchor training.
    """
    from rich.markup import escape
    from internet_cli.cli.progress import progress_bar, task_advancer
    from internet_cli.clips.prepare_crops import prepare_crops

    if size < 8 or size % 2:
        raise typer.BadParameter(f"--size must be an even number >= 8, got {size}")
    with progress_bar() as bar:
        def on_entry(split, entry):
            return task_advancer(bar, f"{split}/{entry.name}", entry.num_frames)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = prepare_crops(raw, out, size=size, test_fraction=test_fraction, crf=crf, max_gap=max_gap,
                                   overwrite=overwrite, on_entry=on_entry)
    for w in caught:
        warn(escape(str(w.message)))
    kept = report.frames_out / report.frames_in if report.frames_in else 0.0
    console.print(f"prepare {raw} -> {out} at {size}x{size}: {len(report.written)} clip(s) written, "
                  f"{len(report.existing)} existing, {len(report.skipped)} skipped; {report.frames_out} of "
                  f"{report.frames_in} frames kept ({kept:.0%}) in {report.seconds:.1f} s", soft_wrap=True)
    from internet_cli.cli.prepare_pose import run_with_progress

    poses = run_with_progress(out, ("train", "test"))  # NAME.pose.npz: what pose-anchor training reads
    console.print(f"landmarks: {len(poses.computed)} NAME.pose.npz written ({poses.seconds:.1f} s)")
    if flow:
        from internet_cli.cli.prepare_flow import prepare_flow

        prepare_flow(out, size=size, splits="train,test", preset="fast", cache_dir=None)


def register(app: typer.Typer) -> None:
    app.command("prepare")(prepare)
