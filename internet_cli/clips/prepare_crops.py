"""`internet prepare RAW_DIR OUT_DIR`: raw videos -> the training layout, person-centred square crops.

Every raw entry (a video file or a folder of frames, :mod:`internet_cli.clips.layout`) is read once:
the person is tracked (:func:`internet_cli.runtime.crop.track`, the same smoothed crop as
``internet animate --crop auto``) and each frame is written as a ``size x size`` crop into an
H.264 MP4 under ``OUT_DIR/{train,test}/``.

Frames without a person are trimmed: the leading and trailing ones are dropped; a gap inside the
video of up to ``max_gap`` frames keeps the last crop (the person was briefly hidden); a longer
gap ends the clip, and the next detection starts a new one (``NAME-2.mp4``, ``NAME-3.mp4``, ...).
Clips shorter than ``min_frames`` are dropped. A video with no person at all is skipped with a
warning.

Splits: when RAW_DIR has ``train/`` and/or ``test/``, they are kept. Otherwise the entries of
RAW_DIR are split: ``round(test_fraction * n)`` of them (at least one when there are two or
more entries and the fraction is positive) go to ``test/``, chosen by a seeded shuffle of the
names, so the split is the same on every run.
"""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from internet_cli.clips.layout import VideoEntry, frame_files, scan_split
from internet_cli.errors import InputError

SPLITS = ("train", "test")


@dataclass
class PrepareCropsReport:
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    """Entries that produced nothing: (path, reason)."""
    existing: list[Path] = field(default_factory=list)
    """Entries whose output was already there (use ``overwrite``)."""
    frames_in: int = 0
    frames_out: int = 0
    seconds: float = 0.0


def plan_splits(raw: Path, test_fraction: float = 0.2, seed: int = 0) -> dict[str, list[VideoEntry]]:
    """The raw entries per output split (see the module docstring)."""
    raw = Path(raw).expanduser()
    if not raw.is_dir():
        raise InputError(f"raw folder not found: {raw}")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    present = [s for s in SPLITS if (raw / s).is_dir()]
    if present:
        return {s: scan_split(raw, s) for s in present}
    entries = scan_split(raw.parent, raw.name)
    names = sorted(e.name for e in entries)
    random.Random(seed).shuffle(names)
    n_test = int(round(test_fraction * len(names)))
    if test_fraction > 0 and len(names) >= 2:
        n_test = min(max(n_test, 1), len(names) - 1)
    test = set(names[:n_test])
    plan = {"train": [e for e in entries if e.name not in test], "test": [e for e in entries if e.name in test]}
    return {s: v for s, v in plan.items() if v}


def entry_frames(entry: VideoEntry) -> Iterator[np.ndarray]:
    """The entry's frames, upright RGB at their own size."""
    if entry.kind == "video":
        from internet_cli.video.reader import iter_frames

        for frame in iter_frames(entry.path):
            yield frame.image
    else:
        from internet_cli.video.image import load_image

        for path in frame_files(entry.path):
            yield load_image(path)


class _Clips:
    """Writes the found frames of one entry as clips, trimming frames without a person."""

    def __init__(self, folder: Path, name: str, fps: float, size: int, crf: int, max_gap: int, min_frames: int,
                 overwrite: bool):
        self.folder, self.name, self.size, self.crf = folder, name, size, crf
        self.fps = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(25)
        self.max_gap, self.min_frames, self.overwrite = max_gap, max(2, min_frames), overwrite
        self.count = 0  # clips opened
        self.head: list[np.ndarray] = []  # first frames of a clip, before its writer opens
        self.gap: list[np.ndarray] = []  # frames without a person since the last found one
        self.writer = None
        self.frames = 0  # frames in the open clip
        self.written: list[Path] = []
        self.frames_out = 0

    def _path(self) -> Path:
        suffix = "" if self.count == 1 else f"-{self.count}"
        return self.folder / f"{self.name}{suffix}.mp4"

    def _write(self, image: np.ndarray) -> None:
        if self.writer is None:
            self.head.append(image)
            if len(self.head) < self.min_frames:
                return
            from internet_cli.video.writer import VideoWriter

            self.count += 1
            self.writer = VideoWriter(self._path(), fps=self.fps, size=self.size, crf=self.crf,
                                      overwrite=self.overwrite).__enter__()
            pending, self.head = self.head, []
            for im in pending:
                self.writer.write(im, self.frames / float(self.fps))
                self.frames += 1
            return
        self.writer.write(image, self.frames / float(self.fps))
        self.frames += 1

    def add(self, image: np.ndarray, found: bool) -> None:
        if not found:
            if self.head or self.writer is not None:
                self.gap.append(image)
                if len(self.gap) > self.max_gap:
                    self.end()
            return
        for im in self.gap:
            self._write(im)
        self.gap = []
        self._write(image)

    def end(self) -> None:
        """Close the open clip (frames in a trailing gap are dropped)."""
        self.gap = []
        self.head = []  # a clip shorter than min_frames is dropped
        if self.writer is not None:
            path = self.writer.path
            self.writer.__exit__(None, None, None)
            self.written.append(path)
            self.frames_out += self.frames
            self.writer = None
            self.frames = 0

    def abort(self) -> None:
        if self.writer is not None:
            exc = RuntimeError("aborted")
            self.writer.__exit__(RuntimeError, exc, None)  # atomic writer: removes its temporary file
            self.writer = None


