"""The one place that picks torch devices, threads and (later) inference providers."""

from __future__ import annotations

import os
from functools import lru_cache

import torch

from internet_cli.errors import BackendError


def cpu_threads() -> int:
    """Threads for intra-op parallelism: INTERNET_THREADS, else the usable cores."""
    env = os.environ.get("INTERNET_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def configure_torch_threads() -> int:
    threads = cpu_threads()
    torch.set_num_threads(threads)
    return threads


@lru_cache(maxsize=1)
def cuda_usable() -> bool:
    """True when CUDA is really usable: compiled in, a device present, and a tiny op runs."""
    if not torch.cuda.is_available():
        return False
    try:
        torch.zeros(1, device="cuda").add_(1).item()
        return True
    except Exception:  # noqa: BLE001 - any failure means not usable
        return False


def select_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when usable, else CPU. ``cuda`` without a usable GPU is an error."""
    name = name.lower()
    if name == "auto":
        return torch.device("cuda") if cuda_usable() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not cuda_usable():
            raise BackendError("--device cuda was asked for, but no usable CUDA GPU is present (try --device cpu)")
        return torch.device(name)
    raise BackendError(f"unknown device {name!r} (use auto, cpu or cuda)")


def _tiny_onnx_model() -> bytes:
    """A one-node ONNX graph, used only to probe which providers really run."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@lru_cache(maxsize=None)
def ort_provider_usable(provider: str) -> bool:
    """True when onnxruntime really runs ``provider`` here.

    ``get_available_providers()`` lists CUDA and TensorRT even without a GPU (compiled in, not
    detected), so this builds a session and checks which providers it kept.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    if provider not in ort.get_available_providers():
        return False
    if provider == "CPUExecutionProvider":
        return True
    if not torch.cuda.is_available() and not _nvidia_device_present():
        return False  # avoid onnxruntime's noisy failed CUDA initialisation
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    try:
        sess = ort.InferenceSession(_tiny_onnx_model(), sess_options=opts, providers=[provider, "CPUExecutionProvider"])
    except Exception:  # noqa: BLE001
        return False
    return provider in sess.get_providers()


def _nvidia_device_present() -> bool:
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia/version")


def tensorrt_usable() -> bool:
    """The TensorRT Python API imports and a CUDA GPU is usable."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False
    return cuda_usable()


def ort_session_options(threads: int | None = None):
    """onnxruntime session options: our thread count, no spinning threads (spinning ORT threads
    slow torch 3-4x when both share the process), all graph optimisations, quiet logs."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or cpu_threads()
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return opts


def ort_providers(backend: str = "onnx", device: str = "auto", cache_dir: str | None = None,
                  fp16: bool = False) -> list:
    """onnxruntime providers for ``backend`` (``onnx`` or ``tensorrt``) on ``device``.

    ``onnx``: CUDA when asked for or (``auto``) when it really runs here, else CPU.
    ``tensorrt``: onnxruntime's TensorRT provider (engines cached in ``cache_dir``), then CUDA.
    Raises BackendError with one line when the asked-for provider is not usable.
    """
    device = device.lower()
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise BackendError(f"unknown device {device!r} (use auto, cpu or cuda)")
    cpu = "CPUExecutionProvider"
    if backend == "tensorrt":
        if device == "cpu":
            raise BackendError("--backend tensorrt needs a GPU; use --backend onnx or torch with --device cpu")
        if not ort_provider_usable("TensorrtExecutionProvider"):
            raise BackendError(TENSORRT_MISSING)
        options = {"trt_fp16_enable": fp16}
        if cache_dir:
            options.update(trt_engine_cache_enable=True, trt_engine_cache_path=cache_dir)
        return [("TensorrtExecutionProvider", options), "CUDAExecutionProvider", cpu]
    if backend != "onnx":
        raise BackendError(f"unknown onnxruntime backend {backend!r}")
    if device == "cpu":
        return [cpu]
    if ort_provider_usable("CUDAExecutionProvider"):
        return ["CUDAExecutionProvider", cpu]
    if device.startswith("cuda"):
        raise BackendError("--device cuda was asked for, but onnxruntime cannot use a CUDA GPU here (try --device cpu)")
    return [cpu]


TENSORRT_MISSING = ("TensorRT is not installed: pip install 'internet-cli[tensorrt]' on a machine with an "
                    "NVIDIA GPU")


def tensorrt_runtime_usable() -> bool:
    """onnxruntime's TensorRT provider really runs here (the TensorRT libraries and a GPU)."""
    return ort_provider_usable("TensorrtExecutionProvider")
