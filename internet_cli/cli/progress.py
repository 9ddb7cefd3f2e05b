"""The one home of the commands' rich progress bars, on the shared stderr console."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from internet_cli.cli.common import console

#: the losses `internet train`'s bar shows, when the run has them (all go to TensorBoard).
TRAIN_BAR_TERMS = ("total", "perceptual", "warp", "temporal", "adversarial")


def progress_bar(label: str | None = None, *fields: str, elapsed: bool = False, transient: bool = True) -> Progress:
    """``[label | each task's description] [bar] done/total [fields...] [elapsed] [eta] remaining``.

    ``label``: one bold name for a single-task bar (``animate``); None shows each task's own
    description (one task per video). ``fields``: extra text columns, e.g. ``"{task.fields[fps]} fps"``.
    """
    columns = [TextColumn(f"[bold]{label}" if label else "{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns += [TextColumn(text) for text in fields]
    if elapsed:
        columns += [TimeElapsedColumn(), TextColumn("eta")]
    columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console, transient=transient)


def task_advancer(bar: Progress, description: str, total: int) -> Callable[[int], None]:
    """Add a task to ``bar``; the returned function advances it by ``n``."""
    task = bar.add_task(description, total=total)
    return lambda n: bar.advance(task, n)


def _log_line(step: int, total: int, logs: dict) -> None:
    terms = " ".join(f"{k}={v:.4g}" for k, v in logs.items() if k not in ("sec_per_step", "skipped_steps_total"))
    console.print(f"step {step}/{total} {logs['sec_per_step']:.2f}s/step {terms}")


@contextmanager
def train_progress(total: int, start: int = 0) -> Iterator[Callable[[int, int, dict], None]]:
    """The trainer's ``on_log``: a live bar (step of total, the main losses, s/step, eta) on a
    terminal; elsewhere (a log file, CI) one line per log step, which a file can keep."""
    if not console.is_terminal:
        yield _log_line
        return
    bar = progress_bar("train", "{task.fields[losses]}", "{task.fields[speed]}", elapsed=True, transient=False)
    with bar:
        task = bar.add_task("train", total=total, completed=start, losses="", speed="")

        def on_log(step: int, total: int, logs: dict) -> None:
            losses = " ".join(f"{k} {logs[k]:.4g}" for k in TRAIN_BAR_TERMS if k in logs)
            bar.update(task, completed=step, total=total, losses=losses, speed=f"{logs['sec_per_step']:.2f} s/step")

        yield on_log
