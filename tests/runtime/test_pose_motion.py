"""Pose-mode motion for animate: the source's own pose gives its own anchors; modes; a missed frame."""

from __future__ import annotations

import numpy as np
import pytest

from internet_cli.pose import skeleton as sk
from internet_cli.pose.parts import to_pixels
from internet_cli.runtime.pose_motion import DrivingPose
from tests.pose.skeletons import rotate_about, standing

SIZE = 512


def pixels(lm):
    return to_pixels(lm, SIZE).astype(np.float32)


@pytest.mark.parametrize("mode", ["retarget", "relative", "absolute"])
def test_a_driver_that_stands_as_the_source_does_leaves_the_source_still(mode):
    src = pixels(standing())
    pose = DrivingPose(src, SIZE, fps=30, mode=mode, smooth=False)
    kp_s, jac_s = pose.source_anchors()
    for _ in range(3):
        kp, jac = pose(src)
        np.testing.assert_allclose(kp, kp_s[0], atol=1e-5)
        np.testing.assert_allclose(jac, jac_s[0], atol=1e-5)


def test_retarget_moves_a_small_source_by_a_big_driver_s_motion_in_proportion():
    src = pixels(standing(scale=0.6))
    ref = standing(scale=1.2, centre=(0.2, 0.0))
    pose = DrivingPose(src, SIZE, fps=30, mode="retarget", smooth=False)
    pose(pixels(ref))
    raised = rotate_about(ref, [sk.L_ELBOW, sk.L_WRIST, sk.L_PINKY, sk.L_INDEX, sk.L_THUMB], sk.L_SHOULDER, -1.5)
    kp, _ = pose(pixels(raised))
    kp_s, _ = pose.source_anchors()
    moved = np.linalg.norm(kp - kp_s[0], axis=1)
    assert moved[2] > 0.05 and moved[3] > 0.1  # the left upper arm and forearm rise
    assert moved[[0, 1, 4, 5, 6, 7, 8, 9]].max() < 1e-5  # nothing else moves


def test_no_person_before_the_first_detection_keeps_the_source_and_then_holds_the_last_pose():
    src = pixels(standing())
    pose = DrivingPose(src, SIZE, fps=30, mode="absolute")
    kp_s, _ = pose.source_anchors()
    np.testing.assert_allclose(pose(None)[0], kp_s[0])
    shifted = pixels(standing(centre=(0.1, 0.0)))
    first = pose(shifted)[0]
    np.testing.assert_allclose(pose(None)[0], first)
    assert pose.track[0] is None and pose.track[2] is not None
