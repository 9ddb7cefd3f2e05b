"""The shipped weights and their model cards: the pose-anchor default (weights/internet-512.safetensors)
and the learned-anchor second file (weights/internet-512-learned.safetensors)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from internet_cli.checkpoint import DEFAULT_WEIGHTS, load_weights
from internet_cli.config import preset, with_options
from internet_cli.runtime.animator import TorchAnimator

LEARNED = DEFAULT_WEIGHTS.with_name("internet-512-learned.safetensors")
CARDS = {DEFAULT_WEIGHTS: DEFAULT_WEIGHTS.parent / "README.md", LEARNED: DEFAULT_WEIGHTS.parent / "internet-512-learned.md"}
EXAMPLES = DEFAULT_WEIGHTS.parent.parent / "examples"


def _shipped_pose_config():
    """The pose preset with the ungated pass-through and the composition left to the part prior
    (the model card says why)."""
    cfg = with_options(preset("lite-512", anchors="pose"), pass_through="ungated")
    return dataclasses.replace(cfg, motion=dataclasses.replace(cfg.motion, residual_bound=0.0))


@pytest.mark.parametrize("path, config", [(DEFAULT_WEIGHTS, _shipped_pose_config()),
                                          (LEARNED, preset("lite-512"))], ids=["pose", "learned"])
def test_each_card_describes_its_file(path: Path, config):
    w = load_weights(path)
    assert w.trained and w.config == config
    assert path.stat().st_size < 60 * 2**20
    card = CARDS[path].read_text(encoding="utf-8")
    assert hashlib.sha256(path.read_bytes()).hexdigest() in card
    steps = re.search(r"Steps: (\d+)", card)
    assert steps and int(steps.group(1)) == w.info["steps"] + w.info.get("steps_before", 0)


def test_learned_weights_driven_by_the_source_itself_give_back_the_source():
    """Self-reconstruction of the example source at 512 (L1 0.0005); fresh lite-512 weights give 0.019."""
    source = np.asarray(Image.open(EXAMPLES / "source.png").convert("RGB"))
    animator = TorchAnimator(load_weights(LEARNED), torch.device("cpu"))
    state = animator.encode_source(source)
    out = animator.animate(state, source[None], animator.reference(state, source, relative=True, adapt_scale=False))
    assert out.shape == (1, 512, 512, 3)
    assert np.abs(out[0].astype(np.float64) - source).mean() / 255 < 0.008


def test_the_pose_default_driven_by_the_source_s_own_pose_gives_back_the_source():
    from internet_cli.runtime.pose_motion import DrivingPose, detect_source

    source = np.asarray(Image.open(EXAMPLES / "source.png").convert("RGB"))
    pose = DrivingPose(detect_source(source), 512, 30.0, smooth=False)
    animator = TorchAnimator(load_weights(DEFAULT_WEIGHTS), torch.device("cpu"))
    state = animator.encode_source(source, pose.source_anchors())
    out = animator.animate_pose(state, *pose.source_anchors())
    assert np.abs(out[0].astype(np.float64) - source).mean() / 255 < 0.01


def test_the_pose_default_transfers_motion_on_an_unseen_synthetic_dancer():
    """Self-imitation as `internet evaluate` does it, on a dancer of a seed no training video had:
    frame 0 is the source, the clip's exact joints drive it, and later frames are reconstructed far
    better than by copying the source (the held-out set in the card: L1 0.42x copy-source's)."""
    from internet_cli.clips.synth import render_video
    from internet_cli.pose.parts import normalise, part_motion

    video = render_video(4242, 41, 512)
    animator = TorchAnimator(load_weights(DEFAULT_WEIGHTS), torch.device("cpu"))
    lm = normalise(video.landmarks, 512)
    first = part_motion(lm[0], lm[0])
    state = animator.encode_source(video.frames[0], (first["kp_source"][None], first["jac_source"][None]))
    model, copy = [], []
    for t in (20, 30, 40):
        m = part_motion(lm[0], lm[t])
        out = animator.animate_pose(state, m["kp_driving"][None], m["jac_driving"][None])[0]
        target = video.frames[t].astype(np.float64)
        model.append(np.abs(out - target).mean() / 255)
        copy.append(np.abs(video.frames[0] - target).mean() / 255)
    assert np.mean(copy) > 0.01  # the dancer has moved
    # 0.71x with the shipped file; 0.53x with the same tensors without the limb cores, which
    # carry some of this dancer's skirt away with her hanging forearm (weights/README.md)
    assert np.mean(model) < 0.8 * np.mean(copy)


def test_the_default_weights_move_a_real_photo(tmp_path):
    """opencv-doc's basketball1.png, its left man (whole body), driven by the example dancer for 40
    frames: a person in every output frame, his face kept, the background still, and the limbs
    nearer the driving directions than the unmoved photo's (benchmarks/pose_following.py, 2026-12-07:
    12.9 degrees against copy-source's 48.2 on this pair)."""
    import cv2

    from internet_cli.eval.real_photos import RealPhotoScorer, RealPhotoScores, bone_angle_error
    from internet_cli.runtime.backends import open_animator, resolve_model
    from internet_cli.runtime.pipeline import AnimateOptions, prepare, run
    from tests.conftest import OPENCV_DATA

    if not (OPENCV_DATA / "basketball1.png").is_file():
        pytest.skip("opencv-doc sample data is not installed (apt-get install opencv-doc)")
    photo = tmp_path / "man.png"
    cv2.imwrite(str(photo), cv2.imread(str(OPENCV_DATA / "basketball1.png"))[:, :230])
    out = tmp_path / "out.mp4"
    opts = AnimateOptions(crop="auto", side_by_side=True, max_frames=40, audio=False)
    job = prepare(photo, EXAMPLES / "driving.mp4", out, 512, opts)
    run(job, open_animator(resolve_model(None), "torch", "cpu", log=lambda _m: None), opts)
    scores, copy = RealPhotoScores(), []
    scorer = None
    with av.open(str(out)) as c:
        for frame in c.decode(video=0):
            img = frame.to_ndarray(format="rgb24")
            src, drv, output = (np.ascontiguousarray(img[:, i * 512:(i + 1) * 512]) for i in range(3))
            scorer = scorer or RealPhotoScorer(src)
            driving_pose = scorer.driving_pose(drv)
            scorer.add(scores, output, driving_pose)
            copy.append(bone_angle_error(scorer.source_pose, driving_pose))
    scorer.close()
    s = scores.summary()
    assert s["frames"] == 40 and s["no_person"] == 0.0
    assert s["face"] > 0.6 and s["background"] < 0.01
    assert s["bone_angle"] < 0.85 * np.nanmean(copy)
