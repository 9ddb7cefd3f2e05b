"""Bad and unusual input the other test files do not already cover (see docs/robustness.md for the map).

Real files throughout; the model is the tiny-512 preset where the CLI runs end to end, and a
stand-in that echoes the driving frames where only the plumbing (decode -> encode) matters.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from internet_cli.errors import InputError, OutputError, WeightsError
from internet_cli.runtime.pipeline import AnimateOptions, prepare, run
from internet_cli.video.image import load_image, to_square
from internet_cli.video.reader import probe_video
from tests.media import make_image, make_video
from tests.runtime.test_batch import EchoAnimator


def _frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0)]


@contextlib.contextmanager
def tmpfs(path: Path, options: str):
    """A small tmpfs mounted at ``path`` (root only); the test is skipped where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the injected-failure tests in tests/video cover this path)")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


# ---- source images -------------------------------------------------------------------------
def test_one_by_one_image_is_refused(tmp_path):
    p = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (255, 0, 0)).save(p)
    with pytest.raises(InputError, match=r"dot\.png: image too small \(1x1; need at least 16x16\)"):
        load_image(p)


def test_8000_by_8000_image_is_accepted_and_framed(tmp_path):
    p = tmp_path / "big.bmp"  # uncompressed: quick to write and read (192 MB)
    a = np.zeros((8000, 8000, 3), np.uint8)
    a[:, :4000] = (255, 0, 0)  # left half red, right half blue
    a[:, 4000:] = (0, 0, 255)
    Image.fromarray(a).save(p)
    del a
    img = load_image(p)
    assert img.shape == (8000, 8000, 3)
    small = to_square(img, 512)
    assert small.shape == (512, 512, 3)
    assert tuple(small[256, 10]) == (255, 0, 0) and tuple(small[256, 500]) == (0, 0, 255)


# ---- driving video through the pipeline ------------------------------------------------------
def test_truncated_driving_video_gives_the_frames_before_the_damage(tmp_path):
    full = make_video(tmp_path / "full.mp4", frames=30, size=(64, 64), pattern="noise", faststart=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.6)])
    src = make_image(tmp_path / "p.png", size=(64, 64))
    out = tmp_path / "out.mp4"
    opts = AnimateOptions(audio=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(prepare(src, cut, out, 64, opts), EchoAnimator(), opts)
    assert 5 < result.frames < 30
    assert len(_frame_times(out)) == result.frames
    assert any("cut.mp4" in str(w.message) for w in caught)


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".webm", ".avi"])
def test_zero_frame_video_is_refused(tmp_path, ext):
    """A real container with a video stream and no frame (PyAV writes no file at all for that,
    so tests/cli/test_animate.py's zero_frames case actually exercises a missing file)."""
    from tests.media import ffmpeg_exe

    p = tmp_path / f"empty{ext}"
    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=25",
                    "-frames:v", "0", str(p)], check=True, capture_output=True)
    assert p.exists() and p.stat().st_size > 0
    with pytest.raises(InputError) as info:
        probe_video(p)
    msg = str(info.value)
    assert msg.startswith(str(p)) and "\n" not in msg
    assert any(s in msg for s in ("no video stream", "no decodable video frames", "not a readable video file"))


# ---- output folder problems (real file systems) ------------------------------------------------
def test_read_only_output_folder_mount(tmp_path):
    src = make_image(tmp_path / "p.png", size=(64, 64))
    drv = make_video(tmp_path / "d.mp4", frames=2, size=(64, 64))
    with tmpfs(tmp_path / "ro", "ro,size=64k") as ro:
        with pytest.raises(OutputError, match=r"out\.mp4: the folder .* is not writable"):
            prepare(src, drv, ro / "out.mp4", 64, AnimateOptions())
        assert list(ro.iterdir()) == []


def test_disk_full_on_a_small_tmpfs(tmp_path):
    src = make_image(tmp_path / "p.png", size=(64, 64))
    drv = make_video(tmp_path / "d.mp4", frames=60, size=(64, 64), pattern="noise")
    with tmpfs(tmp_path / "small", "size=160k") as small:
        out = small / "out.mp4"
        opts = AnimateOptions(audio=False, crf=0)
        job = prepare(src, drv, out, 64, opts)
        with pytest.raises(OutputError, match=f"disk full while writing {out}"):
            run(job, EchoAnimator(), opts)
        assert list(small.iterdir()) == []  # no partial output, no temporary file


# ---- weights ---------------------------------------------------------------------------------
class _Payload:
    """Unpickling this would create the file ``marker``: proof the pickle ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("kind", ["pickle", "torch_save"])
def test_pickle_posing_as_weights_is_refused_never_executed(tmp_path, kind):
    from internet_cli.checkpoint import load_weights

    marker = tmp_path / "EXECUTED"
    w = tmp_path / "weights.safetensors"
    if kind == "pickle":
        w.write_bytes(pickle.dumps(_Payload(marker)))
    else:
        import torch

        torch.save({"model": _Payload(marker), "x": torch.zeros(3)}, w)
    assert not marker.exists()
    with pytest.raises(WeightsError, match="not a valid weights file"):
        load_weights(w)
    assert not marker.exists()


# ---- end to end through the CLI ---------------------------------------------------------------
def test_cli_non_ascii_spaces_odd_sizes_and_variable_frame_rate(tmp_path, tiny512_weights):
    """One run: paths with spaces and non-ASCII letters, odd-sized photo and video, VFR timing kept."""
    from tests.cli.test_animate import run_cli

    folder = tmp_path / "Ünïcode dir ✓"
    folder.mkdir()
    src = make_image(folder / "José photo 1.jpg", size=(33, 51))
    times = [0.0, 0.04, 0.1, 0.25]
    drv = make_video(folder / "dança vfr.mp4", frames=len(times), size=(63, 47), times=times)
    out = folder / "saída final.mp4"
    r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(tiny512_weights),
                "--backend", "torch", "--crop", "none")
    assert r.returncode == 0, r.stderr
    got = _frame_times(out)
    assert [round(t, 3) for t in got] == times  # output timing follows the input's
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.width, v.height) == (512, 512)
    assert sorted(p.name for p in folder.iterdir()) == sorted([src.name, drv.name, out.name])
