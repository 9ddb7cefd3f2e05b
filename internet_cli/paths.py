"""Outputs never replace inputs: the one rule every command checks before it does any work.

A command lists what it will write (its outputs) and what it reads (its inputs), each as a
``(role, path)`` pair such as ``("output", Path("out.mp4"))`` or ``("driving video", ...)``, and
calls :func:`check_apart`. An output clashes with an input when

- both name the same file: the same resolved path (symlinks followed, so a symlink to the input
  is caught), or the same file identity (device and inode, so a hard link is caught too);
- the output lies inside an input folder (an exported model folder, a dataset), found by path
  and by the identity of the output's folders (a symlinked or bind-mounted alias is caught);
- the output is a folder (``kind="folder"``) that is or holds an input: such outputs are filled
  with files, or replaced as a whole.

The refusal is one :class:`~internet_cli.errors.OutputError` line naming both paths. It holds
with ``--overwrite`` too: that option only allows replacing an older *output*.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from internet_cli.errors import OutputError

Named = tuple[str, "str | os.PathLike | None"]
"""``(role, path)``: what the path is for the user ("driving video", "--save-pose file") and where it is."""


def check_apart(outputs: Iterable[Named], inputs: Iterable[Named], kind: str = "file") -> None:
    """Raise OutputError when any output would write over, or be written inside, any input.

    ``kind="folder"``: the outputs are folders, which must not hold an input either. Entries
    whose path is ``None`` (an option not given) are skipped. Reads only file metadata, and
    looks file inputs up by key, so a batch of thousands of rows is checked at once.
    """
    known = _Inputs(inputs)
    for out_role, out in outputs:
        if out is None:
            continue
        out = Path(out).expanduser()
        found = known.clash(out, kind)
        if found:
            words, in_role, inp = found
            raise OutputError(f"{out}: the {out_role} {words} the {in_role} {inp}; "
                              "outputs never replace inputs: choose another name")


class _Inputs:
    """The inputs, indexed by resolved path and by (device, inode); folders kept apart."""

    def __init__(self, inputs: Iterable[Named]):
        self.files: dict[object, tuple[str, Path]] = {}
        self.folders: list[tuple[str, Path]] = []
        self.every: list[tuple[str, Path]] = []
        for role, p in inputs:
            if p is None:
                continue
            entry = (role, Path(p).expanduser())
            self.every.append(entry)
            if entry[1].is_dir():
                self.folders.append(entry)
            for key in _keys(entry[1]):
                self.files.setdefault(key, entry)

    def clash(self, out: Path, kind: str) -> tuple[str, str, Path] | None:
        """``(words, input role, input path)`` for the first input ``out`` clashes with, or None."""
        for key in _keys(out):
            if key in self.files:
                return ("would write over", *self.files[key])
        for role, folder in self.folders:
            if is_within(out, folder):
                return "would be written inside", role, folder
        if kind == "folder":
            for role, inp in self.every:
                if is_within(inp, out):
                    return "would hold", role, inp
        return None


def _keys(path: Path) -> list[object]:
    """What names ``path``'s file: its resolved path and, when it exists, its (device, inode)."""
    ident = _identity(path)
    return [path.resolve()] + ([ident] if ident is not None else [])


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name one file: equal resolved paths, or one device and inode."""
    a, b = Path(a).expanduser(), Path(b).expanduser()
    if a.resolve() == b.resolve():
        return True
    ia, ib = _identity(a), _identity(b)
    return ia is not None and ia == ib


def is_within(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """True when ``path`` is ``folder`` or lies below it (resolved paths, or a folder of ``path`` with
    ``folder``'s device and inode)."""
    path, folder = Path(path).expanduser().resolve(), Path(folder).expanduser().resolve()
    if path == folder or folder in path.parents:
        return True
    target = _identity(folder)
    if target is None:
        return False
    return any(_identity(p) == target for p in (path, *path.parents))


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


__all__ = ["check_apart", "is_within", "same_file"]
