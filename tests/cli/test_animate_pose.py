"""`internet animate` with a pose-anchor model, end to end on real photos (real MediaPipe, real PyAV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.cli.test_animate import probe, run_cli
from tests.media import make_image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_real_photo_animated_by_the_example_dancer(tmp_path, astronaut_jpg, tiny512_pose_weights,
                                                     tiny512_pose_onnx, backend):
    out = tmp_path / "out.mp4"
    weights = tiny512_pose_weights if backend == "torch" else tiny512_pose_onnx
    r = run_cli("animate", str(astronaut_jpg), str(EXAMPLES / "driving.mp4"), "-o", str(out), "-w", str(weights),
                "--backend", backend, "--max-frames", "8", "--side-by-side")
    assert r.returncode == 0, r.stderr
    info = probe(out)
    assert info["size"] == (1536, 512) and info["frames"] == 8
    assert list(tmp_path.iterdir()) == [out]


def test_a_photo_without_a_person_is_one_clear_error_and_no_output(tmp_path, tiny512_pose_weights):
    src = make_image(tmp_path / "flat.png", size=(300, 300))
    out = tmp_path / "out.mp4"
    r = run_cli("animate", str(src), str(EXAMPLES / "driving.mp4"), "-o", str(out), "-w", str(tiny512_pose_weights),
                "--backend", "torch", "--crop", "none", "--max-frames", "4")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("internet:")]
    assert len(errors) == 1 and "no person found" in errors[0], r.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["flat.png"]


def test_a_driving_video_without_a_person_warns_once_and_still_writes(tmp_path, astronaut_jpg, tiny512_pose_weights):
    from tests.media import make_video

    driving = make_video(tmp_path / "empty.mp4", frames=5, size=(128, 96))
    out = tmp_path / "out.mp4"
    r = run_cli("animate", str(astronaut_jpg), str(driving), "-o", str(out), "-w", str(tiny512_pose_weights),
                "--backend", "torch")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stderr.split())  # rich wraps long lines
    assert text.count("no person found in") == 1 and "no person found in 5 of 5 driving frames" in text, text
    # the astronaut photo ends at her waist: the legs are named as parts that do not follow the driver
    assert "source: the photo does not show the" in text and "left thigh" in text and "right shin" in text, text
    assert probe(out)["frames"] == 5


def test_save_pose_then_drive_another_photo_with_the_template(tmp_path, astronaut_jpg, tiny512_pose_weights):
    from internet_cli.pose.files import load_pose

    template = tmp_path / "dance.pose.npz"
    first = tmp_path / "first.mp4"
    r = run_cli("animate", str(astronaut_jpg), str(EXAMPLES / "driving.mp4"), "-o", str(first), "-w",
                str(tiny512_pose_weights), "--backend", "torch", "--max-frames", "6", "--save-pose", str(template))
    assert r.returncode == 0, r.stderr
    track = load_pose(template)
    assert len(track) == 6 and track.found.all() and track.frame_size == (512, 512) and track.origin == "animate"
    assert track.fps == 30
    second = tmp_path / "second.mp4"
    r = run_cli("animate", str(EXAMPLES / "source.png"), str(template), "-o", str(second), "-w",
                str(tiny512_pose_weights), "--backend", "torch", "--side-by-side")
    assert r.returncode == 0, r.stderr
    info = probe(second)
    assert info["frames"] == 6 and info["size"] == (1536, 512) and not info["audio"]
    # an existing template is not replaced without --overwrite, and nothing is written
    again = tmp_path / "again.mp4"
    r = run_cli("animate", str(astronaut_jpg), str(EXAMPLES / "driving.mp4"), "-o", str(again), "-w",
                str(tiny512_pose_weights), "--backend", "torch", "--max-frames", "2", "--save-pose", str(template))
    assert r.returncode == 1 and not again.exists() and load_pose(template).landmarks.shape == track.landmarks.shape


def test_a_template_needs_a_pose_model(tmp_path, astronaut_jpg, tiny512_weights, tiny512_pose_weights):
    template = tmp_path / "t.pose.npz"
    r = run_cli("animate", str(astronaut_jpg), str(EXAMPLES / "driving.mp4"), "-o", str(tmp_path / "a.mp4"), "-w",
                str(tiny512_pose_weights), "--backend", "torch", "--max-frames", "2", "--save-pose", str(template))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "b.mp4"
    r = run_cli("animate", str(astronaut_jpg), str(template), "-o", str(out), "-w", str(tiny512_weights),
                "--backend", "torch")
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("internet:")]
    assert r.returncode == 1 and len(errors) == 1 and "pose-anchor model" in errors[0], r.stderr
    assert not out.exists()
