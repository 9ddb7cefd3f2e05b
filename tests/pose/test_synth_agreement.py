"""internet synth's exact joints against real MediaPipe on synthetic frames (docs/pose.md)."""

import numpy as np

from internet_cli.clips.synth import render_video
from internet_cli.pose import skeleton as sk
from internet_cli.pose.estimator import PoseEstimator

LIMBS = (sk.NOSE, sk.L_SHOULDER, sk.R_SHOULDER, sk.L_ELBOW, sk.R_ELBOW, sk.L_WRIST, sk.R_WRIST, sk.L_HIP, sk.R_HIP,
         sk.L_KNEE, sk.R_KNEE, sk.L_ANKLE, sk.R_ANKLE)


def test_mediapipe_finds_synth_joints_where_the_renderer_put_them():
    shares, found = [], 0
    with PoseEstimator(video=False) as est:
        for seed in (1000, 1001, 1002):
            video = render_video(seed, 31, 512)
            for t in (0, 15, 30):
                mp = est(video.frames[t])
                if mp is None:
                    continue
                found += 1
                gt = video.landmarks[t]
                vis = mp[list(LIMBS), 2] >= sk.VISIBLE
                d = np.hypot(*(mp[list(LIMBS), :2] - gt[list(LIMBS), :2]).T)[vis]
                shares.extend(d / np.ptp(gt[:, 1]))
                # left and right are the person's own on both sides (a swap would be a whole shoulder width)
                assert np.hypot(*(mp[sk.L_WRIST, :2] - gt[sk.L_WRIST, :2])) < \
                    np.hypot(*(mp[sk.L_WRIST, :2] - gt[sk.R_WRIST, :2]))
    assert found >= 7
    # benchmarks/pose_agreement.py on 12 videos: median 0.015 of the figure's height, 90% within 0.059
    assert np.median(shares) < 0.025 and np.percentile(shares, 90) < 0.09
