"""The model through TensorRT: the ``GRAPH.plan`` engines of an exported folder behind the same
interface as :class:`~internet_cli.runtime.animator.TorchAnimator`.

The engines are the ones ``internet export --tensorrt`` writes (:mod:`internet_cli.export.tensorrt`),
checked against the folder's graphs, this TensorRT and this GPU before use, and built here when
missing. Every tensor is a torch CUDA tensor: the source state stays on the GPU, and each engine
runs on torch's current stream (``execute_async_v3``), so what follows it is ordered after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from internet_cli.errors import BackendError, WeightsError
from internet_cli.export.format import POSE_INPUTS, graphs_for, source_pose_inputs
from internet_cli.pose.person import SourceMasker, source_pose_arrays
from internet_cli.runtime.animator import to_tensor, to_uint8
from internet_cli.runtime.onnx_backend import make_reference, read_export, scaled_reference

_REBUILD = "delete the folder's .plan files (they are rebuilt) or re-run `internet export --tensorrt`"


@dataclass
class TensorRTState:
    """The per-source state, named as the frame engine's inputs: CUDA tensors made once by the
    source encoder's engine, and a host copy of the source's ``anchors`` ``(1, n, 2)``."""

    values: dict[str, torch.Tensor]
    anchors: np.ndarray


def _torch_dtype(trt, dtype) -> torch.dtype:
    table = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16, trt.DataType.INT32: torch.int32,
             trt.DataType.INT64: torch.int64, trt.DataType.BOOL: torch.bool}
    if dtype not in table:
        raise WeightsError(f"a TensorRT engine has an input or output of type {dtype}, which this runtime does not feed")
    return table[dtype]


class Engine:
    """One deserialised engine and its execution context, fed and filled with torch CUDA tensors."""

    def __init__(self, trt, runtime, path: Path, device: torch.device):
        engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is None:
            raise WeightsError(f"{path} cannot be loaded by this TensorRT ({trt.__version__}); {_REBUILD}")
        self.path, self.device, self.engine = path, device, engine
        self.context = engine.create_execution_context()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        self.inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self.dtypes = {n: _torch_dtype(trt, engine.get_tensor_dtype(n)) for n in names}

    def max_batch(self) -> int | None:
        """The most frames one call takes (the batch profile's maximum); None for a static engine."""
        dynamic = [n for n in self.inputs if tuple(self.engine.get_tensor_shape(n))[:1] == (-1,)]
        if not dynamic:
            return None
        return min(int(self.engine.get_tensor_profile_shape(n, 0)[2][0]) for n in dynamic)

    def __call__(self, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Run on ``feeds`` (at least the engine's inputs, by name); returns its outputs by name."""
        missing = [n for n in self.inputs if n not in feeds]
        if missing:
            raise WeightsError(f"{self.path} wants the inputs {missing}, which its graph does not have; {_REBUILD}")
        bound = {n: feeds[n].to(self.device, self.dtypes[n]).contiguous() for n in self.inputs}
        for name, tensor in bound.items():
            self.context.set_input_shape(name, tuple(tensor.shape))
            self.context.set_tensor_address(name, tensor.data_ptr())
        outputs = {}
        for name in self.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            outputs[name] = torch.empty(shape, dtype=self.dtypes[name], device=self.device)
            self.context.set_tensor_address(name, outputs[name].data_ptr())
        if not self.context.execute_async_v3(torch.cuda.current_stream(self.device).cuda_stream):
            raise BackendError(f"TensorRT failed to run {self.path.name} (see its log above)")
        return outputs


class TensorRTAnimator:
    """``encode_source`` / ``reference`` / ``animate`` on the TensorRT engines of an exported folder.

    ``rebuild_stale``: rebuild engines whose record does not match (the export cache) instead of
    refusing them. ``batch_size``: the most driving frames per call, checked against the engines.
    """

    backend = "tensorrt"

    def __init__(self, folder: Path, device: str = "auto", *, batch_size: int = 1, rebuild_stale: bool = False,
                 log: Callable[[str], None] = print):
        from internet_cli.devices import tensorrt_device
        from internet_cli.export.tensorrt import check_batch_size, ensure_engines

        self.device = tensorrt_device(device)  # one line when TensorRT or the GPU is missing
        import tensorrt as trt

        self.folder = Path(folder)
        self.info = read_export(self.folder)
        self.config = self.info.config
        self.size = self.config.image_size
        self._masker = SourceMasker(self.config.motion.segmenter)
        ensure_engines(self.folder, self.device, rebuild_stale=rebuild_stale, log=log)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        with torch.cuda.device(self.device):
            self.engines = {g: Engine(trt, runtime, self.folder / f"{g}.plan", self.device)
                            for g in graphs_for(self.config)}
        limits = [m for m in (e.max_batch() for e in self.engines.values()) if m is not None]
        self.max_batch = min(limits) if limits else batch_size
        check_batch_size(batch_size, self.max_batch)

    def describe(self) -> str:
        return f"tensorrt (TensorRT on {self.device}{', fp16 Stage II' if self.info.fp16 else ''})"

    @property
    def pose_mode(self) -> bool:
        return self.config.motion.anchors == "pose"

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, np.float32)).to(self.device)

    @torch.inference_mode()
    def encode_source(self, source: np.ndarray, anchors: tuple[np.ndarray, np.ndarray] | None = None) -> TensorRTState:
        """``source`` ``(S, S, 3)`` uint8 -> the per-source state on the GPU; pose mode takes the
        source's ``anchors`` ``((1, n, 2), (1, n, 2, 2))`` float32."""
        feeds = {"source": to_tensor(source[None], self.device)}
        if self.pose_mode:
            arrays = source_pose_arrays(self.config, source, anchors, self._masker)
            feeds.update(zip(source_pose_inputs(self.config), (self._tensor(a) for a in arrays)))
        values = self.engines["source_encoder"](feeds)
        return TensorRTState(values, values["anchors"].float().cpu().numpy())

    def _frames(self, state: TensorRTState, feeds: dict[str, torch.Tensor]) -> np.ndarray:
        from internet_cli.export.tensorrt import check_batch_size

        check_batch_size(next(iter(feeds.values())).shape[0], self.max_batch)
        return to_uint8(self.engines["frame"]({**state.values, **feeds})["frames"].float())

    @torch.inference_mode()
    def animate_pose(self, state: TensorRTState, kp: np.ndarray, jac: np.ndarray) -> np.ndarray:
        """Pose mode: driving anchors ``(B, n, 2)`` and affines ``(B, n, 2, 2)`` -> frames ``(B, S, S, 3)`` uint8."""
        return self._frames(state, {POSE_INPUTS[0]: self._tensor(kp), POSE_INPUTS[1]: self._tensor(jac)})

    @torch.inference_mode()
    def reference(self, state: TensorRTState, first_frame: np.ndarray, relative: bool, adapt_scale: bool) -> dict:
        """Relative-motion reference from the first driving frame ``(S, S, 3)`` uint8 (host arrays)."""
        out = self.engines["detector"]({"driving": to_tensor(first_frame[None], self.device)})
        kp_d, jac_d = (out[n].float().cpu().numpy() for n in ("anchors", "affines"))
        return make_reference(state.anchors, kp_d, jac_d, relative, adapt_scale)

    with_scale = staticmethod(scaled_reference)

    @torch.inference_mode()
    def animate(self, state: TensorRTState, frames: np.ndarray, ref: dict) -> np.ndarray:
        """Driving frames ``(B, S, S, 3)`` uint8 -> output frames ``(B, S, S, 3)`` uint8."""
        feeds = {"driving": to_tensor(frames, self.device), **{k: self._tensor(v) for k, v in ref.items()}}
        return self._frames(state, feeds)
