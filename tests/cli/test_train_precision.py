"""`internet train --precision`: checked before any data is read or any model is built."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from internet_cli.config import TrainConfig


def run_train(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "INTERNET_DEBUG"}
    return subprocess.run([sys.executable, "-m", "internet_cli", "train", "--data", str(tmp_path / "data"),
                           "--run-dir", str(tmp_path / "run"), "--preset", "tiny", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_fp16_on_the_cpu_is_one_line_and_touches_nothing(tmp_path):
    r = run_train(tmp_path, "--precision", "fp16", "--device", "cpu")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    errors = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("internet:")]
    assert errors == ["internet: error: --precision fp16 needs a CUDA GPU (on the CPU use bf16 or fp32)"]
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_precision_is_a_usage_error(tmp_path):
    r = run_train(tmp_path, "--precision", "fp8")
    assert r.returncode == 2
    assert "--precision must be fp32, fp16, bf16, got 'fp8'" in r.stderr


def test_train_config_checks_its_precision():
    assert TrainConfig().precision is None  # fp16 on CUDA, fp32 on the CPU
    assert TrainConfig(precision="bf16").precision == "bf16"
    with pytest.raises(ValueError, match="precision must be fp32, fp16 or bf16, got 'half'"):
        TrainConfig(precision="half")
