"""Pose-anchor training for real: synth's joints, MediaPipe landmarks for real videos, conversion."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from internet_cli.checkpoint import load_weights, save_weights
from internet_cli.clips.synth import write_dataset
from internet_cli.config import preset
from internet_cli.model import INTERnet
from internet_cli.pose.files import load_pose
from tests.person_media import person_frames, write_video
from tests.training.test_trainer import TRAIN, train_cli


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth-pose")
    write_dataset(root, videos=3, frames=24, size=64, seed=3, fps=30)
    return root


def test_pose_training_reads_synth_joints_and_trains_no_detector(synth, tmp_path):
    run = tmp_path / "run"
    r = train_cli("--data", str(synth), "--run-dir", str(run), "--max-steps", "3", "--anchors", "pose", *TRAIN)
    assert r.returncode == 0, r.stderr
    assert "equivariance" not in r.stderr and "perceptual=" in r.stderr  # no detector: no equivariance terms
    w = load_weights(run / "weights.safetensors")
    assert w.config.motion.anchors == "pose" and w.config.motion.num_anchors == 10
    assert not any(k.startswith("detector.") for k in w.state_dict)


def test_learned_weights_start_a_pose_model_with_all_but_the_detector(synth, tmp_path):
    cfg = preset("tiny")
    cfg = dataclasses.replace(cfg, motion=dataclasses.replace(cfg.motion, num_anchors=10))  # as lite-512 has
    torch.manual_seed(0)
    learned = save_weights(tmp_path / "learned.safetensors", INTERnet(cfg), trained=False)
    run = tmp_path / "run"
    r = train_cli("--data", str(synth), "--run-dir", str(run), "--max-steps", "1", "--anchors", "pose",
                  "-w", str(learned), "--lr", "1e-30", *TRAIN)
    assert r.returncode == 0, r.stderr
    before, after = load_weights(learned).state_dict, load_weights(run / "weights.safetensors").state_dict
    assert not any(k.startswith("detector.") for k in after)
    kept = [k for k in before if not k.startswith("detector.")]
    assert kept == [k for k in after]
    head = ("dense_motion.weights.weight", "dense_motion.weights.bias")  # the part prior starts it at zero
    assert all(after[k].abs().max() < 1e-6 for k in head)  # (one step at lr 1e-30)
    assert all(torch.allclose(before[k].float(), after[k].float(), atol=1e-6) for k in kept if "running" not in k
               and "num_batches" not in k and k not in head)


def test_weights_whose_anchor_count_does_not_fit_are_one_clear_error(synth, tmp_path):
    learned = save_weights(tmp_path / "tiny4.safetensors", INTERnet(preset("tiny")), trained=False)  # 4 anchors
    run = tmp_path / "run"
    r = train_cli("--data", str(synth), "--run-dir", str(run), "--max-steps", "1", "--anchors", "pose",
                  "-w", str(learned), *TRAIN)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("internet:")]
    assert len(errors) == 1 and "do not fit" in errors[0], r.stderr


def test_real_videos_get_mediapipe_landmarks_when_training_starts(tmp_path, astronaut_jpg):
    import cv2

    root = tmp_path / "data"
    (root / "train").mkdir(parents=True)
    astronaut = cv2.cvtColor(cv2.imread(str(astronaut_jpg)), cv2.COLOR_BGR2RGB)
    for i in range(2):
        write_video(root / "train" / f"clip{i}.mp4", person_frames(astronaut, frames=12, size=(320, 240)))
    run = tmp_path / "run"
    r = train_cli("--data", str(root), "--run-dir", str(run), "--max-steps", "2", "--anchors", "pose",
                  *[a if a != "20" else "2" for a in TRAIN], "--loss", "temporal=0")
    assert r.returncode == 0, r.stderr
    track = load_pose(root / "train" / "clip0.pose.npz")
    assert track.origin == "mediapipe" and track.frame_size == (320, 240) and len(track) == 12
    assert track.found.mean() > 0.8
    nose = track.landmarks[track.found][:, 0, :2]
    assert ((nose > 0) & (nose < [320, 240])).all()  # in the frame's own pixels
