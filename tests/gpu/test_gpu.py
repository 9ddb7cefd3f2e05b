"""What a GPU machine must show (issue 21): AMP steps, CUDA against CPU for torch and onnxruntime,
TensorRT engines against onnxruntime, and two ranks of NCCL DDP in sync."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.gpu.conftest import cuda_reason, needs, ort_cuda_reason, tensorrt_reason

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """Four smooth 512x512 frames (a source and three driving frames)."""
    g = np.random.default_rng(0)
    low = g.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    return np.ascontiguousarray(low.repeat(32, axis=1).repeat(32, axis=2))


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    from internet_cli.clips.synth import write_dataset

    root = tmp_path_factory.mktemp("synth")
    write_dataset(root, videos=3, frames=24, size=64, seed=3, fps=30)
    return root


@pytest.fixture
def strict_float32():
    """No TF32 in matmuls and convolutions while comparing against the CPU."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def animate_all(animator, frames: np.ndarray) -> np.ndarray:
    state = animator.encode_source(frames[0])
    ref = animator.reference(state, frames[1], relative=True, adapt_scale=True)
    return animator.animate(state, frames[1:], ref)


def assert_frames_close(got: np.ndarray, want: np.ndarray, max_levels: int, mean_levels: float) -> None:
    diff = np.abs(got.astype(int) - want.astype(int))
    assert got.shape == want.shape and got.dtype == np.uint8
    assert diff.max() <= max_levels and diff.mean() <= mean_levels, (diff.max(), diff.mean())


# --- AMP training steps ---------------------------------------------------------------------------


