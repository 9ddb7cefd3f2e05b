"""`internet animate SOURCE DRIVING -o OUT.mp4`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from internet_cli.cli.common import DeviceOption, WeightsOption, console, warn


def animate(
    source: Annotated[Path | None, typer.Argument(help="Photo of the person (JPEG, PNG, WebP, ...).", show_default=False)] = None,
    driving: Annotated[Path | None, typer.Argument(help="Driving video (MP4, MOV, AVI, WebM, ...), or a .pose.npz "
                                                   "motion template (--save-pose; pose-anchor models).",
                                                   show_default=False)] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output video, 512x512: .mp4, .mov or .mkv "
                                                "(H.264), .webm (VP9, Opus audio).", show_default=False)] = None,
    weights: WeightsOption = None,
    device: DeviceOption = "auto",
    backend: Annotated[str, typer.Option("--backend", help="auto (TensorRT, else onnxruntime on CUDA, else PyTorch "
                                         "on CUDA, else onnxruntime on CPU), torch, onnx or tensorrt. -w may be a "
                                         "folder from `internet export --onnx`.",
                                         envvar="INTERNET_BACKEND")] = "auto",
    relative: Annotated[bool, typer.Option("--relative/--absolute",
                                           help="Relative: apply the driving motion since its first frame to the "
                                                "source pose (FOMM). Absolute: copy the driving pose.")] = True,
    retarget: Annotated[bool, typer.Option("--retarget/--no-retarget",
                                           help="Pose-anchor models, with --relative: put the driving bones' "
                                                "directions on the source's own bone lengths (the default); "
                                                "--no-retarget: FOMM's relative motion on the anchors.")] = True,
    save_pose: Annotated[Path | None, typer.Option("--save-pose", help="Pose-anchor models: also write the driving "
                                                   "video's smoothed landmarks to this .pose.npz, to drive other "
                                                   "photos with later (a motion template).", show_default=False)] = None,
    adapt_scale: Annotated[bool, typer.Option("--adapt-scale", help="Scale the driving motion to the source body size.")] = False,
    crop: Annotated[str, typer.Option("--crop", help="auto: crop source and driving frames around the person "
                                      "(pose tracking, docs/cropping.md); none: whole frames.")] = "auto",
    find_best_frame: Annotated[bool, typer.Option("--find-best-frame", help="Start the relative motion from the "
                                                  "driving frame whose pose is closest to the source's (--crop auto).")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Driving frames per model call.")] = 1,
    crf: Annotated[int, typer.Option("--crf", min=0, max=51, help="Quality, lower is better (libx264's CRF; "
                                     "libvpx-vp9's for .webm).")] = 18,
    start: Annotated[float | None, typer.Option("--start", min=0.0, help="Start time in the driving video (s).")] = None,
    end: Annotated[float | None, typer.Option("--end", min=0.0, help="End time in the driving video (s).")] = None,
    max_frames: Annotated[int | None, typer.Option("--max-frames", min=1, help="Stop after this many frames.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT if it exists.")] = False,
    side_by_side: Annotated[bool, typer.Option("--side-by-side", help="Write source | driving | output.")] = False,
    audio: Annotated[bool, typer.Option("--audio/--no-audio", help="Carry the driving video's audio over.")] = True,
    jobs: Annotated[Path | None, typer.Option("--jobs", help="Batch: CSV with source,driving[,output] columns.", show_default=False)] = None,
    out_dir: Annotated[Path | None, typer.Option("--out-dir", help="Batch: folder for the outputs.", show_default=False)] = None,
    shard: Annotated[str | None, typer.Option("--shard", help="Batch: run rows I, I+N, ... (I/N, 0-based).", show_default=False)] = None,
) -> None:
    """Animate the person in SOURCE with the motion of DRIVING and write a 512x512 video (.mp4, .mov,
    .mkv: H.264; .webm: VP9 + Opus)."""
    from internet_cli.runtime.pipeline import AnimateOptions

    if start is not None and end is not None and end <= start:
        raise typer.BadParameter(f"--end ({end}) must be after --start ({start})")
    if crop not in ("auto", "none"):
        raise typer.BadParameter(f"--crop must be auto or none, got {crop!r}")
    opts = AnimateOptions(relative=relative, adapt_scale=adapt_scale, batch_size=batch_size, crf=crf, start=start,
                          end=end, max_frames=max_frames, overwrite=overwrite, side_by_side=side_by_side, audio=audio,
                          crop=crop, find_best_frame=find_best_frame, retarget=retarget,
                          save_pose=save_pose)
    if save_pose is not None and not save_pose.name.lower().endswith(".pose.npz"):
        raise typer.BadParameter(f"--save-pose must name a .pose.npz file, got {save_pose}")
    if jobs is not None or out_dir is not None or shard is not None:  # batch mode: internet_cli/runtime/batch.py
        if save_pose is not None:
            raise typer.BadParameter("--save-pose takes one driving video, not a batch")
        from internet_cli.cli.animate_batch import animate_batch

        return animate_batch(jobs, out_dir, shard, {"SOURCE": source, "DRIVING": driving, "-o": output}, weights,
                             device, opts, backend=backend)
    if source is None or driving is None or output is None:
        raise typer.BadParameter("give SOURCE DRIVING -o OUT.mp4 (or --jobs jobs.csv --out-dir DIR for a batch)")
    try:
        result, job = _animate_one(source, driving, output, weights, device, backend, opts)
    except KeyboardInterrupt:  # the writer has removed its temporary file: nothing at OUT
        print("internet: interrupted: nothing written", file=sys.stderr)
        raise typer.Exit(130) from None
    if job.framing is not None and job.framing.active:  # --crop auto: what the pose pass decided
        from internet_cli.runtime.framing import describe_framing

        console.print(describe_framing(job.framing, opts))
    per = max(result.frames, 1)
    console.print(f"wrote {result.output} ({result.frames} frames, {result.size[0]}x{result.size[1]}, "
                  f"{float(result.fps):.3g} fps{', audio' if result.audio else ''}) in {result.seconds:.1f} s: "
                  f"{result.seconds / per:.3f} s/frame, model {result.model_seconds / per:.3f} s/frame")
    if result.hidden_note:
        console.print(f"source: {result.hidden_note}", soft_wrap=True)
    if result.no_person_note:
        warn(f"{driving}: {result.no_person_note}")


def _animate_one(source: Path, driving: Path, output: Path, weights: Path | None, device: str, backend: str, opts):
    """One job: paths checked before any model work, then the model, the pipeline and a progress bar.
    Returns ``(AnimateResult, Job)``."""
    from internet_cli.checkpoint import DEFAULT_WEIGHTS
    from internet_cli.cli.progress import progress_bar
    from internet_cli.devices import configure_torch_threads
    from internet_cli.runtime.backends import check_choice, describe, open_animator, resolve_model
    from internet_cli.runtime.pipeline import check_paths, prepare, run

    check_choice(backend, device)
    check_paths(source, driving, output, opts, weights or DEFAULT_WEIGHTS)
    model = resolve_model(weights, warn=warn)
    job = prepare(source, driving, output, model.config.image_size, opts)
    if job.framing is not None and job.framing.note:
        warn(job.framing.note)
    threads = configure_torch_threads()
    animator = open_animator(model, backend, device, log=console.print, batch_size=opts.batch_size)
    console.print(f"backend: {describe(animator)} ({threads} threads); model {model.config.name}; "
                  f"driving {job.driving.width}x{job.driving.height} @ {float(job.driving.fps):.3g} fps")
    with progress_bar("animate", "{task.fields[fps]} fps", elapsed=True, transient=False) as progress:
        task = progress.add_task("animate", total=job.expected_frames(opts), fps="-")

        def advance(n: int) -> None:
            progress.advance(task, n)
            elapsed = progress.tasks[0].elapsed or 0.0
            done = progress.tasks[0].completed
            progress.update(task, fps=f"{done / elapsed:.2f}" if elapsed > 0 else "-")

        return run(job, animator, opts, on_frames=advance), job


def register(app: typer.Typer) -> None:
    app.command("animate")(animate)
