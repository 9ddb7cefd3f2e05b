"""End-to-end `internet animate` in a real subprocess on real files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.media import make_audio_only, make_image, make_video


def run_cli(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("INTERNET_DEBUG", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "internet_cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def probe(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(video=0))
        return {"codec": v.codec_context.name, "pix_fmt": v.codec_context.pix_fmt, "size": (v.width, v.height),
                "frames": frames, "fps": v.average_rate, "audio": len(c.streams.audio) > 0}


def video_meta(path: Path) -> tuple[int, Fraction]:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0)), c.streams.video[0].average_rate


def test_real_photo_and_real_video(tmp_path, astronaut_jpg, real_video, tiny512_weights):
    out = tmp_path / "out.mp4"
    r = run_cli("animate", str(astronaut_jpg), str(real_video), "-o", str(out), "-w", str(tiny512_weights),
                "--max-frames", "12")
    assert r.returncode == 0, r.stderr
    assert "UNTRAINED" in r.stderr  # untrained weights are announced loudly
    info = probe(out)
    _, fps = video_meta(real_video)
    assert info == {"codec": "h264", "pix_fmt": "yuv420p", "size": (512, 512), "frames": 12, "fps": fps,
                    "audio": False}
    assert list(tmp_path.iterdir()) == [out]  # no temporary files left behind


def test_full_video_keeps_frame_count_fps_and_audio(tmp_path, tiny512_weights):
    src = make_image(tmp_path / "person.png", size=(300, 400))
    drv = make_video(tmp_path / "drv.mp4", frames=18, fps=Fraction(30000, 1001), size=(320, 240), audio=True)
    out = tmp_path / "out.mp4"
    r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(tiny512_weights), "--batch-size", "4")
    assert r.returncode == 0, r.stderr
    info = probe(out)
    assert info["frames"] == 18 and info["fps"] == Fraction(30000, 1001) and info["audio"]
    assert info["size"] == (512, 512)
    r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(tiny512_weights), "--overwrite",
                "--no-audio", "--side-by-side", "--start", "0.2", "--max-frames", "5")
    assert r.returncode == 0, r.stderr
    info = probe(out)
    assert not info["audio"] and info["frames"] == 5 and info["size"] == (1536, 512)


def test_rotated_video_comes_out_upright(tmp_path, tiny512_weights):
    """Side-by-side output shows the driving frame as the model saw it: upright."""
    src = make_image(tmp_path / "person.png", size=(64, 64))
    plain = make_video(tmp_path / "plain.mp4", frames=3, size=(96, 64))
    rotated = make_video(tmp_path / "rot.mp4", frames=3, size=(96, 64), rotation=90)
    outs = []
    for name, drv in (("a.mp4", plain), ("b.mp4", rotated)):
        out = tmp_path / name
        r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(tiny512_weights), "--side-by-side")
        assert r.returncode == 0, r.stderr
        with av.open(str(out)) as c:
            frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
        outs.append(frame[:, 512:1024].astype(np.float32))
    # The rotated file's upright frame is the plain one turned by 90 degrees (display matrix
    # rotations are counter-clockwise), padded to a square.
    expected = np.rot90(outs[0], k=1)
    assert np.abs(outs[1] - expected).mean() < 12
    assert np.abs(outs[1] - outs[0]).mean() > 2 * np.abs(outs[1] - expected).mean()


@pytest.mark.parametrize("case", ["missing", "text", "directory"])
def test_bad_source(tmp_path, tiny512_weights, case):
    drv = make_video(tmp_path / "drv.mp4", frames=3)
    src = {"missing": tmp_path / "nope.jpg", "directory": tmp_path}.get(case)
    if case == "text":
        src = tmp_path / "notes.jpg"
        src.write_text("not an image")
    out = tmp_path / "out.mp4"
    r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(tiny512_weights))
    _assert_one_line_error(r, out, src.name)


@pytest.mark.parametrize("case", ["text", "audio_only", "missing"])  # zero frames: tests/test_robustness.py
def test_bad_driving(tmp_path, tiny512_weights, case):
    src = make_image(tmp_path / "person.png", size=(64, 64))
    drv = tmp_path / f"{case}.mp4"
    if case == "text":
        drv.write_text("hello")
    elif case == "audio_only":
        make_audio_only(tmp_path / "audio_only.m4a").rename(drv)
    out = tmp_path / "out.mp4"
    r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(tiny512_weights))
    _assert_one_line_error(r, out, drv.name)


def test_output_problems(tmp_path, tiny512_weights):
    src = make_image(tmp_path / "person.png", size=(64, 64))
    drv = make_video(tmp_path / "drv.mp4", frames=3)
    r = run_cli("animate", str(src), str(drv), "-o", str(tmp_path / "missing" / "out.mp4"), "-w", str(tiny512_weights))
    _assert_one_line_error(r, tmp_path / "missing" / "out.mp4", "missing")
    existing = tmp_path / "existing.mp4"
    existing.write_bytes(b"precious")
    r = run_cli("animate", str(src), str(drv), "-o", str(existing), "-w", str(tiny512_weights))
    assert r.returncode == 1 and "--overwrite" in r.stderr
    assert existing.read_bytes() == b"precious"  # nothing of the user's lost


@pytest.mark.parametrize("case", ["same_path", "symlink", "hard_link", "source_photo", "weights", "pose_template",
                                  "save_pose_on_source"])
def test_output_never_replaces_an_input(tmp_path, tiny512_weights, case):
    """The issue's cases, with --overwrite: refused before any model work (one line naming both
    paths, exit 1), and every file is left as it was."""
    src = make_image(tmp_path / "src.png", size=(64, 64))
    drv = make_video(tmp_path / "mine.mp4", frames=6)
    weights = tmp_path / "w.mp4"  # a weights file may have any name
    weights.write_bytes(tiny512_weights.read_bytes())
    out, extra, hit = {
        "same_path": (drv, [], drv),
        "symlink": (tmp_path / "link.mp4", [], drv),
        "hard_link": (tmp_path / "hard.mp4", [], drv),
        "source_photo": (src, [], src),
        "weights": (weights, [], weights),
        "pose_template": (tmp_path / "out.mp4", ["--save-pose", str(tmp_path / "walk.pose.npz")],
                          tmp_path / "walk.pose.npz"),
        "save_pose_on_source": (tmp_path / "out.mp4", ["--save-pose", str(tmp_path / "src.pose.npz")], src),
    }[case]
    if case == "symlink":
        out.symlink_to(drv)
    elif case == "hard_link":
        os.link(drv, out)
    elif case == "pose_template":  # the driving is the motion template --save-pose would write
        (tmp_path / "walk.pose.npz").write_bytes(b"a motion template")
        drv = tmp_path / "walk.pose.npz"
    elif case == "save_pose_on_source":
        os.link(src, tmp_path / "src.pose.npz")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(weights), "--overwrite",
                "--max-frames", "5", *extra)
    assert r.returncode == 1, r.stderr
    lines = [line for line in r.stderr.strip().splitlines() if line.startswith("internet: error")]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    named = str(tmp_path / "src.pose.npz") if case == "save_pose_on_source" else str(extra[1] if extra else out)
    assert f"{named}: the " in lines[0] and f" {hit};" in lines[0], lines[0]
    assert "would write over the" in lines[0] and "backend:" not in r.stderr  # no model was opened
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_path_refusal_comes_before_the_weights_are_read(tmp_path):
    src = make_image(tmp_path / "src.png", size=(64, 64))
    drv = make_video(tmp_path / "mine.mp4", frames=3)
    broken = tmp_path / "w.safetensors"
    broken.write_bytes(b"not weights")
    r = run_cli("animate", str(src), str(drv), "-o", str(drv), "-w", str(broken), "--overwrite")
    assert r.returncode == 1 and "would write over the driving video" in r.stderr, r.stderr
    assert "not a valid weights file" not in r.stderr


@pytest.mark.parametrize("name, demuxer, brand, codec, audio", [
    ("out.webm", "matroska,webm", None, "vp9", "opus"),
    ("out.mkv", "matroska,webm", None, "h264", "aac"),
    ("out.mov", "mov,mp4,m4a,3gp,3g2,mj2", "qt  ", "h264", "aac"),
])
def test_output_extension_picks_the_format(tmp_path, tiny512_weights, name, demuxer, brand, codec, audio):
    """The container and codecs come from the name, decoded back with PyAV (audio carried over)."""
    src = make_image(tmp_path / "person.png", size=(64, 64))
    drv = make_video(tmp_path / "drv.mp4", frames=4, size=(64, 64), audio=True)
    out = tmp_path / name
    r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(tiny512_weights), "--max-frames", "3",
                "--crop", "none")
    assert r.returncode == 0, r.stderr
    with av.open(str(out)) as c:
        assert c.format.name == demuxer and c.metadata.get("major_brand") == brand
        assert c.streams.video[0].codec_context.name == codec
        assert [a.codec_context.name for a in c.streams.audio] == [audio]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 3 and frames[0].shape == (512, 512, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["drv.mp4", "person.png", name])


@pytest.mark.parametrize("name", ["out.txt", "out"])
def test_output_without_a_video_extension_is_refused(tmp_path, tiny512_weights, name):
    src = make_image(tmp_path / "person.png", size=(64, 64))
    drv = make_video(tmp_path / "drv.mp4", frames=3)
    out = tmp_path / name
    r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(tiny512_weights))
    _assert_one_line_error(r, out, name)
    assert ".mp4, .mov, .mkv, .webm" in r.stderr and "backend:" not in r.stderr


@pytest.mark.parametrize("case", ["missing", "truncated", "pickle", "version"])
def test_bad_weights(tmp_path, tiny512_weights, case):
    src = make_image(tmp_path / "person.png", size=(64, 64))
    drv = make_video(tmp_path / "drv.mp4", frames=3)
    w = tmp_path / "w.safetensors"
    if case == "truncated":
        w.write_bytes(tiny512_weights.read_bytes()[:5000])
    elif case == "pickle":
        import pickle

        w.write_bytes(pickle.dumps({"a": 1}))
    elif case == "version":
        from safetensors.torch import load_file, save_file

        from internet_cli.checkpoint import read_metadata

        meta = read_metadata(tiny512_weights)
        meta["format_version"] = "999"
        save_file(load_file(str(tiny512_weights)), str(w), metadata=meta)
    out = tmp_path / "out.mp4"
    r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(w))
    _assert_one_line_error(r, out, "w.safetensors")


def test_debug_variable_shows_traceback(tmp_path, tiny512_weights):
    drv = make_video(tmp_path / "drv.mp4", frames=3)
    r = run_cli("animate", str(tmp_path / "nope.jpg"), str(drv), "-o", str(tmp_path / "o.mp4"),
                "-w", str(tiny512_weights), env={"INTERNET_DEBUG": "1"})
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_ctrl_c_leaves_no_partial_output(tmp_path, tiny512_weights):
    src = make_image(tmp_path / "person.png", size=(64, 64))
    drv = make_video(tmp_path / "drv.mp4", frames=400, size=(64, 64))
    out = tmp_path / "out.mp4"
    env = {**os.environ, "INTERNET_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "internet_cli", "animate", str(src), str(drv), "-o", str(out),
                             "-w", str(tiny512_weights)], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(".out.mp4") for p in tmp_path.iterdir()):
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    said = [line for line in err.splitlines() if "interrupted" in line]
    assert said == ["internet: interrupted: nothing written"], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drv.mp4", "person.png"]


def _assert_one_line_error(r: subprocess.CompletedProcess, out: Path, name: str) -> None:
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = [line for line in r.stderr.strip().splitlines() if line.startswith("internet: error")]
    assert len(lines) == 1, r.stderr
    assert name in lines[0], lines[0]
    assert "Traceback" not in r.stderr
    assert not out.exists()
