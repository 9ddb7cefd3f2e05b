"""``internet animate --jobs jobs.csv --out-dir DIR``: many (source, driving) pairs in one process.

The jobs file is a CSV with a header row: ``source``, ``driving`` and an optional ``output``
column (header names are case-insensitive; blank rows are skipped; a UTF-8 BOM is fine).
Relative ``source``/``driving`` paths are taken from the CSV file's folder; a relative ``output``
is taken from ``--out-dir``; an empty or missing ``output`` is ``<source stem>__<driving stem>.mp4``
in ``--out-dir``; a given ``output`` ends in .mp4, .mov, .mkv or .webm (the format it is written
in). Two rows that would write the same file, and a row whose output would replace any row's
source or driving, the jobs file or the weights, are refused up front, before any pair starts.

How a batch runs:

- ``shard(jobs, i, n)`` keeps every n-th row starting at row i (0-based, CSV order), so an array
  of n cluster tasks splits one jobs file without overlaps or gaps.
- Rows are grouped by source (first appearance order); each source photo is loaded and encoded
  once for all its driving videos (the model's per-source state is reused).
- Completion marker: when an output has been renamed into place, a small JSON file
  ``.<output name>.done`` is written atomically beside it. It records the output's size and
  mtime, the inputs' sizes and mtimes and the settings (``fingerprint``). A row counts as done,
  and is skipped, only when the output exists and its marker matches all of that; otherwise the
  row is (re)made and the output replaced. So rerunning the same command after an interruption
  resumes where it stopped: a half-written output never exists (the writer renames atomically),
  and an output renamed just before a kill but without its marker is simply made again.
  ``force=True`` (``--overwrite``) remakes every row.
- A row that fails (bad input, unwritable output, anything but Ctrl-C) is reported and the
  batch goes on; the result lists every row's status.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from internet_cli.atomic import write_text
from internet_cli.errors import InputError, InternetError, OutputError
from internet_cli.paths import check_apart
from internet_cli.runtime.pipeline import AnimateOptions, AnimateResult, Job, run
from internet_cli.video.image import load_image, to_square
from internet_cli.video.reader import probe_video
from internet_cli.video.writer import check_output_path, video_format

MARKER_SUFFIX = ".done"


@dataclass(frozen=True)
class PairJob:
    """One CSV row: animate ``source`` with ``driving`` into ``output`` (all absolute)."""

    row: int  # 1-based data row number in the CSV (the header is row 0)
    source: Path
    driving: Path
    output: Path


@dataclass
class PairResult:
    job: PairJob
    status: str  # "done", "skipped" (already complete) or "failed"
    message: str = ""
    frames: int = 0
    seconds: float = 0.0


@dataclass
class BatchResult:
    results: list[PairResult] = field(default_factory=list)
    sources_encoded: int = 0
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> int:
        return self.count("failed")


# ---- the jobs file --------------------------------------------------------------------------
def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``; ValueError with a clear message otherwise."""
    head, sep, tail = str(text).strip().partition("/")
    try:
        if not sep:
            raise ValueError
        i, n = int(head), int(tail)
    except ValueError:
        raise ValueError(f"--shard takes I/N (two integers, e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {text}: need N >= 1 and 0 <= I < N (I is 0-based)")
    return i, n


def shard(jobs: list[PairJob], index: int, count: int) -> list[PairJob]:
    """Every ``count``-th job starting at ``index`` (0-based): a deterministic, disjoint split."""
    return jobs[index::count]


def default_output_name(source: Path, driving: Path) -> str:
    return f"{source.stem}__{driving.stem}.mp4"


