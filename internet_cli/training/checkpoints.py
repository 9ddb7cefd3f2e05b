"""Training checkpoints: everything needed to continue a run exactly.

``RUN/checkpoints/step-00000500.pt`` holds model, discriminator, optimizers, schedulers, the step,
the data position (epoch, batch within the epoch) and the configs. RNG state is not needed:
every step reseeds from (seed, step, rank) and the data sampling is a pure function of
(seed, epoch, index). Files are written atomically; the latest K are kept. They contain only
tensors and plain values, and are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import torch

from internet_cli.atomic import atomic_path

_NAME = re.compile(r"^step-(\d{8})\.pt$")


def checkpoint_dir(run: Path) -> Path:
    return Path(run) / "checkpoints"


def save_checkpoint(run: Path, step: int, state: dict, keep: int) -> Path:
    folder = checkpoint_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step-{step:08d}.pt"
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    for old in list_checkpoints(run)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(run: Path) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = checkpoint_dir(run)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _NAME.match(p.name))


def load_latest(run: Path) -> dict | None:
    """The newest readable checkpoint; a corrupt one falls back to the previous with a warning."""
    for path in reversed(list_checkpoints(run)):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file: try the previous one
            warnings.warn(f"checkpoint {path} is unreadable ({type(exc).__name__}); trying the previous one")
    return None
