"""The batch mode of ``internet animate`` (``--jobs jobs.csv --out-dir DIR [--shard I/N]``).

All the logic is in :mod:`internet_cli.runtime.batch`; this module only checks the options,
builds the animator and prints progress, one line per failing pair and the summary table.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

import typer

from internet_cli.cli.common import console

SUMMARY_ROWS = 40
"""Above this many rows the summary table lists only the failures (the totals are always shown)."""


def animate_batch(
    jobs: Path | None,
    out_dir: Path | None,
    shard_text: str | None,
    single: dict,
    weights: Path | None,
    device: str,
    opts,
    backend: str = "torch",
) -> None:
    """Run a jobs file. ``single``: the SOURCE/DRIVING/-o values, which must not be given here."""
    from internet_cli.checkpoint import DEFAULT_WEIGHTS
    from internet_cli.cli.common import warn
    from internet_cli.devices import configure_torch_threads
    from internet_cli.errors import OutputError
    from internet_cli.runtime.backends import check_choice, describe, open_animator, resolve_model
    from internet_cli.runtime.batch import LazyAnimator, read_jobs, run_batch, shard

    index, count = _check_options(jobs, out_dir, shard_text, single)
    check_choice(backend, device)
    all_jobs = read_jobs(jobs, out_dir, weights or DEFAULT_WEIGHTS)  # every row's paths, before any pair
    mine = shard(all_jobs, index, count)
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create the output folder ({exc.strerror or exc})") from None
    part = f" (shard {index}/{count}: {len(mine)} of {len(all_jobs)} rows)" if count > 1 else ""
    console.print(f"batch: {len(mine)} pairs{part}", soft_wrap=True)

    def make_animator():  # only when some pair is left to make
        model = resolve_model(weights, warn=warn)
        threads = configure_torch_threads()
        animator = open_animator(model, backend, device, log=console.print, batch_size=opts.batch_size)
        console.print(f"backend: {describe(animator)} ({threads} threads); model {model.config.name}")
        return animator

    done = [0]

    def on_result(r) -> None:
        done[0] += 1
        _print_result(r, f"[{done[0]}/{len(mine)}] row {r.job.row}")

    try:
        with _sigterm_as_interrupt():  # pre-emption: like Ctrl-C, the pair in flight leaves no temporary file
            result = run_batch(mine, LazyAnimator(make_animator), opts, fingerprint=_fingerprint(weights),
                               force=opts.overwrite, on_result=on_result)
    except KeyboardInterrupt:
        print("internet: interrupted: finished outputs are kept, the pair in flight was not written; "
              "run the same command again to resume", file=sys.stderr)
        raise typer.Exit(130) from None
    _print_summary(result)
    if result.failed:
        raise typer.Exit(1)


def _check_options(jobs: Path | None, out_dir: Path | None, shard_text: str | None, single: dict) -> tuple[int, int]:
    """One clear line for options that do not belong together; returns the shard ``(index, count)``."""
    from internet_cli.runtime.batch import parse_shard

    given = [name for name, value in single.items() if value is not None]
    if jobs is None:
        raise typer.BadParameter("--out-dir and --shard belong to batch mode: add --jobs jobs.csv")
    if given:
        raise typer.BadParameter(f"--jobs runs the pairs of the CSV file: do not also give {', '.join(given)}")
    if out_dir is None:
        raise typer.BadParameter("--jobs needs --out-dir DIR (where the outputs go)")
    if shard_text is None:
        return 0, 1
    try:
        return parse_shard(shard_text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _fingerprint(weights: Path | None) -> dict:
    """What the outputs were made with: retrained weights at the same path make them again."""
    weights_path = Path(weights).resolve() if weights is not None else None
    stamp = weights_path / "export.json" if weights_path is not None and weights_path.is_dir() else weights_path
    weights_id = [str(weights_path), stamp.stat().st_size, stamp.stat().st_mtime_ns] \
        if stamp is not None and stamp.is_file() else str(weights_path or "default")
    return {"weights": weights_id}


def _print_result(r, head: str) -> None:
    if r.status == "failed":
        console.print(f"[bold red]failed[/] {head}: {r.job.source.name} + {r.job.driving.name}: {r.message}",
                      markup=True, soft_wrap=True)
    elif r.status == "skipped":
        console.print(f"skipped {head}: {r.job.output.name} (already complete)", soft_wrap=True)
    else:
        note = f": {r.message}" if r.message else ""  # the row's notes (runtime/batch.py)
        console.print(f"done {head}: {r.job.output.name} ({r.frames} frames, {r.seconds:.1f} s){note}", soft_wrap=True)


def _print_summary(result) -> None:
    """The summary table (only the failures above ``SUMMARY_ROWS`` rows) and the totals."""
    from rich.table import Table

    table = Table(title="internet animate --jobs: summary", title_justify="left")
    for name, kw in (("row", {"justify": "right"}), ("source", {}), ("driving", {}), ("output", {}),
                     ("status", {}), ("frames", {"justify": "right"}), ("seconds", {"justify": "right"}),
                     ("message", {"overflow": "fold"})):
        table.add_column(name, **kw)
    rows = result.results if len(result.results) <= SUMMARY_ROWS else [r for r in result.results
                                                                      if r.status == "failed"]
    style = {"failed": "red", "skipped": "dim", "done": "green"}
    for r in sorted(rows, key=lambda r: r.job.row):
        table.add_row(str(r.job.row), r.job.source.name, r.job.driving.name, r.job.output.name,
                      f"[{style[r.status]}]{r.status}[/]", str(r.frames) if r.frames else "-",
                      f"{r.seconds:.1f}" if r.status != "skipped" else "-", r.message)
    if rows:
        console.print(table)
    console.print(f"batch: {result.count('done')} done, {result.count('skipped')} skipped (already complete), "
                  f"{result.failed} failed; {result.sources_encoded} source(s) encoded; {result.seconds:.1f} s")


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM raises KeyboardInterrupt in the main thread (exit 130, outputs finished so far kept)."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
