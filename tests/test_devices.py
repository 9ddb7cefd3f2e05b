"""internet_cli/devices.py: which GPU, how many threads, which precision, which providers.

No GPU is needed: CUDA's presence is faked with monkeypatch, and the probes record what they
would have touched.
"""

from __future__ import annotations

import pytest
import torch

from internet_cli import devices
from internet_cli.errors import BackendError

CUDA, CPU = devices.CUDA_PROVIDER, devices.CPU_PROVIDER


@pytest.fixture(autouse=True)
def _fresh_probes(monkeypatch):
    """The probes are cached per process: start and end every test without their answers."""
    for name in ("LOCAL_RANK", "LOCAL_WORLD_SIZE", "OMP_NUM_THREADS", "INTERNET_THREADS"):
        monkeypatch.delenv(name, raising=False)
    probes = (devices.cuda_usable, devices.ort_provider_usable)  # the real ones: tests may replace them
    for probe in probes:
        probe.cache_clear()
    yield
    for probe in probes:
        probe.cache_clear()


@pytest.fixture
def fake_gpus(monkeypatch):
    """Four fake CUDA GPUs; returns the calls the probe made, in order."""
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: calls.append(("set_device", index)))
    monkeypatch.setattr(devices, "_probe", lambda device: calls.append(("probe", str(device))))
    return calls


# --- point 1: each rank's first CUDA work is on its own GPU -----------------------------------


def test_under_torchrun_the_probe_runs_on_the_local_rank_after_set_device(monkeypatch, fake_gpus):
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert devices.select_device("auto") == torch.device("cuda", 3)
    assert fake_gpus == [("set_device", 3), ("probe", "cuda:3")]  # never a context on GPU 0
    assert devices.select_device("cuda") == torch.device("cuda", 3)
    assert fake_gpus == [("set_device", 3), ("probe", "cuda:3")]  # the answer is cached per GPU


def test_an_explicit_gpu_is_the_one_probed(fake_gpus):
    assert devices.select_device("cuda:2") == torch.device("cuda", 2)
    assert fake_gpus == [("set_device", 2), ("probe", "cuda:2")]
    assert devices.select_device("auto") == torch.device("cuda", 0)  # one process: GPU 0


def test_a_gpu_that_is_not_there_is_one_line(fake_gpus):
    with pytest.raises(BackendError, match=r"--device cuda:7 was asked for, but this machine has 4 CUDA GPU\(s\)"):
        devices.select_device("cuda:7")
    assert fake_gpus == []  # not even probed


def test_without_cuda_auto_is_the_cpu_and_cuda_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert devices.select_device("auto") == torch.device("cpu")
    with pytest.raises(BackendError, match="no usable CUDA GPU is present"):
        devices.select_device("cuda")
    for bad in ("gpu", "cuda:x", "cuda1"):
        with pytest.raises(BackendError, match="unknown device"):
            devices.select_device(bad)


def test_a_failing_probe_means_not_usable(monkeypatch, fake_gpus):
    def broken(device):
        raise RuntimeError("CUDA error: no kernel image is available")

    monkeypatch.setattr(devices, "_probe", broken)
    assert devices.select_device("auto") == torch.device("cpu")


# --- point 3: threads under torchrun ------------------------------------------------------------


def test_torchrun_ranks_share_the_cores_and_keep_torchruns_omp_num_threads(monkeypatch):
    monkeypatch.setattr(devices, "_usable_cores", lambda: 16)
    assert devices.cpu_threads() == 16  # one process: every core
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what torchrun sets for several ranks
    assert devices.cpu_threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert devices.cpu_threads() == 2  # 16 cores among 8 ranks
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "32")
    assert devices.cpu_threads() == 1
    monkeypatch.setenv("INTERNET_THREADS", "3")  # the user's own choice wins
    assert devices.cpu_threads() == 3


