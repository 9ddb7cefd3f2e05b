"""Files that appear whole or not at all: the one home for temp-file, fsync and rename.

    with atomic_path(out) as tmp:     # a fresh temporary file beside ``out``
        write_something(tmp)          # any writer that takes a path
    # here ``out`` holds the complete file; on an error ``out`` is untouched and ``tmp`` is gone

The temporary file lives in the output's own folder (a rename across file systems is not
atomic), is flushed to disk, gets the permissions an ordinary new file would have
(``0666 & ~umask``, not ``mkstemp``'s ``0600``) and then replaces the output in one
``os.replace``; the folder is then synced, so that the rename survives a crash too.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc: setting it
    to read it would race with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_file(path: str | Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: str | Path) -> None:
    """Sync a folder's entries (best effort: some file systems refuse)."""
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def publish(tmp: str | Path, path: str | Path) -> None:
    """Sync ``tmp``, give it ordinary permissions and rename it onto ``path`` (same folder)."""
    fsync_file(tmp)
    os.chmod(tmp, 0o666 & ~umask())
    os.replace(tmp, path)
    fsync_dir(Path(path).parent)


def write_text(path: str | Path, text: str) -> None:
    """``Path.write_text``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".partial") -> Iterator[Path]:
    """A temporary file beside ``path``, renamed onto it when the block ends without an error and
    removed otherwise. ``suffix`` ends the temporary name (``.npz`` for writers that add it)."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
