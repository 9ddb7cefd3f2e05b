"""`internet synth OUT`: a synthetic dance/fashion dataset with exact ground-truth flow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from internet_cli.cli.common import console


def synth(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Dataset folder to create (OUT/train, OUT/test).")],
    videos: Annotated[int, typer.Option("--videos", "-n", help="Number of videos.")] = 10,
    frames: Annotated[int, typer.Option("--frames", "-t", help="Frames per video.")] = 150,
    size: Annotated[int, typer.Option("--size", help="Frame size in pixels (square; a multiple of 16).")] = 512,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same dataset.")] = 0,
    fps: Annotated[int, typer.Option("--fps", help="Frame rate of the videos.")] = 30,
    test_fraction: Annotated[float, typer.Option("--test-fraction",
                                                 help="Share of the videos that go to OUT/test.")] = 0.2,
    photo_backgrounds: Annotated[float, typer.Option(
        "--photo-backgrounds", help="Share of the videos set on a real photo (scikit-image's, and "
                                    "opencv-doc's when installed) instead of a studio backdrop.")] = 0.0,
    motion: Annotated[str, typer.Option(
        "--motion", help="How the dancers move: periodic (smooth periodic joint angles) or mocap (real motion "
        "capture, DeepMimic's clips from the pybullet wheel: pip install 'internet-cli[train]'; docs/synth.md).")]
    = "periodic",
    overwrite: Annotated[bool, typer.Option("--overwrite",
                                            help="Write into a non-empty OUT (replaces earlier synth_* files).")]
    = False,
) -> None:
    """Render synthetic dancers (MP4 + NAME.gt.npz exact flow, mask, visibility; NAME.pose.npz joints) in the training layout."""
    from internet_cli.errors import OutputError

    if videos < 1:
        raise typer.BadParameter(f"must be >= 1, got {videos}", param_hint="--videos")
    if frames < 2:
        raise typer.BadParameter(f"must be >= 2, got {frames}", param_hint="--frames")
    if size < 32 or size % 16:
        raise typer.BadParameter(f"must be >= 32 and a multiple of 16, got {size}", param_hint="--size")
    if fps < 1:
        raise typer.BadParameter(f"must be >= 1, got {fps}", param_hint="--fps")
    if not 0.0 <= test_fraction < 1.0:
        raise typer.BadParameter(f"must be in [0, 1), got {test_fraction}", param_hint="--test-fraction")
    if not 0.0 <= photo_backgrounds <= 1.0:
        raise typer.BadParameter(f"must be in [0, 1], got {photo_backgrounds}", param_hint="--photo-backgrounds")
    from internet_cli.clips.synth import MOTIONS, photo_folders

    if motion not in MOTIONS:
        raise typer.BadParameter(f"must be one of {', '.join(MOTIONS)}, got {motion!r}", param_hint="--motion")
    if motion == "mocap":
        from internet_cli.clips.mocap import motions_dir

        motions_dir()  # one line naming the install command, before anything is written
    from internet_cli.paths import check_apart

    splits = [(f"{split} folder", out / split) for split in ("train", "test")]  # where the videos go
    check_apart(splits, [("photo folder", f) for f in photo_folders()], kind="folder")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise OutputError(f"{out}: exists and is not empty; use --overwrite or another folder")

    from internet_cli.cli.progress import progress_bar
    from internet_cli.clips.synth import clear_previous, split_counts, write_dataset

    try:
        out.mkdir(parents=True, exist_ok=True)
        if overwrite:
            clear_previous(out)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the dataset folder ({exc.strerror or exc})") from None
    n_train, n_test = split_counts(videos, test_fraction)
    with progress_bar("synth", "frames") as bar:
        task = bar.add_task("synth", total=videos * frames)
        write_dataset(out, videos=videos, frames=frames, size=size, seed=seed, fps=fps,
                      test_fraction=test_fraction, photo_backgrounds=photo_backgrounds, motion=motion, progress=lambda done, total: bar.update(task, completed=done))
    console.print(f"wrote {out}: {n_train} train + {n_test} test videos, {frames} frames of {size}x{size} "
                  f"at {fps} fps (seed {seed}, {motion} motion), with NAME.gt.npz ground truth and NAME.pose.npz joints")


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
