"""DeepMimic motion capture for the synthetic dancers (clips/mocap.py), on the real clips of the pybullet wheel."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest

from internet_cli.clips import mocap
from internet_cli.clips.synth import arm_angles, write_dataset
from internet_cli.errors import InputError


def _rest_frame(**joints: float) -> np.ndarray:
    """One DeepMimic frame: root 0.84 up, every rotation the identity, then ``name=angle`` changes
    (``l_shoulder_x``: the left shoulder turned about X; ``r_elbow``: the right elbow's angle)."""
    f = np.zeros(44)
    f[0], f[2] = 1 / 30, 0.84
    for start in (4, 8, 12, 16, 21, 25, 30, 35, 39):
        f[start] = 1.0  # w of each quaternion
    for name, angle in joints.items():
        if name == "l_shoulder_x":
            f[39:43] = (math.cos(angle / 2), math.sin(angle / 2), 0, 0)
        elif name == "r_elbow":
            f[29] = angle
        elif name == "r_hip_x":
            f[16:20] = (math.cos(angle / 2), math.sin(angle / 2), 0, 0)
    return f[None]


def _angles(frame, yaw=0.0):
    joints = mocap.forward_kinematics(frame)
    uv = mocap.project(joints, yaw, 0.0, mocap.heading_of(frame))
    return {k: float(np.degrees(v[0])) for k, v in mocap.renderer_angles(uv, joints).items()}


def test_every_clip_loads_from_the_wheel():
    for name in mocap.CLIPS:
        clip = mocap.load_clip(name)
        assert clip.frames.shape[1] == 44 and len(clip.frames) >= 25 and 1 / 61 < clip.dt < 1 / 15
        joints = mocap.forward_kinematics(clip.frames)
        head_over_feet = joints[:, 2, 1] - joints[:, [11, 14], 1].min(1)
        assert (head_over_feet > 0.9).all(), name  # upright all through: a person about 1.4 units tall


def test_the_rest_pose_gives_the_renderers_rest_angles():
    assert all(abs(v) < 1e-6 for v in _angles(_rest_frame()).values())


def test_a_raised_left_arm_is_abduction_on_the_pictures_right():
    """The figure's left is on the picture's right (s = +1), as synth draws it."""
    a = _angles(_rest_frame(l_shoulder_x=math.radians(70)))  # about +X: down turns towards -Z, the left
    assert a["abd1"] == pytest.approx(70, abs=1e-4) and abs(a["abd-1"]) < 1e-6
    assert a["elbow1"] == pytest.approx(0, abs=1e-6)
    assert _angles(_rest_frame(l_shoulder_x=math.radians(-30)))["abd1"] == pytest.approx(-30, abs=1e-4)  # across


def test_a_bent_elbow_seen_from_the_side_is_that_angle():
    a = _angles(_rest_frame(r_elbow=math.radians(50)), yaw=math.pi / 2)  # camera on the figure's right
    assert abs(a["elbow-1"]) == pytest.approx(50, abs=1e-4)
    assert _angles(_rest_frame(r_elbow=math.radians(50)))["elbow-1"] == pytest.approx(0, abs=1e-6)  # frontal: along the view


def test_mirroring_swaps_the_sides():
    frame = np.repeat(_rest_frame(l_shoulder_x=math.radians(70), r_hip_x=math.radians(-20)), 2, axis=0)
    clip = mocap.Clip("test", 1 / 30, frame)
    plain = mocap._clip_curves(clip, mocap.Camera(0.0, 0.0, False))
    mirrored = mocap._clip_curves(clip, mocap.Camera(0.0, 0.0, True))
    assert math.degrees(plain["abd1"][0]) == pytest.approx(70, abs=1e-4)
    assert math.degrees(plain["hip-1"][0]) == pytest.approx(20, abs=1e-4)  # the right leg out, to the picture's left
    for key in ("abd", "hip"):
        np.testing.assert_allclose(mirrored[f"{key}-1"], plain[f"{key}1"], atol=1e-9)
        np.testing.assert_allclose(mirrored[f"{key}1"], plain[f"{key}-1"], atol=1e-9)


def test_no_two_videos_share_a_motion():
    motions = [arm_angles(seed, 60, motion="mocap") for seed in range(8)]
    for i in range(8):
        assert (np.ptp(motions[i], axis=0) > 5).any(), i  # the arms move
        for j in range(i):
            assert np.abs(motions[i] - motions[j]).max() > 10, (i, j)
    np.testing.assert_array_equal(arm_angles(3, 60, motion="mocap"), motions[3])  # deterministic
    np.testing.assert_allclose(arm_angles(3, 20, motion="mocap"), motions[3][:20])  # not on the length


def test_the_curves_stay_in_the_renderers_limits_and_cover_the_video():
    for seed in range(6):
        m = mocap.sample_motion(np.random.default_rng(seed), duration=4.0, fps=30)
        assert m.times[0] <= -0.5 and m.times[-1] >= 4.5 and len(m.clips) >= 1
        lo, hi = mocap.LIMITS["hip"]
        for s in (-1, 1):
            assert (np.degrees(m.curves[f"hip{s}"]) >= lo - 1e-6).all()
            assert (np.degrees(m.curves[f"hip{s}"]) <= hi + 1e-6).all()
        assert (np.abs(m.curves["sway"]) <= 0.08).all() and (m.curves["bob"] <= 0).all()
        steps = np.degrees(np.abs(np.concatenate([np.diff(m.curves[k]) for k in m.curves if k not in ("sway", "bob")])))
        # Continuous at 30 fps, across the cross-fades and the range limits too (no flip of a limb to
        # the other end of its range); a fast real swing may still take a few tens of degrees.
        assert np.percentile(steps, 99) < 30 and steps.max() < 90, seed


def test_write_dataset_records_each_videos_clips(tmp_path):
    write_dataset(tmp_path, videos=2, frames=4, size=64, seed=1, motion="mocap")
    meta = json.loads((tmp_path / "synth.json").read_text())
    assert meta["args"]["motion"] == "mocap" and [m["video"] for m in meta["mocap"]] == ["synth_0000.mp4", "synth_0001.mp4"]
    assert all(set(m["clips"]) <= set(mocap.CLIPS) for m in meta["mocap"])


def test_without_pybullet_it_is_one_line_naming_the_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pybullet_data" else real(name, *a))
    with pytest.raises(InputError, match=r"pip install 'internet-cli\[train\]'"):
        write_dataset("/nonexistent/never-written", videos=1, frames=2, size=32, seed=0, motion="mocap")
    with pytest.raises(ValueError, match="motion must be one of periodic, mocap"):
        write_dataset("/nonexistent/never-written", videos=1, frames=2, size=32, seed=0, motion="ballet")
