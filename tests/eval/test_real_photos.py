"""The real-photo scores' bone angles (internet_cli/eval/real_photos.py), on synthetic skeletons."""

import math

import pytest

from internet_cli.eval.real_photos import RealPhotoScores, bone_angle_error, bone_angles
from internet_cli.pose import skeleton as sk
from tests.pose.skeletons import rotate_about, standing


def test_a_forearm_turned_by_a_known_angle_scores_that_angle_on_that_bone_alone():
    driving = standing()
    out = rotate_about(driving, [sk.L_WRIST], sk.L_ELBOW, math.radians(30))
    angles = bone_angles(out, driving)
    assert angles["left_forearm"] == pytest.approx(30.0)
    assert all(v == pytest.approx(0.0, abs=1e-6) for k, v in angles.items() if k != "left_forearm")
    assert bone_angle_error(out, driving) == pytest.approx(30.0 / len(sk.LIMB_BONES))


def test_hidden_bones_and_missing_poses_are_not_measured():
    driving, out = standing(), standing()
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