def prepare_entry(entry: VideoEntry, folder: Path, size: int = 512, crf: int = 15, max_gap: int | None = None,
                  min_frames: int = 2, overwrite: bool = False,
                  progress: Callable[[int], None] | None = None) -> tuple[list[Path], int, int]:
    """Crop one entry into ``folder``; returns ``(clips written, frames read, frames written)``."""
    from internet_cli.runtime.crop import track

    fps = entry.fps or 25.0
    gap = int(round(fps)) if max_gap is None else max_gap
    clips = _Clips(folder, entry.name, fps, size, crf, gap, min_frames, overwrite)
    frames_in = 0
    try:
        for _, framed in track(entry_frames(entry), size, fps=fps):
            clips.add(framed.image, framed.found)
            frames_in += 1
            if progress is not None:
                progress(1)
        clips.end()
    except BaseException:
        clips.abort()
        raise
    return clips.written, frames_in, clips.frames_out


def check_prepare_folders(raw: Path, out: Path) -> None:
    """Outputs never replace inputs (:func:`internet_cli.paths.check_apart`): OUT is not RAW nor inside
    it, and the folders the crops go to (OUT/train, OUT/test) do not hold RAW. OutputError otherwise."""
    from internet_cli.paths import check_apart

    check_apart([("output folder", out)], [("raw folder", raw)])
    check_apart([(f"{split} folder", Path(out) / split) for split in ("train", "test")], [("raw folder", raw)],
                kind="folder")


def prepare_crops(raw: Path | str, out: Path | str, size: int = 512, test_fraction: float = 0.2, crf: int = 15,
                  max_gap: int | None = None, overwrite: bool = False, seed: int = 0,
                  on_entry: Callable[[str, VideoEntry], Callable[[int], None] | None] | None = None
                  ) -> PrepareCropsReport:
    """Turn every raw entry into person-centred crops under ``out/{train,test}/`` (module docstring)."""
    raw, out = Path(raw).expanduser(), Path(out).expanduser()
    if size < 8 or size % 2:
        raise ValueError(f"size must be an even number >= 8, got {size}")
    check_prepare_folders(raw, out)
    plan = plan_splits(raw, test_fraction, seed)
    report = PrepareCropsReport()
    start = time.perf_counter()
    for split, entries in plan.items():
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            first = folder / f"{entry.name}.mp4"
            if first.exists() and not overwrite:
                report.existing.append(first)
                continue
            cb = on_entry(split, entry) if on_entry is not None else None
            try:
                written, n_in, n_out = prepare_entry(entry, folder, size, crf, max_gap, overwrite=overwrite,
                                                     progress=cb)
            except (InputError, OSError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                warnings.warn(f"{entry.path}: not prepared ({reason})", stacklevel=2)
                report.skipped.append((entry.path, reason))
                continue
            report.frames_in += n_in
            report.frames_out += n_out
            if not written:
                warnings.warn(f"{entry.path}: no person found in 2 or more consecutive frames; skipped", stacklevel=2)
                report.skipped.append((entry.path, "no person"))
            report.written.extend(written)
    report.seconds = time.perf_counter() - start
    return report
