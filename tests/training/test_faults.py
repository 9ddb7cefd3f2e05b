"""Training under faults: SIGTERM, a corrupt latest checkpoint, non-finite losses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from internet_cli.config import LossConfig, TrainConfig, preset
from internet_cli.clips.synth import write_dataset
from internet_cli.training.checkpoints import list_checkpoints, load_latest
from internet_cli.training.trainer import RunSpec, Trainer
from tests.training.test_trainer import TRAIN


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    write_dataset(root, videos=2, frames=12, size=64, seed=5, fps=30)
    return root


def make_trainer(data: Path, run: Path, **train) -> Trainer:
    cfg = dict(batch_size=2, repeats=4, workers=0, epochs=20, log_every=1, sample_every=10_000,
               checkpoint_every=1, keep_checkpoints=3)
    cfg.update(train)
    torch.set_num_threads(1)
    spec = RunSpec(data=data, run=run, model=preset("tiny"),
                   loss=LossConfig(perceptual=0.0, temporal_mode="none", discriminator_channels=8), train=TrainConfig(**cfg), device="cpu")
    return Trainer(spec)


def test_nan_loss_skips_the_step_and_is_counted(synth, tmp_path):
    trainer = make_trainer(synth, tmp_path / "run", max_steps=3, checkpoint_every=1000)
    real = trainer.g_step_module
    calls = []

    def poisoned(batch):
        losses, out = real(batch)
        calls.append(trainer.step)
        if trainer.step == 1:  # the second step: one term goes NaN
            name = next(iter(losses))
            losses = {**losses, name: losses[name] * float("nan")}
        return losses, out

    trainer.g_step_module = poisoned
    before = {}

    def snapshot(step, total, logs):
        before[step] = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    trainer.on_log = snapshot
    trainer.fit()
    assert calls == [0, 1, 2]
    assert trainer.skipped_steps == 1
    # the skipped step changed nothing; the others did
    changed = [k for k in before[1] if not torch.equal(before[1][k], before[2][k])]
    assert changed == [], changed
    assert any(not torch.equal(before[2][k], before[3][k]) for k in before[2])
    assert all(torch.isfinite(v).all() for v in trainer.model.state_dict().values() if v.is_floating_point())
    assert load_latest(trainer.spec.run)["skipped_steps"] == 1
    from internet_cli.checkpoint import load_weights

    assert load_weights(trainer.spec.run / "weights.safetensors").info["skipped_steps"] == 1


def test_corrupt_latest_checkpoint_falls_back_to_previous(synth, tmp_path):
    run = tmp_path / "run"
    make_trainer(synth, run, max_steps=2).fit()
    names = [p.name for p in list_checkpoints(run)]
    assert names == ["step-00000001.pt", "step-00000002.pt"]
    latest = list_checkpoints(run)[-1]
    latest.write_bytes(latest.read_bytes()[:1000])  # cut short: the disk filled up, the node died...
    resumed = make_trainer(synth, run, max_steps=2)
    with pytest.warns(UserWarning, match="step-00000002.pt is unreadable.*trying the previous one"):
        assert resumed.resume()
    assert resumed.step == 1
    list_checkpoints(run)[0].write_text("garbage")
    with pytest.warns(UserWarning):
        assert load_latest(run) is None  # nothing readable: resume() is False, training starts over


def test_sigterm_finishes_the_step_and_saves(synth, tmp_path):
    """SIGTERM (pre-emption) mid-run: no step is lost, no partial file is left, exit code 143."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "internet_cli", "train", "--data", str(synth), "--run-dir", str(run),
           "--max-steps", "500", "--checkpoint-every", "1000", *TRAIN]
    env = {**os.environ, "INTERNET_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    logged = 0
    deadline = time.time() + 240
    assert proc.stderr is not None
    for line in proc.stderr:  # "step N/500 ..." once per step
        if line.startswith("step "):
            logged = int(line.split()[1].split("/")[0])
            if logged >= 2:
                break
        assert time.time() < deadline
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 143, rest
    assert "stopped by SIGTERM" in rest and "Traceback" not in rest
    state = load_latest(run)
    assert state is not None and state["step"] >= logged  # nothing since the last log line is lost
    from internet_cli.checkpoint import load_weights

    assert load_weights(run / "weights.safetensors").info["steps"] == state["step"]
    leftovers = [p.name for p in run.rglob("*") if "partial" in p.name]
    assert leftovers == []


def _group(pgid: int) -> list[str]:
    return subprocess.run(["ps", "-o", "pid=", "-g", str(pgid)], capture_output=True, text=True).stdout.split()


def test_sigterm_to_the_whole_process_group_with_loader_workers_still_saves(synth, tmp_path):
    """``kill -- -PGID`` (a scheduler, a shell job) reaches the DataLoader workers too: the run
    still ends by saving, not with "DataLoader worker is killed by signal"."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "internet_cli", "train", "--data", str(synth), "--run-dir", str(run),
           "--max-steps", "500", "--checkpoint-every", "1000", *TRAIN,
           "--workers", "1", "--repeats", "100"]  # the last ones count; a long epoch keeps the worker busy
    env = {**os.environ, "INTERNET_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    deadline = time.time() + 240
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("step ") and int(line.split()[1].split("/")[0]) >= 2:
            break
        assert time.time() < deadline
    while len(_group(proc.pid)) < 2:  # a loader worker is alive
        assert time.time() < deadline
    os.killpg(proc.pid, signal.SIGTERM)
    rest = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 143, rest
    assert "stopped by SIGTERM" in rest and "internal error" not in rest
    assert load_latest(run) is not None
