"""The DIS optical-flow cache ``NAME.dis.npz`` (written by ``internet prepare-flow``).

Format (an uncompressed ``.npz``, beside the entry ``NAME.mp4`` or ``NAME/``):

- ``flow`` ``(T, 2, S, S)`` float16: pixels ``(dx, dy)`` on frame ``t-1``'s grid pointing into
  frame ``t`` (docs/design.md); ``flow[0]`` is zero.
- ``flow_back`` ``(T, 2, S, S)`` float16: frame ``t`` -> ``t-1`` on frame ``t``'s grid; ``[0]`` zero.
- ``size`` (int): ``S``. Flows are always stored on the square training frame grid (the
  :class:`~internet_cli.clips.frames.FrameStore` frames, ``to_square`` at ``S``) of the size they
  were computed at.
- ``source_mtime_ns`` (int): the source's mtime when computed; a cache whose value differs
  from the source's current mtime is stale.

The arrays are stored (not deflated) so that :func:`load_npz_array` memory-maps them: the
dataset reads one frame's flow without loading the file (``4 * S * S * 2`` bytes per frame and
direction: 2 MiB per frame at 512, 600 MB for a 10 s 30 fps video). Files are written to a
temporary name and renamed, and streamed frame by frame (memory stays at one frame).
"""

from __future__ import annotations

import struct
import time
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from internet_cli.atomic import atomic_path
from internet_cli.clips import flow as flowmod
from internet_cli.clips.frames import FrameStore
from internet_cli.clips.layout import VideoEntry, scan_split, source_mtime_ns
from internet_cli.errors import InputError, InternetError

DIS_SUFFIX = ".dis.npz"


def dis_cache_path(entry: VideoEntry) -> Path:
    return entry.side_file(DIS_SUFFIX)


def load_npz_array(path: Path | str, key: str, mmap: bool = True) -> np.ndarray:
    """Array ``key`` of an ``.npz``: memory-mapped (read-only) when stored uncompressed and
    ``mmap``, else read whole. Raises KeyError for a missing key, OSError/ValueError for a bad file."""
    path = Path(path)
    if mmap:
        arr = _npz_memmap(path, key)
        if arr is not None:
            return arr
    with np.load(path, allow_pickle=False) as z:
        return z[key]


