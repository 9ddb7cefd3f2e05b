"""Build TensorRT engines (``.plan``) from an exported ONNX folder with the TensorRT Python API.

Needs the optional ``tensorrt`` package (``pip install 'internet-cli[tensorrt]'``) and a usable
NVIDIA GPU; everything is imported lazily, so the rest of the package never needs it.

The engines are for deploying outside this CLI (Triton, trtexec, C++). `internet animate
--backend tensorrt` uses onnxruntime's TensorRT provider on the ``.onnx`` graphs instead, which
builds and caches its own engines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from internet_cli.errors import BackendError, WeightsError

# Dynamic-batch optimisation profile of the detector and frame graphs: (min, opt, max).
BATCH_PROFILE = (1, 4, 16)
WORKSPACE_BYTES = 4 << 30


def require_tensorrt():
    """The ``tensorrt`` module, or BackendError with one line when it or a GPU is missing."""
    from internet_cli.devices import TENSORRT_MISSING, cuda_usable

    try:
        import tensorrt as trt
    except ImportError:
        raise BackendError(TENSORRT_MISSING) from None
    if not cuda_usable():
        raise BackendError("TensorRT is installed but no usable NVIDIA GPU is present: engines must be built on the "
                           "GPU they will run on")
    return trt


def build_engine(onnx_path: Path, plan_path: Path, *, fp16: bool = False,
                 batch_profile: tuple[int, int, int] = BATCH_PROFILE) -> Path:
    """Parse ``onnx_path`` and serialise an engine to ``plan_path``.

    Every input whose first dimension is dynamic (``driving``) gets the batch ``batch_profile``;
    the other inputs (source state, reference) are static and need no profile.
    """
    trt = require_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # removed (always on) in TensorRT 10
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise WeightsError(f"TensorRT cannot parse {onnx_path}: {errors or 'unknown error'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = tuple(tensor.shape)
        if any(d == -1 for d in shape[1:]):
            raise WeightsError(f"{onnx_path} has a dynamic dimension other than the batch in {tensor.name}: re-export")
        if shape and shape[0] == -1:  # only dynamic inputs take a profile
            rest = shape[1:]
            lo, opt, hi = batch_profile
            profile.set_shape(tensor.name, (lo, *rest), (opt, *rest), (hi, *rest))
    config.add_optimization_profile(profile)
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise BackendError(f"TensorRT failed to build an engine from {onnx_path} (see its log above)")
    plan_path.write_bytes(memoryview(engine))
    return plan_path


def build_engines(folder: Path, *, fp16: bool = False, log: Callable[[str], None] = print) -> list[Path]:
    """Engines for every graph of an exported folder: ``GRAPH.plan`` beside ``GRAPH.onnx``."""
    from internet_cli.export.onnx import graphs_for
    from internet_cli.runtime.onnx_backend import read_export

    require_tensorrt()
    out = []
    for graph in graphs_for(read_export(Path(folder)).config):
        log(f"building TensorRT engine for {graph}.onnx{' (fp16)' if fp16 else ''}")
        out.append(build_engine(Path(folder) / f"{graph}.onnx", Path(folder) / f"{graph}.plan", fp16=fp16))
    return out
