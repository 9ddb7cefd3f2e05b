"""Pose-mode motion for animate: the source's own pose gives its own anchors; modes; a missed frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from internet_cli.pose import skeleton as sk
from internet_cli.pose.parts import to_pixels
from internet_cli.runtime.pose_motion import DrivingPose
from tests.pose.skeletons import rotate_about, standing

SIZE = 512
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


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
    assert pose.missed == 2  # the frames in which no person was found, for the user's warning


def test_the_parts_hidden_in_the_source_are_named_for_the_user():
    assert DrivingPose(pixels(standing()), SIZE, fps=30).hidden_source_parts == ()
    lm = standing()
    lm[sk.L_WRIST, 2] = 0.2  # the left hand behind the back
    lm[[sk.R_KNEE, sk.R_ANKLE], 2] = 0.1  # the right leg outside the photo
    hidden = DrivingPose(pixels(lm), SIZE, fps=30).hidden_source_parts
    assert hidden == ("left forearm", "right thigh", "right shin")


@pytest.mark.parametrize("crop", ["auto", "none"])
def test_each_driving_frame_goes_through_mediapipe_once(tmp_path, astronaut_jpg, tiny512_pose_weights, monkeypatch,
                                                        crop):
    """With the person crop, the pose step reuses the crop tracker's landmarks: one detection per
    driving frame either way, plus one for the source."""
    from internet_cli.checkpoint import load_weights
    from internet_cli.pose.estimator import PoseEstimator
    from internet_cli.runtime.animator import TorchAnimator
    from internet_cli.runtime.pipeline import AnimateOptions, prepare, run

    calls = []
    real_call = PoseEstimator.__call__
    monkeypatch.setattr(PoseEstimator, "__call__", lambda self, rgb: calls.append(rgb.shape) or real_call(self, rgb))
    animator = TorchAnimator(load_weights(tiny512_pose_weights), torch.device("cpu"))
    opts = AnimateOptions(audio=False, crop=crop, max_frames=6, batch_size=2)
    job = prepare(astronaut_jpg, EXAMPLES / "driving.mp4", tmp_path / "out.mp4", animator.size, opts)
    result = run(job, animator, opts)
    assert result.frames == 6 and (tmp_path / "out.mp4").is_file()
    assert len(calls) == 1 + 6, calls
    assert len(job.source_landmarks) == 33
