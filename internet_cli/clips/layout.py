"""The dataset layout (FOMM's fashion layout, docs/design.md): ``DIR/{train,test}/``, one entry per video.

An entry is either

- a video file (``.mp4 .mov .gif .webm .avi .mkv``), named ``NAME.EXT``, or
- a folder ``NAME/`` of frames (``.png .jpg .jpeg``) in natural name order (``frame2`` before
  ``frame10``); other files and sub-folders inside it are ignored.

Ignored without a word: hidden names (``.cache``, ``.DS_Store``, temporary files) and side files
(``NAME.gt.npz``, ``NAME.dis.npz``, ``*.json``). Anything else that is not a usable entry (a file
that does not decode, fewer than 2 frames, a folder without frames, an unknown extension, a
second entry with the same NAME) is skipped with ``warnings.warn("skipping PATH: REASON")``.

Frame counts (``VideoEntry.num_frames``): for MP4/MOV the container's sample table is exact, so
the stream metadata is used unless it disagrees with ``duration * fps`` (then the frames are
counted by decoding); other containers (WebM/MKV, AVI, GIF) often store no count or a wrong
one, so their frames are counted by decoding (no RGB conversion; about 1 s per 1000 frames at
512x512 on 2 cores). The frame cache (:class:`internet_cli.clips.frames.FrameStore`) holds the
authoritative count of decoded frames. Frame folders count their image files and report
``FRAME_FOLDER_FPS``.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from internet_cli.errors import InputError

VIDEO_EXTS = (".mp4", ".mov", ".gif", ".webm", ".avi", ".mkv")
IMAGE_EXTS = (".png", ".jpg", ".jpeg")
SIDE_EXTS = (".npz", ".json")
"""Side files beside the entries (ground truth, flow caches, metadata): never entries."""

FRAME_FOLDER_FPS = 30.0
"""Frame rate reported for a folder of frames (a folder does not say its rate)."""

_TRUSTED_COUNT_EXTS = (".mp4", ".mov")

KINDS = ("video", "frames")


@dataclass
class VideoEntry:
    """One training video: ``path`` is the video file or the frame folder."""

    name: str
    path: Path
    kind: str
    """``"video"`` or ``"frames"``."""
    num_frames: int
    fps: float

    @property
    def split(self) -> str:
        """The split folder the entry lies in (``train``, ``test``)."""
        return self.path.parent.name

    def side_file(self, suffix: str) -> Path:
        """``NAME{suffix}`` beside the entry, e.g. ``side_file(".gt.npz")``."""
        return self.path.parent / f"{self.name}{suffix}"


def natural_key(name: str) -> list:
    """Sort key that orders digit runs by value: ``frame2`` < ``frame10`` (case-insensitive)."""
    parts = re.split(r"(\d+)", name)
    # Even indices are text, odd indices digit runs: the types line up between keys.
    return [int(p) if i % 2 else p.lower() for i, p in enumerate(parts)]


def frame_files(folder: Path) -> list[Path]:
    """The frame images of a frame folder, in natural name order (hidden files skipped)."""
    files = [p for p in Path(folder).iterdir()
             if not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTS and p.is_file()]
    return sorted(files, key=lambda p: natural_key(p.name))


def source_mtime_ns(entry: VideoEntry) -> int:
    """Modification time of what the entry's frames come from, in ns.

    A video: the file's mtime. A frame folder: the newest of the folder (files added or removed)
    and its frame files (a frame edited in place).
    """
    if entry.kind == "video":
        return entry.path.stat().st_mtime_ns
    newest = entry.path.stat().st_mtime_ns
    for p in frame_files(entry.path):
        newest = max(newest, p.stat().st_mtime_ns)
    return newest


def _video_frames_by_decoding(path: Path) -> int:
    """Count the frames of ``path`` by decoding them (no colour conversion)."""
    import av

    errors = (av.FFmpegError, OSError, ValueError, EOFError, RuntimeError, IndexError)
    count = 0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for _ in container.decode(stream):
                count += 1
    except errors as exc:
        if count == 0:
            raise InputError(f"{path}: no decodable video frames ({exc})") from None
        # A file that breaks part-way: the reader stops at the same place.
    return count


def _video_entry(path: Path) -> VideoEntry:
    from internet_cli.video.reader import probe_video

    info = probe_video(path)  # InputError for anything that is not a decodable video
    fps = float(info.fps)
    count = info.frame_count
    reliable = path.suffix.lower() in _TRUSTED_COUNT_EXTS and count is not None and count > 0
    if reliable and info.duration:
        expected = info.duration * fps
        reliable = abs(count - expected) <= max(2.0, 0.05 * expected)
    if not reliable:
        count = _video_frames_by_decoding(path)
    if count < 2:
        raise InputError(f"{path}: fewer than 2 frames ({count})")
    return VideoEntry(name=path.stem, path=path, kind="video", num_frames=int(count), fps=fps)


def _frames_entry(path: Path) -> VideoEntry:
    from internet_cli.video.image import load_image

    files = frame_files(path)
    if not files:
        raise InputError(f"{path}: folder without {'/'.join(IMAGE_EXTS)} frames")
    if len(files) < 2:
        raise InputError(f"{path}: fewer than 2 frames ({len(files)})")
    load_image(files[0])  # a first frame that does not load: InputError naming it
    return VideoEntry(name=path.name, path=path, kind="frames", num_frames=len(files),
                      fps=FRAME_FOLDER_FPS)


def _entry(path: Path) -> VideoEntry | None:
    """The entry at ``path``; None for an ignored name; InputError for a bad entry."""
    if path.name.startswith("."):
        return None
    if path.is_dir():
        return _frames_entry(path)
    suffix = path.suffix.lower()
    if suffix in SIDE_EXTS:
        return None
    if suffix in VIDEO_EXTS:
        return _video_entry(path)
    raise InputError(f"{path}: not a video ({' '.join(VIDEO_EXTS)}) or a folder of frames")


def scan_split(root: Path | str | os.PathLike, split: str) -> list[VideoEntry]:
    """All usable entries of ``root/split/``, in natural name order.

    Bad entries are skipped with a warning. Raises InputError when ``root/split`` is not a
    folder or holds no usable entry.
    """
    root = Path(root).expanduser()
    folder = root / split
    if not root.is_dir():
        raise InputError(f"dataset folder not found: {root}")
    if not folder.is_dir():
        raise InputError(f"{root}: no '{split}' folder (expected {folder}/ with one video file "
                         "or frame folder per video)")
    entries: list[VideoEntry] = []
    seen: dict[str, Path] = {}
    skipped = 0
    for path in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
        try:
            entry = _entry(path)
        except InputError as exc:
            reason = str(exc)
            prefix = f"{path}: "
            if reason.startswith(prefix):
                reason = reason[len(prefix):]
            warnings.warn(f"skipping {path}: {reason}", stacklevel=2)
            skipped += 1
            continue
        except OSError as exc:
            warnings.warn(f"skipping {path}: {exc.strerror or exc}", stacklevel=2)
            skipped += 1
            continue
        if entry is None:
            continue
        if entry.name in seen:
            warnings.warn(f"skipping {path}: same name as {seen[entry.name].name} (entry names "
                          "must be unique: side files and caches are named after them)", stacklevel=2)
            skipped += 1
            continue
        seen[entry.name] = path
        entries.append(entry)
    if not entries:
        extra = f" ({skipped} skipped, see the warnings)" if skipped else ""
        raise InputError(f"{folder}: no usable video ({' '.join(VIDEO_EXTS)}) or frame folder{extra}")
    return entries
