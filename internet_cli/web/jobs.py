"""The page's jobs, without the page: one model per backend loaded once, limits checked before any
model work, results in a capped temporary folder, and a cancel that leaves no file behind.

Every job runs :func:`internet_cli.runtime.pipeline.run`, the pipeline of ``internet animate``,
so the page's errors are the CLI's. Only files inside the server's own temporary folder are ever
opened (the browser's uploads land there), never a path that the browser names.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from internet_cli.errors import InputError

if TYPE_CHECKING:
    from internet_cli.runtime.pipeline import AnimateResult

MB = 1 << 20


class Cancelled(Exception):
    """The visitor cancelled the job; its output was not written."""


@dataclass(frozen=True)
class Limits:
    upload_mb: float = 200.0
    """Largest upload (each file); refused before any model work."""
    seconds: float = 120.0
    """Longest driving video (its whole duration); refused before any model work."""
    disk_mb: float = 4096.0
    """The folder of uploads and results is pruned, oldest files first, to stay under this."""


@dataclass(frozen=True)
class Request:
    """One job as the page sends it."""

    source: Path
    driving: Path
    crop: str = "auto"
    motion: str = "retarget"  # retarget, relative or absolute
    side_by_side: bool = False
    start: float | None = None
    end: float | None = None
    max_frames: int | None = None
    backend: str = "auto"


def options(req: Request):
    """The :class:`~internet_cli.runtime.pipeline.AnimateOptions` of a request (as ``internet animate``'s)."""
    from internet_cli.runtime.pipeline import AnimateOptions

    if req.crop not in ("auto", "none"):
        raise InputError(f"crop must be auto or none, got {req.crop!r}")
    if req.motion not in ("retarget", "relative", "absolute"):
        raise InputError(f"motion must be retarget, relative or absolute, got {req.motion!r}")
    if req.start is not None and req.end is not None and req.end <= req.start:
        raise InputError(f"end ({req.end:g} s) must be after start ({req.start:g} s)")
    for name, value in (("start", req.start), ("end", req.end)):
        if value is not None and value < 0:
            raise InputError(f"{name} must be 0 s or later, got {value:g}")
    if req.max_frames is not None and req.max_frames < 1:
        raise InputError(f"max frames must be at least 1, got {req.max_frames}")
    return AnimateOptions(relative=req.motion != "absolute", retarget=req.motion == "retarget", crop=req.crop,
                          side_by_side=req.side_by_side, start=req.start, end=req.end, max_frames=req.max_frames)


class Studio:
    """Runs the page's jobs one at a time with one loaded model (per backend)."""

    def __init__(self, weights: Path | None, folder: Path, limits: Limits = Limits(), device: str = "auto",
                 log: Callable[[str], None] = print):
        from internet_cli.runtime.backends import resolve_model

        self.model = resolve_model(weights, warn=lambda m: log(f"warning: {m}"))  # a bad -w fails before serving
        self.folder = Path(folder).resolve()
        self.results = self.folder / "results"
        self.results.mkdir(parents=True, exist_ok=True)
        self.limits, self.device, self.log = limits, device, log
        self._animators: dict[str, object] = {}
        self._one_job = threading.Lock()
        self._cancel: dict[str, threading.Event] = {}
        self._ids = itertools.count(1)

    @property
    def pose_mode(self) -> bool:
        return self.model.config.motion.anchors == "pose"

    def animator(self, backend: str):
        """The animator of ``backend``, opened on first use and kept."""
        from internet_cli.runtime.backends import check_choice, open_animator

        if backend not in self._animators:
            check_choice(backend, self.device)
            self._animators[backend] = open_animator(self.model, backend, self.device, log=self.log)
        return self._animators[backend]

    def upload(self, path: str | Path | None, what: str) -> Path:
        """An uploaded file, checked: inside this server's folder and under the size limit."""
        if not path:
            raise InputError(f"no {what}: upload one (or pick an example)")
        p = Path(path).resolve()
        if not p.is_relative_to(self.folder) or not p.is_file():
            raise InputError(f"{what}: not a file uploaded to this page")
        size = p.stat().st_size
        if size > self.limits.upload_mb * MB:
            raise InputError(f"{what}: {size / MB:.1f} MB is over this page's limit of {self.limits.upload_mb:g} MB")
        return p

    def check_duration(self, driving: Path) -> None:
        from internet_cli.video.reader import probe_video

        info = probe_video(driving)
        seconds = info.duration or (info.frame_count or 0) / float(info.fps)
        if seconds > self.limits.seconds:
            raise InputError(f"driving video: {seconds:.1f} s is over this page's limit of {self.limits.seconds:g} s")

    def public(self, message: str) -> str:
        """``message`` with this server's folder left out of the paths in it (a file shows as its name)."""
        return re.sub(re.escape(str(self.folder)) + r"/(?:\S*/)?", "", message)

    def cancel(self, session: str) -> bool:
        """Cancel ``session``'s running job; True when there was one."""
        event = self._cancel.get(session)
        if event is not None:
            event.set()
        return event is not None

    def animate(self, req: Request, session: str, progress: Callable[[int, int | None], None],
                warn: Callable[[str], None] = lambda _m: None) -> Path:
        """Run one job to a new file in the results folder; ``progress(done, total)`` after each batch,
        ``warn(line)`` for what the visitor should know of a finished job (the CLI's notes on source and driving).

        Raises the CLI's errors for bad input (before any model work), and :class:`Cancelled`."""
        try:
            opts = options(req)
            source, driving = self.upload(req.source, "source photo"), self.upload(req.driving, "driving video")
            self.check_duration(driving)
        except InputError as exc:
            self.log(f"refused: {exc}")
            raise
        with self._one_job:
            n = next(self._ids)
            self.prune(keep={source, driving})
            self._cancel[session] = threading.Event()
            t = time.perf_counter()
            self.log(f"job {n}: started ({source.name}, {driving.name})")
            try:
                result = self._run(req, opts, source, driving, self._cancel[session], progress)
            except Cancelled:
                self.log(f"job {n}: cancelled, nothing written")
                raise
            except Exception as exc:
                from internet_cli.cli.errors import describe_error

                self.log(f"job {n}: {describe_error(exc)}")
                raise
            finally:
                self._cancel.pop(session, None)
            self.log(f"job {n}: done, {result.frames} frames in {time.perf_counter() - t:.1f} s")
            for what, note in (("source photo", result.hidden_note), ("driving video", result.no_person_note)):
                if note:
                    self.log(f"job {n}: {what}: {note}")
                    warn(f"{what}: {note}")
            return result.output

    def _run(self, req: Request, opts, source: Path, driving: Path, cancel: threading.Event,
             progress: Callable[[int, int | None], None]) -> AnimateResult:
        """The pipeline of ``internet animate`` on one checked request; returns its ``AnimateResult``."""
        from internet_cli.runtime.pipeline import prepare, run

        output = self.results / f"internet-{uuid.uuid4().hex[:12]}.mp4"
        job = prepare(source, driving, output, self.model.config.image_size, opts)
        total, done = job.expected_frames(opts), 0

        def advance(count: int) -> None:
            nonlocal done
            if cancel.is_set():
                raise Cancelled  # the writer removes its temporary file: nothing at output
            done += count
            progress(done, total)

        return run(job, self.animator(req.backend), opts, on_frames=advance)

    def prune(self, keep: set[Path] = frozenset()) -> None:
        """Delete the oldest files of the folder (never those in ``keep``) until it is under the disk limit."""
        files = sorted((p for p in self.folder.rglob("*") if p.is_file() and p not in keep),
                       key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
        for p in files:
            if total <= self.limits.disk_mb * MB:
                break
            total -= p.stat().st_size
            p.unlink(missing_ok=True)
