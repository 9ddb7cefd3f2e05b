"""What the writer's second pass (muxing the driving clip's audio) costs, beside writing without it.

    python benchmarks/writer_audio.py [--frames 150] [--rounds 3]

``VideoWriter`` encodes the frames into a temporary file, then remuxes the encoded packets with the
audio of the driving window into the output (video/writer.py). This measures three writes of the
same 512x512 frames, alternated in each round: no audio; the audio stream-copied (the window is
the whole clip); the audio trimmed and re-encoded to AAC (the window ends 1 s before the clip).
Prints the median milliseconds of each and the ratios to the write without audio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from internet_cli.video.writer import VideoWriter  # noqa: E402
from tests.media import make_video  # noqa: E402


def frames(n: int, size: int = 512) -> list[np.ndarray]:
    """A moving, textured picture: the encoder has real work, as with the model's output."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    return [np.roll(base, 4 * i, axis=1) for i in range(n)]


def write(out: Path, images: list[np.ndarray], fps: int, audio_from: Path | None, audio_end: float | None) -> float:
    t0 = time.perf_counter()
    with VideoWriter(out, fps=fps, audio_from=audio_from, audio_end=audio_end, overwrite=True) as w:
        for image in images:
            w.write(image)
    assert audio_from is None or w.has_audio
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    fps = 30
    images = frames(args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        driving = make_video(Path(tmp) / "driving.mp4", frames=args.frames, size=(64, 64), fps=fps, audio=True)
        seconds = args.frames / fps
        cases = {"no audio": (None, None), "audio copied": (driving, None),
                 "audio trimmed (AAC)": (driving, seconds - 1.0)}
        times: dict[str, list[float]] = {k: [] for k in cases}
        write(Path(tmp) / "warm.mp4", images[:10], fps, None, None)
        for _ in range(args.rounds):
            for name, (audio, end) in cases.items():
                times[name].append(write(Path(tmp) / "out.mp4", images, fps, audio, end))
    base = statistics.median(times["no audio"])
    print(f"{args.frames} frames of 512x512 at {fps} fps, median of {args.rounds} rounds:")
    for name, ts in times.items():
        ms = statistics.median(ts)
        print(f"  {name:20s} {ms:8.0f} ms  {ms / base:.3f}x  (+{(ms - base) / args.frames:.2f} ms a frame)")


if __name__ == "__main__":
    main()
