import numpy as np
import pytest

from internet_cli.pose import skeleton as sk
from internet_cli.pose.retarget import Retargeter, torso_height
from tests.pose.skeletons import bone_angle, bone_length, rotate_about, standing

BONES = list(sk.LIMB_BONES.values())


def wave(lm: np.ndarray, t: float) -> np.ndarray:
    """``lm`` with the left arm raised by an angle that depends on ``t``, the right forearm bent."""
    out = rotate_about(lm, [sk.L_ELBOW, sk.L_WRIST, sk.L_PINKY, sk.L_INDEX, sk.L_THUMB], sk.L_SHOULDER, -1.2 * t)
    return rotate_about(out, [sk.R_WRIST, sk.R_PINKY, sk.R_INDEX, sk.R_THUMB], sk.R_ELBOW, 0.8 * t)


@pytest.mark.parametrize("driver", [dict(scale=1.4, arm=1.3, leg=1.25), dict(scale=0.7, arm=0.8, leg=0.85)],
                         ids=["tall-driver", "short-driver"])
def test_retargeting_keeps_the_source_bone_lengths_and_takes_the_driving_directions(driver):
    source = standing(scale=1.0, centre=(0.1, 0.05))
    ref = standing(centre=(-0.2, 0.0), **driver)
    retarget = Retargeter(source, ref)
    for t in (0.0, 0.4, 1.0):
        drv = wave(ref, t)
        out = retarget(drv)
        for bone in BONES:
            assert bone_length(out, bone) == pytest.approx(bone_length(source, bone), rel=1e-6)
            assert bone_angle(out, bone) == pytest.approx(bone_angle(drv, bone), abs=1e-6)
        # the body stays where the source is: no jump to the driver's place
        np.testing.assert_allclose(out[list(sk.TORSO), :2], source[list(sk.TORSO), :2], atol=1e-6)


def test_global_motion_is_relative_and_scaled_by_the_torso_heights():
    source = standing(scale=0.8)
    ref = standing(scale=1.6, centre=(0.3, 0.0))
    drv = ref.copy()
    drv[:, 0] += 0.2  # the driver steps right by 0.2
    out = Retargeter(source, ref)(drv)
    shift = out[list(sk.TORSO), :2].mean(0) - source[list(sk.TORSO), :2].mean(0)
    np.testing.assert_allclose(shift, [0.2 * torso_height(source) / torso_height(ref), 0.0], atol=1e-6)


def test_a_foreshortened_driving_bone_shortens_the_source_bone_by_the_same_share():
    source, ref = standing(), standing(arm=1.3)
    drv = ref.copy()
    drv[sk.L_WRIST, :2] = drv[sk.L_ELBOW, :2] + 0.5 * (ref[sk.L_WRIST, :2] - ref[sk.L_ELBOW, :2])
    out = Retargeter(source, ref)(drv)
    bone = sk.LIMB_BONES["left_forearm"]
    assert bone_length(out, bone) == pytest.approx(0.5 * bone_length(source, bone), rel=1e-6)


def test_a_hidden_driving_bone_keeps_its_source_angle_to_its_parent():
    source = standing()
    ref = standing()
    drv = wave(ref, 1.0)
    drv[sk.L_WRIST, 2] = 0.0  # the left forearm is hidden: it turns with the upper arm
    out = Retargeter(source, ref)(drv)
    upper, fore = sk.LIMB_BONES["left_upper_arm"], sk.LIMB_BONES["left_forearm"]
    turn = bone_angle(out, upper) - bone_angle(source, upper)
    assert turn == pytest.approx(-1.2, abs=1e-6)
    assert bone_angle(out, fore) == pytest.approx(bone_angle(source, fore) + turn, abs=1e-6)
    assert out[sk.L_WRIST, 2] == 0.0  # still hidden for part_motion, which then follows the parent too


def test_the_head_turns_with_the_driving_head():
    source, ref = standing(), standing(scale=1.3)
    drv = rotate_about(ref, list(sk.FACE), sk.NOSE, 0.4)
    out = Retargeter(source, ref)(drv)
    v_src = source[sk.L_EAR, :2] - source[sk.R_EAR, :2]
    v_out = out[sk.L_EAR, :2] - out[sk.R_EAR, :2]
    turn = np.arctan2(v_out[1], v_out[0]) - np.arctan2(v_src[1], v_src[0])
    assert turn == pytest.approx(0.4, abs=1e-6)
    assert np.hypot(*v_out) == pytest.approx(np.hypot(*v_src), rel=1e-6)
