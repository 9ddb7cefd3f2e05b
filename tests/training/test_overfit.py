"""The tiny preset, trained for a few hundred steps on a two-video synthetic set with the paper's
losses, reconstructs those videos better than before and better than copying the source frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from internet_cli.config import LossConfig, TrainConfig, preset
from internet_cli.clips.frames import FrameStore
from internet_cli.clips.layout import scan_split
from internet_cli.clips.synth import write_dataset
from internet_cli.training.trainer import RunSpec, Trainer


def reconstruction_l1(model, root: Path) -> tuple[float, float]:
    """Self-reconstruction (source = frame 0) L1 of the model and of the copy-source baseline."""
    model.eval()
    ours, copy = [], []
    for entry in scan_split(root, "train"):
        store = FrameStore(entry, 64)
        frames = torch.from_numpy(np.stack([store[i] for i in range(len(store))])).permute(0, 3, 1, 2).float() / 255
        with torch.no_grad():
            pred = model(frames[:1].expand(len(frames), -1, -1, -1), frames)["prediction"]
        ours.append((pred - frames).abs().mean().item())
        copy.append((frames[:1] - frames).abs().mean().item())
    model.train()
    return float(np.mean(ours)), float(np.mean(copy))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.timeout(1500)
def test_tiny_preset_overfits_two_videos(tmp_path):
    torch.set_num_threads(2)
    root = tmp_path / "data"
    # fps=6: the dancers move several pixels per frame, so copying the source is a real baseline.
    write_dataset(root, videos=3, frames=24, size=64, seed=5, fps=6, test_fraction=0.0)
    assert len(scan_split(root, "train")) == 2  # the third video is the held-out test split
    loss = LossConfig(perceptual=1.0, adversarial=0.0, feature_matching=0.0, temporal=1.0)
    # lr 1e-3: at 2e-3 the 300 steps were chaotic, the same seed passing or failing as the order of
    # the float sums changed with the threads (this test printed L1 after 0.0227 and 0.0182 on the
    # same machine); at 1e-3 it printed 0.0190, copy-source 0.0202 (2026-12-07, AMD EPYC).
    cfg = TrainConfig(epochs=1000, batch_size=4, repeats=8, lr=1e-3, workers=0, max_steps=300,
                      checkpoint_every=10**6, log_every=100, sample_every=10**6)
    trainer = Trainer(RunSpec(data=root, run=tmp_path / "run", model=preset("tiny"), loss=loss, train=cfg))
    before, copy_source = reconstruction_l1(trainer.model, root)
    trainer.fit()
    after, _ = reconstruction_l1(trainer.model, root)
    print(f"L1 before {before:.4f}, after {after:.4f}, copy-source {copy_source:.4f}")
    assert after < 0.75 * before
    assert after < copy_source
