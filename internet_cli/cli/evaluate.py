"""`internet evaluate --data DIR`: the self-imitation protocol on DIR/test (docs/evaluation.md)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import typer

from internet_cli.atomic import write_text
from internet_cli.cli.common import DeviceOption, WeightsOption, console, load_weights_or_default, warn


def _write_text(path: Path, text: str) -> None:
    """Write atomically (temporary file beside ``path``, then rename)."""
    from internet_cli.errors import OutputError

    if not path.parent.is_dir():
        raise OutputError(f"output folder does not exist: {path.parent}")
    try:
        write_text(path, text)
    except OSError as exc:
        raise OutputError(f"cannot write {path} ({exc.strerror or exc})") from None


def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Dataset folder: DIR/test/ holds the videos.", show_default=False)],
    weights: WeightsOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON report here.", show_default=False)] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Write a Markdown report here.",
                                                  show_default=False)] = None,
    compare: Annotated[Path | None, typer.Option("--compare", help="Another weights file, scored in the same table.",
                                                 show_default=False)] = None,
    device: DeviceOption = "auto",
    max_frames: Annotated[int | None, typer.Option("--max-frames", min=2, help="Use at most the first N frames "
                                                   "of each video (frame 0 is the source: at least 2).",
                                                   show_default=False)] = None,
    max_videos: Annotated[int | None, typer.Option("--max-videos", min=1, help="Score at most the first N videos.",
                                                   show_default=False)] = None,
    split: Annotated[str, typer.Option("--split", help="Split folder to evaluate.")] = "test",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Frames per model call.")] = 4,
    real: Annotated[bool, typer.Option("--real/--no-real", help="Also score the real video itself (the reference "
                                       "values of the temporal metrics).")] = True,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Frame cache folder. Default: DIR/.cache/frames.",
                                                   show_default=False)] = None,
    pose: Annotated[bool, typer.Option("--pose", help="Also AKD and MKR from MediaPipe Pose landmarks "
                                       "(docs/cropping.md).")] = False,
    nearest_part: Annotated[bool, typer.Option("--nearest-part", help="Also the training-free nearest-part "
                                               "baseline (each person pixel moves with its nearest body part; "
                                               "docs/evaluation.md): the floor of a pose-anchor model.")] = False,
) -> None:
    """Self-imitation: reconstruct every test video from its first frame and score it.

    Metrics: L1, PSNR, SSIM, MS-SSIM per frame; Interp-PSNR (DIS midpoint) and warping error for
    temporal consistency. Baselines: copy source (and the real video as reference). LPIPS, FID and
    Act-Recog-L1 need pretrained networks that are not available offline: reported as null.
    """
    from rich.markup import escape

    from internet_cli.checkpoint import DEFAULT_WEIGHTS
    from internet_cli.cli.progress import progress_bar, task_advancer
    from internet_cli.devices import configure_torch_threads, select_device
    from internet_cli.eval.evaluate import EvalOptions, evaluate as run
    from internet_cli.eval.report import to_markdown
    from internet_cli.paths import check_apart

    check_apart([("--out report", out), ("--markdown report", markdown)],
                [("weights", weights or DEFAULT_WEIGHTS), ("--compare weights", compare)])
    for path in (out, markdown):  # before hours of work, not after
        _check_report_path(path)
    torch_device = select_device(device)
    threads = configure_torch_threads()
    methods, size = _methods(weights, compare, torch_device, nearest_part, real)
    opts = EvalOptions(split=split, max_frames=max_frames, max_videos=max_videos, batch_size=batch_size,
                       cache_dir=cache_dir, pose=pose)
    console.print(f"evaluate {data}/{split} at {size}x{size}: torch on {torch_device} ({threads} threads); "
                  f"methods: {', '.join(m.label for m in methods)}", soft_wrap=True)

    with progress_bar(elapsed=True) as bar:
        def on_video(entry, frames):
            return task_advancer(bar, escape(entry.name), frames)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = run(data, methods, size, opts, on_video=on_video)
    for w in caught:
        warn(escape(str(w.message)))
    _print_report(report, data, split, methods, pose)
    if out is not None:
        _write_text(out, json.dumps(report, indent=2, allow_nan=False) + "\n")
        console.print(f"wrote {out}")
    if markdown is not None:
        _write_text(markdown, to_markdown(report))
        console.print(f"wrote {markdown}")


def _check_report_path(path: Path | None) -> None:
    from internet_cli.errors import OutputError

    if path is not None and not path.parent.is_dir():
        raise OutputError(f"output folder does not exist: {path.parent}")
    if path is not None and path.is_dir():
        raise OutputError(f"{path} is a folder, not a file")


def _methods(weights: Path | None, compare: Path | None, torch_device, nearest_part: bool, real: bool):
    """The methods in the table (the weights, ``--compare``, the baselines) and the frame size."""
    from internet_cli.eval.evaluate import CopySource, ModelMethod, RealFrames
    from internet_cli.runtime.animator import TorchAnimator

    primary = load_weights_or_default(weights)
    size = primary.config.image_size

    def model_method(key: str, w, path: Path | None) -> ModelMethod:
        label = path.name if path is not None else "bundled weights"
        info = {"weights": str(path) if path is not None else "bundled", "config": w.config.name,
                "trained": w.trained}
        return ModelMethod(key, label, TorchAnimator(w, torch_device), relative=True, info=info)

    methods = [model_method("model", primary, weights)]
    if compare is not None:
        other = load_weights_or_default(compare)
        m = model_method("compare", other, compare)
        if m.label == methods[0].label:
            m.label = f"{compare.name} (compare)"
        if other.config.image_size != size:
            warn(f"{compare.name} works at {other.config.image_size} px: frames are resized to it and its outputs "
                 f"back to {size} px")
        methods.append(m)
    methods.append(CopySource())
    if nearest_part:
        from internet_cli.runtime.nearest_part import NearestPartAnimator

        methods.append(ModelMethod("nearest-part", "nearest part", NearestPartAnimator(size),
                                   info={"kind_detail": "training-free baseline"}))
        methods[-1].kind = "baseline"
    if real:
        methods.append(RealFrames())
    return methods, size


def _print_report(report: dict, data: Path, split: str, methods, pose: bool) -> None:
    """The overall table on stdout (progress and messages go to stderr), then a summary line."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from internet_cli.eval.evaluate import METRICS
    from internet_cli.eval.metrics import INTERP_NAME
    from internet_cli.eval.report import table_header, table_rows

    table = Table(box=box.SIMPLE_HEAD, title=f"self-imitation on {escape(str(data))}/{split}: {len(report['videos'])} video(s), "
                        f"{report['overall'][methods[0].key]['frames']} frames (frame-weighted means)")
    table.caption = (f"* {INTERP_NAME} (the paper used Super SloMo), against the real frame t; "
                     "Warp: warping error under the real video's flow")
    rows = table_rows(report, report["overall"])
    for i, h in enumerate(table_header(narrow=True)):
        if i == 0:  # the method label folds when the terminal is narrow; numbers are never cut
            table.add_column(h, overflow="fold", min_width=8)
        else:
            table.add_column(h, justify="right", no_wrap=True, min_width=max(len(r[i]) for r in rows))
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    stdout = Console(highlight=False)
    if not stdout.is_terminal:  # wide enough that nothing is folded
        stdout = Console(highlight=False, width=160)
    stdout.print(table)
    console.print("not computed (no pretrained backbones offline): " + ", ".join(report["unavailable"]) +
                  f"; MS-SSIM on {report['protocol']['ms_ssim_scales']} scale(s); {len(METRICS)} metrics in "
                  f"{report['seconds']:.1f} s", soft_wrap=True)
    if pose:  # AKD / MKR (internet_cli/eval/pose.py)
        for m in methods:
            vals = report["overall"][m.key]
            fmt = {k: ("n/a" if vals.get(k) is None else f"{vals[k]:.{n}f}") for k, n in (("akd", 2), ("mkr", 3))}
            console.print(f"pose {escape(m.label)}: AKD {fmt['akd']} px, MKR {fmt['mkr']}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
