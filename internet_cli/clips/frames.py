"""A decoded-frame cache so that training reads any frame of any video cheaply.

``FrameStore(entry, size)`` decodes the entry once, frames every frame with
:func:`internet_cli.video.image.to_square` (the one framing rule), and writes the result to
``CACHE/{split}/{name}-{size}.npy`` (``uint8``, ``(T, S, S, 3)``), which is then memory-mapped:
``store[i]`` costs a copy of one frame from the page cache.

- Default ``CACHE``: ``ROOT/.cache/frames`` (``ROOT`` is the dataset folder above the split).
  Disk use: ``T * S * S * 3`` bytes per video and size (786 KiB per frame at 512, so a 10 s,
  30 fps video takes 236 MB; the 250K frames of the fashion set take ~197 GB at 512).
- Reused while the file is at least as new as the source (mtime, see
  :func:`~internet_cli.clips.layout.source_mtime_ns`) and holds ``(T, S, S, 3)`` uint8 frames
  (for a frame folder T must also equal its number of frames); otherwise rebuilt. A new file is
  stamped no older than the source's mtime read before decoding (a source dated in the future
  does not cause endless rebuilds; one edited during the build is stale at the next open).
- Written atomically: a unique temporary file in the same folder, then ``os.replace``. Several
  processes (DDP ranks, DataLoader workers) may open the same store at once: on POSIX an
  exclusive ``flock`` on ``NAME-SIZE.npy.lock`` makes the others wait and then reuse the first
  one's file (the small ``.lock`` files stay in the cache folder); without ``fcntl`` each builds
  its own temporary file and the last rename wins, all with identical content. A process that
  has the old file mapped keeps reading it safely.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from internet_cli.atomic import atomic_path
from internet_cli.clips.layout import VideoEntry, frame_files, source_mtime_ns
from internet_cli.errors import InputError, OutputError

CACHE_SUBDIR = Path(".cache") / "frames"


def default_cache_dir(entry: VideoEntry) -> Path:
    """``ROOT/.cache/frames`` for an entry at ``ROOT/SPLIT/NAME``."""
    return entry.path.parent.parent / CACHE_SUBDIR


def cache_path(entry: VideoEntry, size: int, cache_dir: Path | str | None = None) -> Path:
    base = Path(cache_dir) if cache_dir is not None else default_cache_dir(entry)
    return base / entry.split / f"{entry.name}-{int(size)}.npy"


def square_frames(entry: VideoEntry, size: int) -> Iterator[np.ndarray]:
    """Stream the entry's frames as ``(size, size, 3)`` uint8 squares (``to_square``)."""
    from internet_cli.video.image import load_image, to_square

    if entry.kind == "video":
        from internet_cli.video.reader import iter_frames

        for frame in iter_frames(entry.path):
            yield to_square(frame.image, size)
    elif entry.kind == "frames":
        for path in frame_files(entry.path):
            yield to_square(load_image(path), size)
    else:
        raise ValueError(f"unknown entry kind {entry.kind!r}")


def _npy_header(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return buf.getvalue()


@contextlib.contextmanager
def _exclusive(lock_path: Path):
    try:
        import fcntl
    except ImportError:  # not POSIX: atomic rename alone keeps it correct
        yield
        return
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class FrameStore:
    """Random access to the square frames of one entry: ``store[i]`` -> ``(S, S, 3)`` uint8."""

    def __init__(self, entry: VideoEntry, size: int, cache_dir: Path | str | None = None):
        if int(size) < 1:
            raise ValueError(f"size must be positive, got {size}")
        self.entry = entry
        self.size = int(size)
        self.path = cache_path(entry, self.size, cache_dir)
        self._frames = self._open_or_build()

    # -- pickling (DataLoader workers): reopen the map instead of copying the frames --
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_frames"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._frames = self._open_or_build()

    def __len__(self) -> int:
        return int(self._frames.shape[0])

    def __getitem__(self, index: int) -> np.ndarray:
        n = len(self)
        i = int(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"frame {index} out of range for {self.entry.name} ({n} frames)")
        return np.array(self._frames[i])  # a writable copy of one frame

    @property
    def frames(self) -> np.ndarray:
        """The read-only memory map ``(T, S, S, 3)`` uint8."""
        return self._frames

    # -- cache --
    def _valid(self) -> np.ndarray | None:
        try:
            if self.path.stat().st_mtime_ns < source_mtime_ns(self.entry):
                return None
            arr = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        s = self.size
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1:] != (s, s, 3) or arr.shape[0] < 2:
            return None
        if self.entry.kind == "frames" and arr.shape[0] != self.entry.num_frames:
            return None
        return arr

    def _open_or_build(self) -> np.ndarray:
        arr = self._valid()
        if arr is not None:
            return arr
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the frame cache folder {self.path.parent} "
                              f"({exc.strerror or exc})") from None
        with _exclusive(self.path.with_name(self.path.name + ".lock")):
            arr = self._valid()  # another process may have built it while we waited
            if arr is None:
                self._build()
                arr = self._valid()
        if arr is None:
            raise OutputError(f"{self.path}: the frame cache was written but does not read back "
                              "(is the source file being modified?)")
        return arr

    def _build(self) -> None:
        s = self.size
        source_mtime = source_mtime_ns(self.entry)  # before reading: a later edit makes it stale
        guess = max(int(self.entry.num_frames), 2)
        count = 0
        try:
            with atomic_path(self.path) as tmp:
                with open(tmp, "w+b") as fh:
                    header = _npy_header((guess, s, s, 3))
                    fh.write(header)
                    for frame in square_frames(self.entry, s):
                        fh.write(frame.tobytes())
                        count += 1
                    if count < 2:
                        raise InputError(f"{self.entry.path}: fewer than 2 frames decoded ({count})")
                    final = _npy_header((count, s, s, 3))
                    if len(final) == len(header):
                        fh.seek(0)
                        fh.write(final)
                    else:  # a header of another length (never seen with numpy's padding): copy
                        tmp2 = tmp.with_name(tmp.name + "2")
                        with open(tmp2, "wb") as out:
                            out.write(final)
                            fh.seek(len(header))
                            shutil.copyfileobj(fh, out, 1 << 22)
                        os.replace(tmp2, tmp)
                if tmp.stat().st_mtime_ns < source_mtime:  # a source dated in the future (clock skew, copies)
                    os.utime(tmp, ns=(source_mtime, source_mtime))
        except OSError as exc:
            need = count * s * s * 3
            raise OutputError(f"cannot write the frame cache {self.path} ({exc.strerror or exc}; "
                              f"{need / 2**20:.0f} MiB written so far)") from None
