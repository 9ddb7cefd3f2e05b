"""TensorRT engines (``GRAPH.plan``) from an exported ONNX folder, and the record that ties them to it.

``internet export --tensorrt`` builds one engine per graph beside it and a ``GRAPH.plan.json``
record: what the engine was built from (the graphs' ``weights_sha256``, export format version,
``fp16``), with what (the TensorRT version), for which GPU (name, compute capability) and its batch
profile. ``internet animate --backend tensorrt`` runs these engines
(:mod:`internet_cli.runtime.tensorrt_backend`) once their record matches the folder, this TensorRT
and this GPU; it builds the ones that are missing.

The networks are **strongly typed**: TensorRT keeps every tensor's type as the graph has it. A
float32 export runs in float32 throughout. A ``--fp16`` export runs Stage II (source encoder,
decoder) in float16 and Stage I (anchors, affines, motion field, confidence) in float32, exactly
where the graph puts them; there is no builder-wide fp16 flag that would let TensorRT move Stage I
to float16 too (weak typing, deprecated in TensorRT 10.12 and gone in 11).

Needs the optional ``tensorrt`` package (``pip install 'internet-cli[tensorrt]'``) and a usable
NVIDIA GPU; everything is imported lazily, so the rest of the package never needs it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from internet_cli.atomic import atomic_path, write_text
from internet_cli.errors import BackendError, WeightsError

# Dynamic-batch optimisation profile of the graphs fed driving frames: (min, opt, max).
BATCH_PROFILE = (1, 4, 16)
WORKSPACE_BYTES = 4 << 30
PLAN_FORMAT = "internet-tensorrt"
PLAN_FORMAT_VERSION = 1
# The record's keys that must match for an engine to be used here, and what each one names.
MATCHED = {"format": "record format", "format_version": "record version", "weights_sha256": "weights",
           "export_format_version": "export format", "fp16": "fp16", "tensorrt": "TensorRT version",
           "compute_capability": "GPU compute capability"}


def require_tensorrt(device: str = "auto"):
    """The ``tensorrt`` module, or BackendError with one line when it or a usable GPU is missing."""
    from internet_cli.devices import tensorrt_device

    tensorrt_device(device)
    import tensorrt as trt

    return trt


def check_batch_size(batch_size: int, most: int = BATCH_PROFILE[2]) -> None:
    """``--batch-size`` above the engines' batch profile (``most`` frames per call): BackendError
    with one line, before any frame is read."""
    if batch_size > most:
        raise BackendError(f"--batch-size {batch_size} is above the TensorRT engines' batch profile (at most "
                           f"{most} frames per call): use --batch-size {most} or less, or --backend onnx")


def _strongly_typed_network(trt, builder):
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    if flag is None:
        raise BackendError(f"TensorRT {trt.__version__} cannot build strongly typed networks: install TensorRT 10 "
                           "or newer (pip install 'internet-cli[tensorrt]')")
    return builder.create_network(1 << int(flag))


def _batch_profile(builder, network, onnx_path: Path, batch_profile: tuple[int, int, int]):
    """The optimisation profile of the inputs whose first dimension is dynamic (``driving``, pose
    mode's driving anchors); None when every input is static (the source encoder)."""
    profile, dynamic = builder.create_optimization_profile(), False
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = tuple(tensor.shape)
        if any(d == -1 for d in shape[1:]):
            raise WeightsError(f"{onnx_path} has a dynamic dimension other than the batch in {tensor.name}: re-export")
        if shape and shape[0] == -1:
            lo, opt, hi = batch_profile
            profile.set_shape(tensor.name, (lo, *shape[1:]), (opt, *shape[1:]), (hi, *shape[1:]))
            dynamic = True
    return profile if dynamic else None


def build_engine(onnx_path: Path, plan_path: Path, *, device=None,
                 batch_profile: tuple[int, int, int] = BATCH_PROFILE) -> Path:
    """Parse ``onnx_path`` into a strongly typed network and serialise its engine to ``plan_path``
    (built on the CUDA ``device``, a torch device; None: the current one)."""
    if device is not None:
        import torch

        with torch.cuda.device(device):
            return build_engine(onnx_path, plan_path, batch_profile=batch_profile)
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = _strongly_typed_network(trt, builder)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise WeightsError(f"TensorRT cannot parse {onnx_path}: {errors or 'unknown error'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    profile = _batch_profile(builder, network, onnx_path, batch_profile)
    if profile is not None:
        config.add_optimization_profile(profile)
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise BackendError(f"TensorRT failed to build an engine from {onnx_path} (see its log above)")
    with atomic_path(plan_path) as partial:  # never a half-written engine under the real name
        partial.write_bytes(memoryview(engine))
    return plan_path


def plan_record(info, tensorrt_version: str, gpu: str, capability: tuple[int, int],
                batch_profile: tuple[int, int, int] = BATCH_PROFILE) -> dict:
    """What ``GRAPH.plan.json`` says of an engine built from the export ``info`` (``ExportInfo``)."""
    from internet_cli.export.format import FORMAT_VERSION

    return {"format": PLAN_FORMAT, "format_version": PLAN_FORMAT_VERSION, "weights_sha256": info.weights_sha256,
            "export_format_version": FORMAT_VERSION, "fp16": info.fp16, "tensorrt": tensorrt_version,
            "gpu": gpu, "compute_capability": f"{capability[0]}.{capability[1]}",
            "batch_profile": list(batch_profile)}


def record_path(folder: Path, graph: str) -> Path:
    return Path(folder) / f"{graph}.plan.json"


def read_record(folder: Path, graph: str) -> dict | None:
    """The record of ``GRAPH.plan``; None when the engine or its record is missing or unreadable."""
    path = record_path(folder, graph)
    if not (Path(folder) / f"{graph}.plan").is_file() or not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def record_mismatch(record: dict, expected: dict) -> str | None:
    """The first thing that makes an engine with ``record`` unusable where ``expected`` was made
    (:func:`plan_record` here), as a short phrase; None when it can be used."""
    for key, what in MATCHED.items():
        if record.get(key) != expected.get(key):
            return f"{what} {record.get(key)!r} (here: {expected.get(key)!r})"
    return None


def current_record(info, device) -> dict:
    """:func:`plan_record` of this TensorRT and the GPU ``device`` (a torch CUDA device)."""
    import tensorrt as trt
    import torch

    return plan_record(info, trt.__version__, torch.cuda.get_device_name(device),
                       torch.cuda.get_device_capability(device))


def ensure_engines(folder: Path, device, *, rebuild_stale: bool = False,
                   log: Callable[[str], None] = print) -> dict[str, dict]:
    """Records of usable engines for every graph of ``folder``, building those that are missing.

    An engine whose record does not match (other weights, another TensorRT or GPU) is rebuilt when
    ``rebuild_stale`` (the export cache), else refused with one line naming what differs.
    """
    from internet_cli.export.format import graphs_for
    from internet_cli.runtime.onnx_backend import read_export

    folder = Path(folder)
    info = read_export(folder)
    expected = current_record(info, device)
    records = {}
    for graph in graphs_for(info.config):
        record = read_record(folder, graph)
        problem = None if record is None else record_mismatch(record, expected)
        if problem and not rebuild_stale:
            raise WeightsError(f"{folder / (graph + '.plan')} does not fit this folder and machine: {problem}; "
                               f"delete {folder}/*.plan (they are rebuilt) or re-run `internet export --tensorrt`")
        if record is None or problem:
            log(f"building the TensorRT engine of {graph}.onnx{' (fp16 Stage II)' if info.fp16 else ''} "
                "once; this takes minutes")
            record_path(folder, graph).unlink(missing_ok=True)
            build_engine(folder / f"{graph}.onnx", folder / f"{graph}.plan", device=device)
            record = expected
            write_text(record_path(folder, graph), json.dumps(record, indent=2) + "\n")
        records[graph] = record
    return records


def build_engines(folder: Path, *, device: str = "auto", log: Callable[[str], None] = print) -> list[Path]:
    """Engines for every graph of an exported folder, ``GRAPH.plan`` and ``GRAPH.plan.json`` beside
    ``GRAPH.onnx`` (all rebuilt)."""
    from internet_cli.devices import tensorrt_device

    torch_device = tensorrt_device(device)
    folder = Path(folder)
    for plan in folder.glob("*.plan"):
        plan.unlink()
    records = ensure_engines(folder, torch_device, log=log)
    return [folder / f"{graph}.plan" for graph in records]
