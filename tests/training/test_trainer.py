"""The trainer for real: the tiny preset on a small synthetic set, single process and DDP (gloo)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from internet_cli.clips.synth import write_dataset

TRAIN = ["--preset", "tiny", "--batch-size", "2", "--repeats", "4", "--workers", "0", "--epochs", "20",
         "--log-every", "1", "--loss", "perceptual=1"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    write_dataset(root, videos=3, frames=24, size=64, seed=3, fps=30)
    return root


def train_cli(*args: str, launcher: list[str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = (launcher or [sys.executable, "-m", "internet_cli"]) + ["train", *args]
    env = {**os.environ, "INTERNET_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def final_state(run: Path) -> dict[str, torch.Tensor]:
    from internet_cli.training.checkpoints import load_latest

    state = load_latest(run)
    return {**{f"m.{k}": v for k, v in state["model"].items()},
            **{f"d.{k}": v for k, v in state["discriminator"].items()}}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_train_writes_weights_that_animate_loads(synth, tmp_path):
    run = tmp_path / "run"
    r = train_cli("--data", str(synth), "--run-dir", str(run), "--max-steps", "3", *TRAIN)
    assert r.returncode == 0, r.stderr
    for term in ("perceptual", "adversarial", "feature_matching", "equivariance_value", "equivariance_jacobian",
                 "temporal", "discriminator"):
        assert f"{term}=" in r.stderr, term  # every term logged by name
    from internet_cli.checkpoint import load_weights

    w = load_weights(run / "weights.safetensors")
    assert w.trained and w.info["steps"] == 3 and w.config.name == "tiny"
    assert list((run / "tensorboard").iterdir())
    # The run refuses to start over an existing one without --resume.
    r = train_cli("--data", str(synth), "--run-dir", str(run), "--max-steps", "3", *TRAIN)
    assert r.returncode == 2 and "--resume" in r.stderr


def test_the_default_backbone_is_efficientnet_and_a_resumed_run_keeps_its_own(synth, tmp_path):
    from internet_cli.checkpoint import load_weights

    def backbone(run: Path) -> str:
        return load_weights(run / "weights.safetensors").info["loss"]["perceptual_backbone"]

    new = tmp_path / "new"
    r = train_cli("--data", str(synth), "--run-dir", str(new), "--max-steps", "2", *TRAIN)
    assert r.returncode == 0, r.stderr
    assert "perceptual=" in r.stderr and "perceptual backbone efficientnet-lite0" in " ".join(r.stderr.split())
    assert backbone(new) == "efficientnet-lite0"

    old = tmp_path / "old"  # a vgg19 run, resumed without the option: it stays vgg19
    r = train_cli("--data", str(synth), "--run-dir", str(old), "--max-steps", "2", *TRAIN, "--perceptual-backbone", "vgg19")
    assert r.returncode == 0, r.stderr
    r = train_cli("--data", str(synth), "--run-dir", str(old), "--max-steps", "3", "--resume", *TRAIN)
    assert r.returncode == 0, r.stderr
    assert backbone(old) == "vgg19" and load_weights(old / "weights.safetensors").info["steps"] == 3
    # asked for another backbone, it refuses in one line, and the run is as it was
    r = train_cli("--data", str(synth), "--run-dir", str(old), "--max-steps", "4", "--resume", *TRAIN,
                  "--perceptual-backbone", "efficientnet-lite0")
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("internet:")]
    assert r.returncode == 1 and len(errors) == 1 and "was trained with --perceptual-backbone vgg19" in errors[0], r.stderr
    assert "Traceback" not in r.stderr
    assert load_weights(old / "weights.safetensors").info["steps"] == 3


def test_train_accepts_a_mocap_dataset(tmp_path):
    data = tmp_path / "mocap"
    r = subprocess.run([sys.executable, "-m", "internet_cli", "synth", str(data), "--videos", "3", "--frames", "24",
                        "--size", "64", "--seed", "4", "--motion", "mocap"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "mocap motion" in " ".join(r.stderr.split())  # the console writes to stderr
    r = train_cli("--data", str(data), "--run-dir", str(tmp_path / "run"), "--max-steps", "2", *TRAIN)
    assert r.returncode == 0, r.stderr


def test_killed_and_resumed_equals_uninterrupted(synth, tmp_path):
    straight = tmp_path / "straight"
    r = train_cli("--data", str(synth), "--run-dir", str(straight), "--max-steps", "8", "--checkpoint-every", "2", *TRAIN)
    assert r.returncode == 0, r.stderr

    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "internet_cli", "train", "--data", str(synth), "--run-dir", str(killed),
           "--max-steps", "8", "--checkpoint-every", "2", *TRAIN]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "INTERNET_THREADS": "1"})
    deadline = time.time() + 240
    while time.time() < deadline and not (killed / "checkpoints" / "step-00000004.pt").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (killed / "checkpoints" / "step-00000004.pt").exists()
    r = train_cli("--data", str(synth), "--run-dir", str(killed), "--max-steps", "8", "--checkpoint-every", "2",
                  "--resume", *TRAIN)
    assert r.returncode == 0, r.stderr
    assert "resumed" in r.stderr
    assert_same(final_state(straight), final_state(killed))


def test_torchrun_two_ranks_stay_identical(synth, tmp_path):
    run = tmp_path / "ddp"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
                "-m", "internet_cli"]
    r = train_cli("--data", str(synth), "--run-dir", str(run), "--max-steps", "3", *TRAIN, launcher=launcher)
    assert r.returncode == 0, r.stderr[-3000:]
    m = re.search(r"parameter checksums \[([^\]]+)\]", r.stderr)
    assert m, r.stderr[-2000:]
    sums = [float(x) for x in m.group(1).split(",")]
    assert len(sums) == 2 and sums[0] == sums[1]
    assert r.stderr.count("training tiny") == 1  # only rank 0 logs
    assert (run / "weights.safetensors").exists()


def test_progressive_training_at_a_lower_size(synth, tmp_path):
    """--size trains the same network on smaller frames; the weights then run at the full size."""
    from internet_cli.config import LossConfig, TrainConfig, preset
    from internet_cli.training.trainer import RunSpec, Trainer

    cfg = TrainConfig(image_size=32, batch_size=2, repeats=2, workers=0, max_steps=1)
    spec = RunSpec(data=synth, run=tmp_path / "run", model=preset("tiny"), loss=LossConfig(adversarial=0, feature_matching=0),
                   train=cfg)
    trainer = Trainer(spec)
    batch = next(iter(trainer._loader()))
    assert batch["driving"].shape[-2:] == (32, 32) and batch["flow"].shape[-2:] == (32, 32)
    logs = trainer.train_step(batch)
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    trainer.model.eval()
    with torch.no_grad():
        out = trainer.model(batch["source"], batch["driving"])["prediction"]
        full = trainer.model(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))["prediction"]
    assert out.shape[-1] == 32 and full.shape[-1] == 64
    r = train_cli("--data", str(synth), "--run-dir", str(tmp_path / "bad"), "--size", "40", *TRAIN)
    assert r.returncode == 2 and "--size" in r.stderr


def test_fine_tuned_weights_count_the_steps_they_started_from(synth, tmp_path):
    """Weights made with --weights record how many steps their starting weights had (the lineage total)."""
    from internet_cli.checkpoint import load_weights
    from internet_cli.config import LossConfig, TrainConfig, preset
    from internet_cli.training.trainer import RunSpec, Trainer

    def run(name: str, steps: int, start: Path | None) -> dict:
        cfg = TrainConfig(image_size=32, batch_size=2, repeats=2, workers=0, max_steps=steps)
        spec = RunSpec(data=synth, run=tmp_path / name, model=preset("tiny"), train=cfg, init_weights=start,
                       loss=LossConfig(perceptual=0, adversarial=0, feature_matching=0))
        Trainer(spec).fit()
        return load_weights(tmp_path / name / "weights.safetensors").info

    first = run("a", 1, None)
    second = run("b", 2, tmp_path / "a" / "weights.safetensors")
    third = run("c", 1, tmp_path / "b" / "weights.safetensors")
    assert (first["steps"], first["steps_before"]) == (1, 0)
    assert (second["steps"], second["steps_before"]) == (2, 1)
    assert (third["steps"], third["steps_before"]) == (1, 3)