def _npz_memmap(path: Path, key: str) -> np.ndarray | None:
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(key + ".npy")  # KeyError when missing
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            return None
        offset = info.header_offset
    with open(path, "rb") as fh:
        fh.seek(offset)
        local = fh.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            return None
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        fh.seek(offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            return None
        start = fh.tell()
    if dtype.hasobject or len(shape) == 0:
        return None
    return np.memmap(path, dtype=dtype, mode="r", offset=start, shape=tuple(shape),
                     order="F" if fortran else "C")


@dataclass
class DisCache:
    """An opened ``NAME.dis.npz``: ``flow`` and ``flow_back`` are ``(T, 2, S, S)`` float16 maps."""

    path: Path
    size: int
    source_mtime_ns: int
    flow: np.ndarray
    flow_back: np.ndarray


def open_dis_cache(entry: VideoEntry) -> DisCache | None:
    """The entry's DIS cache when it exists, reads and is up to date (same source mtime); else None."""
    path = dis_cache_path(entry)
    if not path.is_file():
        return None
    try:
        size = int(load_npz_array(path, "size", mmap=False))
        mtime = int(load_npz_array(path, "source_mtime_ns", mmap=False))
        if mtime != source_mtime_ns(entry):
            return None
        flow = load_npz_array(path, "flow")
        back = load_npz_array(path, "flow_back")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    shape_ok = (flow.ndim == 4 and flow.shape[1:] == (2, size, size) and back.shape == flow.shape)
    return DisCache(path, size, mtime, flow, back) if shape_ok else None


def is_up_to_date(entry: VideoEntry, size: int) -> bool:
    """True when ``NAME.dis.npz`` exists for this source (same mtime) at ``size``."""
    cache = open_dis_cache(entry)
    return cache is not None and cache.size == int(size)


def write_dis_cache(entry: VideoEntry, store: FrameStore, preset: str = flowmod.DEFAULT_PRESET,
                    progress: Callable[[int], None] | None = None) -> Path:
    """Compute DIS ``flow`` and ``flow_back`` for every consecutive pair of ``store``'s frames
    and write ``NAME.dis.npz`` atomically. ``progress(n)`` is called after each ``n`` flows
    (``2 * (T - 1)`` in all). Returns the path."""
    path = dis_cache_path(entry)
    mtime = source_mtime_ns(entry)  # before reading: a later edit makes the cache stale
    t_len, s = len(store), store.size
    header = {"descr": np.dtype(np.float16).str, "fortran_order": False, "shape": (t_len, 2, s, s)}
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for key, backward in (("flow", False), ("flow_back", True)):
                with zf.open(key + ".npy", "w", force_zip64=True) as fh:
                    np.lib.format.write_array_header_1_0(fh, header)
                    fh.write(np.zeros((2, s, s), np.float16).tobytes())
                    for t in range(1, t_len):
                        prev, cur = store[t - 1], store[t]
                        f = flowmod.dis_flow(cur, prev, preset) if backward else flowmod.dis_flow(prev, cur, preset)
                        fh.write(f.astype(np.float16).tobytes())
                        if progress is not None:
                            progress(1)
            for key, value in (("size", np.int64(s)), ("source_mtime_ns", np.int64(mtime))):
                with zf.open(key + ".npy", "w") as fh:
                    np.lib.format.write_array(fh, np.asarray(value), allow_pickle=False)
    return path


@dataclass
class PrepareReport:
    computed: list[Path] = field(default_factory=list)
    up_to_date: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    pairs: int = 0
    seconds: float = 0.0


def prepare_flow(
    root: Path | str,
    size: int = 512,
    splits: Sequence[str] = ("train", "test"),
    preset: str = flowmod.DEFAULT_PRESET,
    cache_dir: Path | str | None = None,
    on_entry: Callable[[VideoEntry, int], Callable[[int], None] | None] | None = None,
) -> PrepareReport:
    """Write an up-to-date ``NAME.dis.npz`` for every entry of ``root``'s ``splits`` at ``size``.

    Split folders that do not exist are skipped with a warning (InputError when none exists).
    An entry that fails (a frame that does not decode, a file that cannot be written) is
    recorded in ``report.failed`` and the others go on. ``on_entry(entry, total_flows)`` may
    return a progress callback for that entry (used by the CLI's progress bar).
    """
    if preset.lower() not in flowmod.PRESETS:
        raise ValueError(f"DIS preset must be one of {sorted(flowmod.PRESETS)}, got {preset!r}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"dataset folder not found: {root}")
    present = [s for s in splits if (root / s).is_dir()]
    for s in splits:
        if s not in present:
            warnings.warn(f"{root}: no '{s}' folder; skipping that split", stacklevel=2)
    if not present:
        raise InputError(f"{root}: none of the splits {', '.join(splits)} exists")
    report = PrepareReport()
    start = time.perf_counter()
    for split in present:
        for entry in scan_split(root, split):
            if is_up_to_date(entry, size):
                report.up_to_date.append(dis_cache_path(entry))
                continue
            try:
                store = FrameStore(entry, size, cache_dir)
                cb = on_entry(entry, 2 * (len(store) - 1)) if on_entry is not None else None
                report.computed.append(write_dis_cache(entry, store, preset, cb))
                report.pairs += len(store) - 1
            except (InternetError, OSError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                warnings.warn(f"{entry.path}: flow not computed ({reason})", stacklevel=2)
                report.failed.append((entry.path, reason))
    report.seconds = time.perf_counter() - start
    return report
