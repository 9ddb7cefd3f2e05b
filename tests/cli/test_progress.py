"""The commands' progress bars (cli/progress.py): `internet train`'s live bar on a terminal, log lines elsewhere."""

from __future__ import annotations

import io

from rich.console import Console

from internet_cli.cli import progress

LOGS = {"total": 1.5, "perceptual": 1.25, "warp": 0.125, "grad_norm": 3.0, "sec_per_step": 0.5}


def _console(monkeypatch, terminal: bool) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=out, force_terminal=terminal, width=160,
                                                     color_system=None, highlight=False))
    return out


def test_train_shows_a_live_bar_on_a_terminal(monkeypatch):
    out = _console(monkeypatch, terminal=True)
    with progress.train_progress(total=10, start=2) as on_log:
        on_log(5, 10, LOGS)
    text = out.getvalue()
    assert "train" in text and "5/10" in text and "0.50 s/step" in text
    assert "total 1.5 perceptual 1.25 warp 0.125" in text  # the main losses, in their order
    assert "grad_norm" not in text and "step 5/10" not in text  # no log lines beside the bar


def test_train_writes_log_lines_where_there_is_no_terminal(monkeypatch):
    out = _console(monkeypatch, terminal=False)
    with progress.train_progress(total=10) as on_log:
        on_log(5, 10, LOGS)
        on_log(10, 10, LOGS)
    lines = out.getvalue().splitlines()
    assert lines == ["step 5/10 0.50s/step total=1.5 perceptual=1.25 warp=0.125 grad_norm=3",
                     "step 10/10 0.50s/step total=1.5 perceptual=1.25 warp=0.125 grad_norm=3"]


def test_a_bar_per_entry_advances_its_own_task(monkeypatch):
    _console(monkeypatch, terminal=False)
    with progress.progress_bar(elapsed=True) as bar:
        advance = progress.task_advancer(bar, "video one", 4)
        advance(3)
        assert bar.tasks[0].description == "video one" and bar.tasks[0].completed == 3