@needs(cuda_reason())
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_amp_training_steps_have_finite_losses(synth, tmp_path, precision):
    from internet_cli.config import LossConfig, TrainConfig, preset
    from internet_cli.training.trainer import RunSpec, Trainer

    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip(f"{torch.cuda.get_device_name(0)} has no bfloat16")
    train = TrainConfig(batch_size=2, repeats=4, workers=0, epochs=20, log_every=1, sample_every=10_000,
                        checkpoint_every=10_000, max_steps=4, precision=precision)
    loss = LossConfig(perceptual=0.0, temporal_mode="none", discriminator_channels=8)
    logs = []
    trainer = Trainer(RunSpec(data=synth, run=tmp_path / "run", model=preset("tiny"), loss=loss, train=train,
                              device="cuda"), on_log=lambda step, total, values: logs.append(values))
    assert trainer.amp_dtype is {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.fit()
    assert len(logs) == 4 and trainer.skipped_steps == 0
    assert all(math.isfinite(v) for values in logs for v in values.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


@needs(cuda_reason())
def test_stage_one_stays_float32_under_cuda_fp16_autocast():
    from internet_cli.config import preset
    from internet_cli.model import INTERnet

    torch.manual_seed(0)
    model = INTERnet(preset("tiny")).cuda().eval()
    x = torch.rand(2, 3, 64, 64, device="cuda")
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16):
        out = model(x, x.flip(-1))
    for key in ("field", "weights", "kp_driving", "jac_driving"):
        assert out[key].dtype == torch.float32, key
    assert torch.isfinite(out["prediction"].float()).all()


# --- torch and onnxruntime on CUDA against the CPU ------------------------------------------------


@needs(cuda_reason())
def test_torch_cuda_animate_matches_the_cpu(tiny512_weights, frames, strict_float32):
    from internet_cli.checkpoint import load_weights
    from internet_cli.devices import select_device
    from internet_cli.runtime.animator import TorchAnimator

    weights = load_weights(tiny512_weights)
    gpu = TorchAnimator(weights, select_device("cuda"))
    assert gpu.device == torch.device("cuda", 0)
    assert_frames_close(animate_all(gpu, frames), animate_all(TorchAnimator(weights, torch.device("cpu")), frames),
                        max_levels=2, mean_levels=0.05)


@needs(ort_cuda_reason())
def test_onnxruntime_cuda_matches_the_cpu_with_the_state_on_the_gpu(tiny512_onnx, frames):
    from internet_cli.runtime.onnx_backend import OnnxAnimator

    gpu = OnnxAnimator(tiny512_onnx, device="cuda")
    assert gpu.providers[0] == "CUDAExecutionProvider" and gpu.ort_device == ("cuda", 0)
    state = gpu.encode_source(frames[0])
    assert {v.device_name().lower() for v in state.values.values()} == {"cuda"}
    assert_frames_close(animate_all(gpu, frames), animate_all(OnnxAnimator(tiny512_onnx, device="cpu"), frames),
                        max_levels=2, mean_levels=0.05)


@needs(ort_cuda_reason())
def test_onnxruntime_takes_the_asked_for_gpu(tiny512_onnx):
    from internet_cli.runtime.onnx_backend import OnnxAnimator

    if torch.cuda.device_count() < 2:
        pytest.skip("one GPU: cuda:1 cannot be told from cuda:0")
    assert OnnxAnimator(tiny512_onnx, device="cuda:1").ort_device == ("cuda", 1)


# --- TensorRT ---------------------------------------------------------------------------------------


@needs(tensorrt_reason())
def test_tensorrt_engines_match_onnxruntime_and_are_reused(tiny512_onnx, frames, tmp_path):
    from internet_cli.errors import BackendError
    from internet_cli.runtime.onnx_backend import OnnxAnimator
    from internet_cli.runtime.tensorrt_backend import TensorRTAnimator

    folder = tmp_path / "tiny512.onnx"
    shutil.copytree(tiny512_onnx, folder)
    log = []
    trt_anim = TensorRTAnimator(folder, "cuda", batch_size=3, log=log.append)
    assert sum("building the TensorRT engine" in m for m in log) == 3
    assert all((folder / f"{g}.plan.json").is_file() for g in ("source_encoder", "detector", "frame"))
    assert trt_anim.max_batch == 16
    assert_frames_close(animate_all(trt_anim, frames), animate_all(OnnxAnimator(folder, device="cpu"), frames),
                        max_levels=2, mean_levels=0.05)
    log.clear()
    TensorRTAnimator(folder, "cuda", log=log.append)
    assert log == []  # the engines and their records are reused
    with pytest.raises(BackendError, match="--batch-size 17 is above"):
        TensorRTAnimator(folder, "cuda", batch_size=17, log=log.append)


@needs(tensorrt_reason())
def test_tensorrt_fp16_keeps_stage_one_float32(tiny512_weights, frames, tmp_path):
    """The fp16 export's detector graph is float32 throughout: strongly typed, its engine must give
    the float32 anchors; the frames follow onnxruntime's run of the same fp16 graphs."""
    from internet_cli.export.onnx import export_onnx
    from internet_cli.runtime.onnx_backend import OnnxAnimator, _to_float
    from internet_cli.runtime.tensorrt_backend import TensorRTAnimator

    folder = tmp_path / "tiny512.fp16.onnx"
    export_onnx(tiny512_weights, folder, fp16=True, log=lambda _m: None)
    trt_anim, ort_anim = TensorRTAnimator(folder, "cuda", log=lambda _m: None), OnnxAnimator(folder, device="cpu")
    got = trt_anim.engines["detector"]({"driving": torch.from_numpy(_to_float(frames[1:])).cuda()})
    want = ort_anim.sessions["detector"].run(None, {"driving": _to_float(frames[1:])})
    assert got["anchors"].dtype == torch.float32
    np.testing.assert_allclose(got["anchors"].cpu().numpy(), want[0], atol=1e-4, rtol=0)
    np.testing.assert_allclose(got["affines"].cpu().numpy(), want[1], atol=1e-4, rtol=0)
    assert_frames_close(animate_all(trt_anim, frames), animate_all(ort_anim, frames), max_levels=8, mean_levels=0.5)


# --- NCCL DDP ---------------------------------------------------------------------------------------


def torchrun_train(synth: Path, run: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29541",
           "-m", "internet_cli", "train", "--data", str(synth), "--run-dir", str(run), "--preset", "tiny",
           "--batch-size", "2", "--repeats", "4", "--workers", "0", "--epochs", "20", "--log-every", "1",
           "--max-steps", "3", "--device", "cuda", *extra]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)


def checksums(stderr: str) -> list[float]:
    m = re.search(r"parameter checksums \[([^\]]+)\]", stderr)
    assert m, stderr[-2000:]
    return [float(x) for x in m.group(1).split(",")]


@needs(cuda_reason() or (None if torch.cuda.device_count() >= 2 else "fewer than 2 CUDA GPUs"))
@pytest.mark.parametrize("losses", [
    ("--loss", "perceptual=1"),
    # every term that reaches the decoder off: DDP must be told of the unused parameters
    ("--loss", "perceptual=0", "--loss", "adversarial=0", "--loss", "feature_matching=0", "--temporal", "none",
     "--loss", "warp=1"),
], ids=["all-used", "decoder-unused"])
def test_two_gpu_nccl_ddp_ends_with_equal_checksums(synth, tmp_path, losses):
    r = torchrun_train(synth, tmp_path / "ddp", *losses)
    assert r.returncode == 0, r.stderr[-3000:]
    sums = checksums(r.stderr)
    assert len(sums) == 2 and sums[0] == sums[1]
    assert "process(es) on cuda:0" in r.stderr
    assert ("find_unused_parameters=True" in r.stdout + r.stderr) == ("warp=1" in losses)
