"""Regenerate the bundled examples from the synthetic generator (held-out seeds).

    python examples/make_examples.py

source.png: the first frame of one synthetic dancer; driving.mp4: another dancer, 3 s at 30 fps,
512x512, with a generated audio track (a simple beat) so the audio path is exercised.

Relative motion (the default of `internet animate`, as in FOMM) moves the source by the driving
motion since the driving video's first frame, so it expects that frame to stand roughly as the
source does. `driving_seed` therefore takes the first seed from 90002 whose first-frame arm angles
(shoulder and elbow, both sides) are within 20 degrees of the source's and whose shoulders each
swing through more than 90 degrees in the 3 s: 90183. (90002, used before, started with one arm
raised to the side, so the output could never raise it.)
"""

from __future__ import annotations

import itertools
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from internet_cli.clips.synth import arm_angles, render_video
from internet_cli.video.writer import VideoWriter

HERE = Path(__file__).resolve().parent
# Training and held-out videos use the hashed seeds of internet_cli.clips.synth.video_seed (all
# above 3e8 for the data sets on the model card), so seeds from 90001 are in neither.
SOURCE_SEED = 90001
FRAMES, FPS = 90, 30


def driving_seed(source_seed: int) -> int:
    """The first seed from 90002 that starts posed as the source and swings both arms (docstring)."""
    start = arm_angles(source_seed, 1, FPS)[0]
    for seed in itertools.count(90002):
        a = arm_angles(seed, FRAMES, FPS)
        if np.abs(a[0] - start).max() < 20 and (np.ptp(a[:, [0, 2]], axis=0) > 90).all():
            return seed


def beat(path: Path, seconds: float, rate: int = 44100) -> Path:
    """A short AAC track: a 220 Hz tone pulsing twice a second."""
    t = np.arange(int(seconds * rate)) / rate
    x = (0.25 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=rate, layout="mono")
        for i in range(0, len(x), 1024):
            f = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[None, i : i + 1024]), format="fltp", layout="mono")
            f.sample_rate, f.pts, f.time_base = rate, i, Fraction(1, rate)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def main() -> None:
    Image.fromarray(render_video(SOURCE_SEED, frames=1, size=512).frames[0]).save(HERE / "source.png")
    seed = driving_seed(SOURCE_SEED)
    video = render_video(seed, frames=FRAMES, size=512, fps=FPS)
    with tempfile.TemporaryDirectory() as tmp:
        audio = beat(Path(tmp) / "beat.m4a", seconds=FRAMES / FPS)
        with VideoWriter(HERE / "driving.mp4", fps=FPS, size=512, crf=23, audio_from=audio, overwrite=True) as w:
            for frame in video.frames:
                w.write(frame)
    print(f"wrote {HERE / 'source.png'} and {HERE / 'driving.mp4'} (driving seed {seed})")


if __name__ == "__main__":
    main()