def test_configure_torch_threads_applies_the_rank_share(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(devices, "_usable_cores", lambda: 4)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    try:
        assert devices.configure_torch_threads() == 2 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_a_thread_count_that_is_not_a_number_is_one_line(monkeypatch):
    monkeypatch.setenv("INTERNET_THREADS", "many")
    with pytest.raises(BackendError, match="INTERNET_THREADS must be a whole number, got 'many'"):
        devices.cpu_threads()


# --- point 2: the autocast precision -----------------------------------------------------------


def test_precision_on_the_cpu():
    cpu = torch.device("cpu")
    assert devices.autocast_dtype(None, cpu) is None  # the default: float32 on the CPU
    assert devices.autocast_dtype("fp32", cpu) is None
    assert devices.autocast_dtype("bf16", cpu) is torch.bfloat16
    with pytest.raises(BackendError, match="--precision fp16 needs a CUDA GPU"):
        devices.autocast_dtype("fp16", cpu)
    with pytest.raises(BackendError, match="unknown precision 'fp8'"):
        devices.autocast_dtype("fp8", cpu)


def test_precision_on_a_gpu(monkeypatch):
    gpu = torch.device("cuda", 0)
    assert devices.autocast_dtype(None, gpu) is torch.float16  # the default on CUDA, as before
    assert devices.autocast_dtype("fp16", gpu) is torch.float16
    assert devices.autocast_dtype("fp32", gpu) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert devices.autocast_dtype("bf16", gpu) is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100")
    with pytest.raises(BackendError, match="--precision bf16: Tesla V100 has no bfloat16"):
        devices.autocast_dtype("bf16", gpu)


# --- point 4: onnxruntime's CUDA provider on the asked-for GPU ---------------------------------


def test_cuda_provider_carries_the_device_id(monkeypatch):
    asked = []
    monkeypatch.setattr(devices, "ort_provider_usable", lambda p, i=0: asked.append((p, i)) or True)
    assert devices.ort_providers("cuda:1") == [(CUDA, {"device_id": 1}), CPU]
    monkeypatch.setenv("LOCAL_RANK", "2")
    assert devices.ort_providers("auto") == [(CUDA, {"device_id": 2}), CPU]
    assert devices.ort_providers("cuda") == [(CUDA, {"device_id": 2}), CPU]
    assert asked == [(CUDA, 1), (CUDA, 2), (CUDA, 2)]  # each probed on its own GPU
    assert devices.ort_providers("cpu") == [CPU]


def test_an_unusable_gpu_for_onnxruntime(monkeypatch):
    monkeypatch.setattr(devices, "ort_provider_usable", lambda p, i=0: i == 0)
    with pytest.raises(BackendError, match="--device cuda:1 was asked for, but onnxruntime cannot use that CUDA GPU"):
        devices.ort_providers("cuda:1")
    monkeypatch.setattr(devices, "ort_provider_usable", lambda p, i=0: False)
    assert devices.ort_providers("auto") == [CPU]


def test_the_provider_probe_builds_its_session_on_that_gpu(monkeypatch):
    import onnxruntime as ort

    seen = []

    class FakeSession:
        def __init__(self, model, sess_options=None, providers=None):
            seen.append(providers)

        def get_providers(self):
            return [CUDA, CPU]

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    monkeypatch.setattr(ort, "InferenceSession", FakeSession)
    assert devices.ort_provider_usable(CUDA, 1)
    assert seen == [[(CUDA, {"device_id": 1}), CPU]]


def test_where_a_session_keeps_its_tensors():
    asked = [(CUDA, {"device_id": 1}), CPU]
    assert devices.ort_device(asked, [CUDA, CPU]) == ("cuda", 1)
    assert devices.ort_device(asked, [CPU]) == ("cpu", 0)  # onnxruntime dropped the CUDA provider
    assert devices.ort_device([CPU], [CPU]) == ("cpu", 0)


# --- TensorRT's device ------------------------------------------------------------------------


def test_tensorrt_device(monkeypatch):
    with pytest.raises(BackendError, match="--backend tensorrt needs a GPU"):
        devices.tensorrt_device("cpu")
    monkeypatch.setattr(devices, "tensorrt_usable", lambda index=None: index == 1)
    assert devices.tensorrt_device("cuda:1") == torch.device("cuda", 1)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert devices.tensorrt_device("auto") == torch.device("cuda", 1)


def test_tensorrt_missing_is_one_line(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorrt(name, *args, **kwargs):
        if name == "tensorrt":
            raise ImportError("No module named 'tensorrt'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorrt)
    with pytest.raises(BackendError) as info:
        devices.tensorrt_device("auto")
    assert str(info.value) == devices.TENSORRT_MISSING
