"""The README's first picture: a real photo animated by the example dancer with the shipped weights.

    python examples/make_readme_figure.py [--frames 0,30,52,75]

Animates scikit-image's ``astronaut`` (a NASA portrait, public domain) with
``examples/driving.mp4`` through ``internet animate``'s own pipeline (default options: person
crop, retargeting, the bundled weights), then stacks the chosen frames' driving frame over the
output into ``docs/images/real-photo.png``, the source photo on the left.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", default="0,30,52,75")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "real-photo.png")
    args = ap.parse_args()
    import av
    import cv2
    import skimage.data
    from PIL import Image

    from internet_cli.devices import configure_torch_threads
    from internet_cli.runtime.backends import open_animator, resolve_model
    from internet_cli.runtime.pipeline import AnimateOptions, prepare, run

    configure_torch_threads()
    wanted = [int(f) for f in args.frames.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "astronaut.png"
        Image.fromarray(skimage.data.astronaut()).save(src)
        out = Path(tmp) / "out.mp4"
        opts = AnimateOptions(crop="auto", side_by_side=True, max_frames=max(wanted) + 1, audio=False)
        model = resolve_model(None)
        job = prepare(src, ROOT / "examples" / "driving.mp4", out, model.config.image_size, opts)
        run(job, open_animator(model, "torch", "cpu"), opts)
        frames = {}
        with av.open(str(out)) as c:
            for i, f in enumerate(c.decode(video=0)):
                if i in wanted:
                    frames[i] = f.to_ndarray(format="rgb24")
    s = frames[wanted[0]].shape[0]
    half = s // 2
    small = lambda im: cv2.resize(im, (half, half), interpolation=cv2.INTER_AREA)  # noqa: E731
    source = np.full((s, half, 3), 255, np.uint8)
    source[half // 2:half // 2 + half] = small(frames[wanted[0]][:, :s])
    columns = [source] + [np.concatenate([small(frames[i][:, s:2 * s]), small(frames[i][:, 2 * s:])])
                          for i in wanted]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(columns, axis=1)).save(args.out, optimize=True)
    print(f"wrote {args.out} (frames {args.frames}: driving above, output below; the source on the left)")


if __name__ == "__main__":
    main()
