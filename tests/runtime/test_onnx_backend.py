"""onnxruntime backend and backend choice: same frames as PyTorch, clear errors, `auto` on CPU."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import av
import numpy as np
import pytest

import torch

from internet_cli.checkpoint import load_weights
from internet_cli.errors import BackendError, WeightsError
from internet_cli.export.onnx import sha256_file
from internet_cli.runtime.animator import TorchAnimator
from internet_cli.runtime.backends import choose_backend, open_animator, resolve_model
from internet_cli.runtime.onnx_backend import OnnxAnimator
from internet_cli.video.image import to_square
from internet_cli.video.reader import iter_frames
from tests.media import make_image, make_video


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("INTERNET_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "internet_cli", *args], capture_output=True, text=True, timeout=300,
                          env=full_env)


def decode(path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    return make_image(d / "person.png", size=(300, 400)), make_video(d / "drv.mp4", frames=4, size=(160, 120))


def test_onnx_animator_matches_torch_on_real_frames(tiny512_onnx, tiny512_weights, media):
    src_path, drv_path = media
    from internet_cli.video.image import load_image

    source = to_square(load_image(src_path), 512)
    frames = np.stack([to_square(f.image, 512) for f in iter_frames(drv_path)])
    ort_anim = OnnxAnimator(tiny512_onnx, device="cpu")
    torch_anim = TorchAnimator(load_weights(tiny512_weights), torch.device("cpu"))
    assert ort_anim.size == torch_anim.size == 512 and ort_anim.config == torch_anim.config
    assert ort_anim.describe() == "onnx (onnxruntime CPU)"
    for relative, adapt in ((True, True), (False, False)):
        outs = []
        for anim in (ort_anim, torch_anim):
            state = anim.encode_source(source)
            ref = anim.reference(state, frames[0], relative, adapt)
            outs.append(np.concatenate([anim.animate(state, frames[:3], ref), anim.animate(state, frames[3:], ref)]))
        assert outs[0].shape == outs[1].shape == (4, 512, 512, 3) and outs[0].dtype == np.uint8
        diff = np.abs(outs[0].astype(int) - outs[1].astype(int))
        assert diff.max() <= 1 and diff.mean() < 1e-3, (relative, diff.max(), diff.mean())


def test_cli_backend_onnx_equals_backend_torch(tmp_path, tiny512_onnx, tiny512_weights, media):
    src, drv = media
    outs = {}
    for backend, weights in (("onnx", tiny512_onnx), ("torch", tiny512_weights)):
        out = tmp_path / f"{backend}.mp4"
        r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(weights), "--backend", backend,
                    "--batch-size", "3")
        assert r.returncode == 0, r.stderr
        assert "UNTRAINED" in r.stderr
        outs[backend] = decode(out)
        assert ("backend: onnx (onnxruntime CPU)" if backend == "onnx" else "backend: torch on cpu") in r.stderr
    a, b = outs["onnx"].astype(int), outs["torch"].astype(int)
    assert a.shape == b.shape == (4, 512, 512, 3)
    assert np.abs(a - b).mean() < 0.5  # identical up to rounding, then the same lossy H.264 encode


def test_auto_picks_onnxruntime_on_cpu_and_uses_the_cache(tmp_path, tiny512_onnx, tiny512_weights, media):
    source = resolve_model(tiny512_weights)
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: auto would choose it")
    assert choose_backend("auto", "auto", source) == "onnx"
    assert choose_backend("auto", "cpu", resolve_model(tiny512_onnx)) == "onnx"
    # The weights file's export is found in the cache (keyed by the file's sha256): no re-export.
    cache = tmp_path / "cache"
    shutil.copytree(tiny512_onnx, cache / "onnx" / sha256_file(tiny512_weights))
    src, drv = media
    out = tmp_path / "auto.mp4"
    r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(tiny512_weights), "--max-frames", "2",
                env={"INTERNET_CACHE_DIR": str(cache), "INTERNET_BACKEND": "auto"})  # the default outside tests
    assert r.returncode == 0, r.stderr
    assert "backend: onnx (onnxruntime CPU)" in r.stderr and "exporting" not in r.stderr
    assert decode(out).shape == (2, 512, 512, 3)


def test_backend_tensorrt_without_tensorrt_is_one_line(tmp_path, tiny512_weights, media):
    try:
        import tensorrt  # noqa: F401
        pytest.skip("TensorRT is installed here")
    except ImportError:
        pass
    src, drv = media
    out = tmp_path / "trt.mp4"
    r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(tiny512_weights), "--backend", "tensorrt",
                env={"INTERNET_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 1
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("internet:")]
    assert errors == ["internet: error: TensorRT is not installed: pip install 'internet-cli[tensorrt]' on a machine "
                      "with an NVIDIA GPU"], r.stderr
    assert "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file
    assert not (tmp_path / "cache").exists()  # failed before exporting anything


def test_torch_backend_refuses_an_exported_folder(tiny512_onnx):
    with pytest.raises(BackendError, match="needs a weights file"):
        open_animator(tiny512_onnx, backend="torch", device="cpu")
    with pytest.raises(BackendError, match="unknown backend"):
        open_animator(tiny512_onnx, backend="tvm", device="cpu")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
def test_corrupt_or_missing_onnx_is_one_clear_line(tmp_path, tiny512_onnx, media, damage):
    broken = tmp_path / "broken.onnx"
    shutil.copytree(tiny512_onnx, broken)
    graph = broken / "frame.onnx"
    if damage == "truncate":
        data = graph.read_bytes()
        graph.write_bytes(data[: len(data) // 3])
    elif damage == "garbage":
        graph.write_bytes(b"\x00\xff not an onnx graph \x13" * 100)
    else:
        graph.unlink()
    with pytest.raises(WeightsError, match="frame.onnx"):
        OnnxAnimator(broken, device="cpu")
    if damage == "truncate":  # the same through the CLI: one line, exit 1, no output
        src, drv = media
        out = tmp_path / "out.mp4"
        r = run_cli("animate", str(src), str(drv), "-o", str(out), "-w", str(broken), "--backend", "onnx")
        assert r.returncode == 1 and "Traceback" not in r.stderr
        errors = [ln for ln in r.stderr.splitlines() if ln.startswith("internet:")]
        assert len(errors) == 1 and "frame.onnx" in errors[0], r.stderr
        assert not out.exists()
