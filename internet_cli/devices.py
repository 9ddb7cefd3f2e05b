"""The one place that picks torch devices, threads, autocast precision and inference providers."""

from __future__ import annotations

import os
from functools import lru_cache

import torch

from internet_cli.errors import BackendError


def _env_int(name: str) -> int | None:
    """A positive integer from the environment variable ``name`` (None when unset)."""
    value = os.environ.get(name)
    if not value:
        return None
    try:
        return max(1, int(value))
    except ValueError:
        raise BackendError(f"{name} must be a whole number, got {value!r}") from None


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def cpu_threads() -> int:
    """Threads for intra-op parallelism: INTERNET_THREADS; else, under torchrun with several ranks
    on this node (LOCAL_WORLD_SIZE > 1), OMP_NUM_THREADS (torchrun sets 1 unless told otherwise) or
    the usable cores shared out among the node's ranks; else the usable cores."""
    threads = _env_int("INTERNET_THREADS")
    if threads:
        return threads
    ranks = _env_int("LOCAL_WORLD_SIZE") or 1
    if ranks > 1:
        return _env_int("OMP_NUM_THREADS") or max(1, _usable_cores() // ranks)
    return _usable_cores()


def configure_torch_threads() -> int:
    threads = cpu_threads()
    torch.set_num_threads(threads)
    return threads


def local_rank() -> int:
    """This process's GPU on its node: torchrun's LOCAL_RANK, else 0."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def cuda_index(name: str) -> int:
    """The GPU that ``--device name`` means: ``cuda:N`` -> N; ``cuda`` and ``auto`` -> :func:`local_rank`."""
    name = name.lower()
    if not name.startswith("cuda:"):
        return local_rank()
    index = name[len("cuda:"):]
    if not index.isdigit():
        raise BackendError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)")
    return int(index)


def _probe(device: torch.device) -> None:
    torch.zeros(1, device=device).add_(1).item()


@lru_cache(maxsize=None)
def cuda_usable(index: int | None = None) -> bool:
    """True when CUDA GPU ``index`` (default: :func:`local_rank`) really runs: compiled in, present,
    and a tiny op runs on it.

    The GPU is made the current device before the probe, so the probe's CUDA context is created on
    it: under torchrun each rank creates its one context on its own GPU, not all of them on GPU 0.
    """
    if not torch.cuda.is_available():
        return False
    index = local_rank() if index is None else index
    if index >= torch.cuda.device_count():
        return False
    try:
        torch.cuda.set_device(index)
        _probe(torch.device("cuda", index))
        return True
    except Exception:  # noqa: BLE001 - any failure means not usable
        return False


def check_device_name(name: str) -> None:
    if name not in ("auto", "cpu", "cuda") and not name.startswith("cuda:"):
        raise BackendError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)")


def select_device(name: str = "auto") -> torch.device:
    """``auto`` -> this process's GPU (:func:`cuda_index`) when usable, else CPU. ``cuda`` or
    ``cuda:N`` without that GPU usable is an error (one line)."""
    name = name.lower()
    check_device_name(name)
    if name == "cpu":
        return torch.device("cpu")
    index = cuda_index(name)
    if cuda_usable(index):
        return torch.device("cuda", index)
    if name == "auto":
        return torch.device("cpu")
    if torch.cuda.is_available() and index >= torch.cuda.device_count():
        raise BackendError(f"--device {name} was asked for, but this machine has {torch.cuda.device_count()} "
                           f"CUDA GPU(s) (use cuda:0 ... cuda:{torch.cuda.device_count() - 1})")
    raise BackendError(f"--device {name} was asked for, but no usable CUDA GPU is present (try --device cpu)")


PRECISIONS = ("fp32", "fp16", "bf16")


def autocast_dtype(precision: str | None, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``--precision`` on ``device``; None means float32 throughout.

    None (the default): float16 on CUDA, float32 on the CPU. ``fp16`` needs CUDA. ``bf16`` runs on
    the CPU and on GPUs with bfloat16 (Ampere and newer). Whatever the choice, Stage I's geometry,
    heatmaps and softmax stay float32 (:func:`internet_cli.motion.geometry.float32`).
    """
    if precision is None:
        return torch.float16 if device.type == "cuda" else None
    if precision not in PRECISIONS:
        raise BackendError(f"unknown precision {precision!r} (use {', '.join(PRECISIONS)})")
    if precision == "fp32":
        return None
    if precision == "fp16":
        if device.type != "cuda":
            raise BackendError("--precision fp16 needs a CUDA GPU (on the CPU use bf16 or fp32)")
        return torch.float16
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise BackendError(f"--precision bf16: {torch.cuda.get_device_name(device)} has no bfloat16 "
                           "(use fp16 or fp32)")
    return torch.bfloat16


def precision_name(dtype: torch.dtype | None) -> str:
    """``fp32``, ``fp16`` or ``bf16`` for what :func:`autocast_dtype` returned."""
    return {None: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[dtype]


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
def ort_provider_usable(provider: str, device_id: int = 0) -> bool:
    """True when onnxruntime really runs ``provider`` here (on GPU ``device_id`` for a GPU provider).

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
        sess = ort.InferenceSession(_tiny_onnx_model(), sess_options=opts,
                                    providers=[(provider, {"device_id": device_id}), "CPUExecutionProvider"])
    except Exception:  # noqa: BLE001
        return False
    return provider in sess.get_providers()


def _nvidia_device_present() -> bool:
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia/version")


TENSORRT_MISSING = ("TensorRT is not installed: pip install 'internet-cli[tensorrt]' on a machine with an "
                    "NVIDIA GPU")


def tensorrt_usable(index: int | None = None) -> bool:
    """The TensorRT Python API imports and CUDA GPU ``index`` (default: :func:`local_rank`) is usable."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False
    return cuda_usable(index)


def tensorrt_device(device: str = "auto") -> torch.device:
    """The CUDA device that ``--backend tensorrt`` runs on, or BackendError with one line."""
    device = device.lower()
    check_device_name(device)
    if device == "cpu":
        raise BackendError("--backend tensorrt needs a GPU; use --backend onnx or torch with --device cpu")
    index = cuda_index(device)
    if not tensorrt_usable(index):
        try:
            import tensorrt  # noqa: F401
        except ImportError:
            raise BackendError(TENSORRT_MISSING) from None
        raise BackendError("TensorRT is installed but no usable NVIDIA GPU is present"
                           + (f" at --device {device}" if device.startswith("cuda:") else ""))
    return torch.device("cuda", index)


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


CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


def ort_providers(device: str = "auto") -> list:
    """onnxruntime providers for ``device``: the CUDA provider on GPU :func:`cuda_index` (its
    ``device_id``) when asked for or (``auto``) when it really runs here, else the CPU provider.
    Raises BackendError with one line when an asked-for GPU is not usable.
    """
    device = device.lower()
    check_device_name(device)
    if device == "cpu":
        return [CPU_PROVIDER]
    index = cuda_index(device)
    if ort_provider_usable(CUDA_PROVIDER, index):
        return [(CUDA_PROVIDER, {"device_id": index}), CPU_PROVIDER]
    if device.startswith("cuda"):
        raise BackendError(f"--device {device} was asked for, but onnxruntime cannot use that CUDA GPU here "
                           "(try --device cpu)")
    return [CPU_PROVIDER]


def ort_device(providers: list, kept: list[str]) -> tuple[str, int]:
    """Where a session asked for ``providers`` keeps its tensors: ``("cuda", device_id)`` or
    ``("cpu", 0)``, the names onnxruntime's ``OrtValue`` and ``IOBinding`` take. ``kept`` is the
    session's ``get_providers()`` (onnxruntime drops a provider that fails to start)."""
    first = providers[0]
    name, options = first if isinstance(first, tuple) else (first, {})
    if name == CUDA_PROVIDER and kept[:1] == [CUDA_PROVIDER]:
        return "cuda", int(options.get("device_id", 0))
    return "cpu", 0
