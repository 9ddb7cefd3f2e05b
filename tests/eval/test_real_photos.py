"""The real-photo scores' bone angles (internet_cli/eval/real_photos.py), on hand-built skeletons."""

import math

import numpy as np
import pytest

from internet_cli.eval.real_photos import RealPhotoScores, bone_angle_error, bone_angles
from internet_cli.pose import skeleton as sk


def _standing() -> np.ndarray:
    """A person facing the camera, arms hanging, every landmark visible (pixels)."""
    lm = np.zeros((sk.NUM_LANDMARKS, 3))
    lm[:, 2] = 1.0
    for side, x in ((0, 240.0), (1, 160.0)):  # left joints on the right of the picture
        sh, el, wr = (sk.L_SHOULDER, sk.L_ELBOW, sk.L_WRIST) if side == 0 else (sk.R_SHOULDER, sk.R_ELBOW, sk.R_WRIST)
        hip, knee, ankle = (sk.L_HIP, sk.L_KNEE, sk.L_ANKLE) if side == 0 else (sk.R_HIP, sk.R_KNEE, sk.R_ANKLE)
        lm[[sh, el, wr], :2] = [[x, 100], [x, 160], [x, 220]]
        lm[[hip, knee, ankle], :2] = [[x - 10 if side == 0 else x + 10, 240], [x, 320], [x, 400]]
    return lm


def test_a_forearm_turned_by_a_known_angle_scores_that_angle_on_that_bone_alone():
    driving = _standing()
    out = driving.copy()
    elbow = out[sk.L_ELBOW, :2]
    a = math.radians(30)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    out[sk.L_WRIST, :2] = elbow + rot @ (out[sk.L_WRIST, :2] - elbow)
    angles = bone_angles(out, driving)
    assert angles["left_forearm"] == pytest.approx(30.0)
    assert all(v == pytest.approx(0.0, abs=1e-6) for k, v in angles.items() if k != "left_forearm")
    assert bone_angle_error(out, driving) == pytest.approx(30.0 / len(sk.LIMB_BONES))


def test_hidden_bones_and_missing_poses_are_not_measured():
    driving, out = _standing(), _standing()
    out[sk.R_WRIST, :2] += [80, -60]  # a wrong forearm, but hidden in the driving frame
    driving[sk.R_WRIST, 2] = 0.1
    angles = bone_angles(out, driving)
    assert math.isnan(angles["right_forearm"])
    assert bone_angle_error(out, driving) == pytest.approx(0.0, abs=1e-6)
    assert all(math.isnan(v) for v in bone_angles(None, driving).values())
    assert math.isnan(bone_angle_error(out, None))


def test_per_bone_pools_frames_and_counts_how_often_each_bone_was_measured():
    nan = math.nan
    names = list(sk.LIMB_BONES)
    frames = [dict.fromkeys(names, 10.0), {**dict.fromkeys(names, 20.0), "left_shin": nan}]
    per = RealPhotoScores(bones=frames).per_bone()
    assert per["left_forearm"] == (15.0, 1.0)
    assert per["left_shin"] == (10.0, 0.5)
    assert all(math.isnan(v) for v in RealPhotoScores().per_bone()["left_shin"])
