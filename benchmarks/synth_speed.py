"""How fast ``internet synth`` renders: milliseconds per frame, ground truth included.

    python benchmarks/synth_speed.py

Prints one line per frame size (128 and 256), each the mean over a short clip of one seed, after a
warm-up clip.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from internet_cli.clips.synth import render_video  # noqa: E402


def main() -> None:
    render_video(11, 2, 64)  # warm-up: imports, caches
    for size, frames in ((128, 8), (256, 4)):
        t0 = time.perf_counter()
        render_video(11, frames, size)
        dt = (time.perf_counter() - t0) / frames
        print(f"synth: {dt * 1000:.1f} ms per {size}x{size} frame (with ground truth)")


if __name__ == "__main__":
    main()