def read_jobs(csv_path: str | os.PathLike, out_dir: str | os.PathLike,
              weights: str | os.PathLike | None = None) -> list[PairJob]:
    """Read and check the jobs file; InputError (one line naming the file and row) when it is unusable.

    Checked here, for every row before any pair starts: the file's structure (readable CSV, the
    columns, empty cells, duplicate outputs), each output's name (``video_format``), and that no
    row's output (nor its ``.done`` marker) replaces any row's source or driving, the jobs file
    or ``weights`` (:func:`check_batch_paths`). Whether each source and driving file is usable is
    found out per row while the batch runs, so one bad file costs only its rows.
    """
    path = Path(csv_path).expanduser()
    base = path.resolve().parent
    out_base = Path(out_dir).expanduser().resolve()
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise InputError(f"{path}: jobs file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a jobs CSV file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text CSV file") from None
    except (OSError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read the jobs file ({getattr(exc, 'strerror', None) or exc})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise InputError(f"{path}: the jobs file is empty (need a header row: source,driving[,output])")
    header = [h.strip().lower() for h in rows[0]]
    for name in ("source", "driving"):
        if name not in header:
            raise InputError(f"{path}: no '{name}' column in the header {rows[0]} (need source,driving[,output])")
    col = {name: header.index(name) for name in ("source", "driving", "output") if name in header}
    jobs: list[PairJob] = []
    seen: dict[Path, int] = {}
    for number, row in enumerate(rows[1:], start=1):
        cells = {k: (row[i].strip() if i < len(row) else "") for k, i in col.items()}
        for name in ("source", "driving"):
            if not cells[name]:
                raise InputError(f"{path}: row {number} has no {name}")
        source = _resolve(cells["source"], base)
        driving = _resolve(cells["driving"], base)
        out = cells.get("output") or default_output_name(source, driving)
        output = _resolve(out, out_base)
        if output in seen:
            raise InputError(f"{path}: rows {seen[output]} and {number} both write {output}; "
                             "give them different 'output' names")
        seen[output] = number
        jobs.append(PairJob(number, source, driving, output))
    if not jobs:
        raise InputError(f"{path}: the jobs file has a header but no rows")
    check_batch_paths(jobs, [("jobs file", path), ("weights", weights)])
    for job in jobs:
        try:
            video_format(job.output)
        except OutputError as exc:
            raise InputError(f"{path}: row {job.row}: {exc}") from None
    return jobs


def check_batch_paths(jobs: list[PairJob], inputs: list = ()) -> None:
    """No output of any row (nor its ``.done`` marker) may replace any row's source or driving, nor
    one of ``inputs`` (``(role, path)`` pairs: the jobs file, the weights); OutputError naming both."""
    outputs = [(f"output of row {j.row}", j.output) for j in jobs]
    outputs += [(f"completion marker of row {j.row}", marker_path(j.output)) for j in jobs]
    sources = [(f"source photo of row {j.row}", j.source) for j in jobs]
    drivings = [(f"driving video of row {j.row}", j.driving) for j in jobs]
    check_apart(outputs, [*sources, *drivings, *inputs])


def _resolve(text: str, base: Path) -> Path:
    p = Path(text).expanduser()
    return Path(os.path.abspath(p if p.is_absolute() else base / p))


def group_by_source(jobs: list[PairJob]) -> list[list[PairJob]]:
    """Jobs grouped by source file, groups in order of first appearance, rows in CSV order."""
    groups: dict[Path, list[PairJob]] = {}
    for job in jobs:
        groups.setdefault(job.source, []).append(job)
    return list(groups.values())


# ---- completion markers -------------------------------------------------------------------
def marker_path(output: Path) -> Path:
    return output.with_name(f".{output.name}{MARKER_SUFFIX}")


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _marker_record(job: PairJob, fingerprint: dict, frames: int | None) -> dict:
    return {
        "output": _stat(job.output),
        "source": [str(job.source), _stat(job.source)],
        "driving": [str(job.driving), _stat(job.driving)],
        "settings": fingerprint,
        "frames": frames,
    }


def is_complete(job: PairJob, fingerprint: dict) -> bool:
    """True when ``job.output`` exists and its marker says it was made from these inputs and settings."""
    marker = marker_path(job.output)
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or _stat(job.output) is None:
        return False
    expected = _marker_record(job, fingerprint, record.get("frames"))
    return json.loads(json.dumps(expected)) == record


def write_marker(job: PairJob, fingerprint: dict, frames: int) -> Path:
    """Write the completion marker atomically (temporary file, then rename)."""
    marker = marker_path(job.output)
    data = json.dumps(_marker_record(job, fingerprint, frames), sort_keys=True)
    write_text(marker, data)
    return marker


def _remove_marker(output: Path) -> None:
    try:
        marker_path(output).unlink()
    except FileNotFoundError:
        pass


# ---- running --------------------------------------------------------------------------------
class BatchAborted(InternetError):
    """A problem that concerns every pair (the model cannot be loaded): the batch stops."""


class LazyAnimator:
    """Builds the real animator (``factory()``) on first use: a batch with nothing left to do loads no model."""

    def __init__(self, factory: Callable[[], object]):
        self._factory = factory
        self._animator = None

    @property
    def loaded(self) -> bool:
        return self._animator is not None

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if self._animator is None:
            try:
                self._animator = self._factory()
            except Exception as exc:  # noqa: BLE001 - every pair would fail the same way
                raise BatchAborted(_one_line(exc)) from exc
        return getattr(self._animator, name)


class _SharedSource:
    """The animator, with ``encode_source`` computed once per source image object and then reused."""

    def __init__(self, animator):
        self._animator = animator
        self._image = None
        self._state = None
        self.encodes = 0

    def __getattr__(self, name):
        return getattr(self._animator, name)

    def encode_source(self, image, *anchors):
        """``anchors``: pose mode's source anchors, found from the same image (so the same too)."""
        if self._image is not image:
            self._state = self._animator.encode_source(image, *anchors)
            self._image = image  # holding the array keeps its identity unique
            self.encodes += 1
        return self._state


def run_batch(
    jobs: list[PairJob],
    animator,
    opts: AnimateOptions,
    fingerprint: dict | None = None,
    force: bool = False,
    on_result: Callable[[PairResult], None] | None = None,
    on_frames: Callable[[int], None] | None = None,
    on_start: Callable[[PairJob], None] | None = None,
) -> BatchResult:
    """Run ``jobs`` (already sharded) with one ``animator``; see the module docstring.

    ``fingerprint``: settings that change the output (weights, options); a marker made with
    other settings does not count as complete. ``on_result`` is called once per row, in the
    order the rows are processed (grouped by source). KeyboardInterrupt stops the batch.
    """
    fingerprint = dict(fingerprint or {})
    fingerprint.setdefault("options", _options_fingerprint(opts))
    run_opts = dataclasses.replace(opts, overwrite=True)  # what to keep was decided here
    shared = _SharedSource(animator)
    batch = BatchResult()
    t0 = time.perf_counter()

    def report(result: PairResult) -> None:
        batch.results.append(result)
        if on_result:
            on_result(result)

    for group in group_by_source(jobs):
        source = _SourceOnce(group[0].source)
        for job in group:
            if not force and is_complete(job, fingerprint):
                report(PairResult(job, "skipped", "already complete"))
                continue
            if on_start:
                on_start(job)
            t = time.perf_counter()
            try:
                result = _make_pair(job, source, shared, opts, run_opts, fingerprint, on_frames)
            except (KeyboardInterrupt, BatchAborted):
                raise
            except Exception as exc:  # noqa: BLE001 - one failing pair must not stop the batch
                report(PairResult(job, "failed", _one_line(exc), seconds=time.perf_counter() - t))
                continue
            notes = (getattr(source.framing, "note", None), result.hidden_note, result.no_person_note)
            report(PairResult(job, "done", "; ".join(n for n in notes if n), result.frames, time.perf_counter() - t))
    batch.sources_encoded = shared.encodes
    batch.seconds = time.perf_counter() - t0
    return batch


@dataclass
class _SourceOnce:
    """What the rows of one source share: its framed image and landmarks, found once (or the
    error reading it gave, then repeated for each of its rows)."""

    path: Path
    image: object = None
    framing: object = None
    landmarks: object = None
    error: str | None = None

    def framed(self, size: int, opts: AnimateOptions):
        """The source image and a fresh copy of its framing for one pair."""
        if self.error is not None:
            raise InputError(self.error)
        if self.image is None:
            try:
                self.image, self.framing = _frame_source(self.path, size, opts)
            except InternetError as exc:
                self.error = str(exc)
                raise
        return self.image, _fresh(self.framing)


def _make_pair(job: PairJob, source: _SourceOnce, shared, opts: AnimateOptions, run_opts: AnimateOptions,
               fingerprint: dict, on_frames) -> AnimateResult:
    """One row: its output written, then marked complete; returns its ``AnimateResult``."""
    image, framing = source.framed(shared.size, opts)
    _remove_marker(job.output)
    job.output.parent.mkdir(parents=True, exist_ok=True)
    out = check_output_path(job.output, overwrite=True)
    prepared = Job(image, probe_video(job.driving), out, framing, source.landmarks, str(job.source))
    result = run(prepared, shared, run_opts, on_frames=on_frames)
    source.landmarks = prepared.source_landmarks  # pose mode: found once per source
    write_marker(job, fingerprint, result.frames)
    return result


def _frame_source(path: Path, size: int, opts: AnimateOptions):
    """The source framed as ``animate`` frames it (``--crop``), once per source: ``(image, framing)``."""
    photo = load_image(path)
    crop = getattr(opts, "crop", "none")
    if crop == "none":
        return to_square(photo, size), None
    from internet_cli.runtime.framing import frame_source

    return frame_source(photo, size, crop, name=str(path))


def _fresh(framing):
    """A per-pair copy of the source's framing (runs write per-driving fields into it)."""
    if framing is None:
        return None
    return type(framing)(active=framing.active, source_landmarks=framing.source_landmarks, note=framing.note)


def _options_fingerprint(opts: AnimateOptions) -> dict:
    d = dataclasses.asdict(opts)
    d.pop("overwrite", None)
    d.pop("batch_size", None)  # does not change the output
    return d


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    if isinstance(exc, InternetError):
        return line or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}{f': {exc.filename}' if exc.filename else ''}"
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
