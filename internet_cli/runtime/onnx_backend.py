"""The model through onnxruntime: an exported folder (``internet export --onnx``) behind the same
interface as :class:`~internet_cli.runtime.animator.TorchAnimator`.

``encode_source`` runs ``source_encoder.onnx`` once; ``reference`` runs ``detector.onnx`` on the
first driving frame; ``animate`` runs ``frame.onnx`` on a batch of driving frames. The source state
(the source image and its features: about 60 MB for paper-512) stays where the session computed
it, as onnxruntime ``OrtValue``s bound to every frame through an ``IOBinding``; per frame only the
driving frames and the small reference go in, and the frames come out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from internet_cli.config import ModelConfig
from internet_cli.errors import WeightsError
from internet_cli.pose.person import SourceMasker, source_pose_arrays
from internet_cli.export.format import (FORMAT, FORMAT_VERSION, POSE_INPUTS, frame_input_names, graphs_for,
                                       source_pose_inputs)
from internet_cli.runtime.animator import anchor_scale

_REEXPORT = "re-export it with `internet export --onnx -w WEIGHTS -o DIR`"


@dataclass
class OnnxState:
    """The per-source state, named as ``frame.onnx``'s inputs: ``OrtValue``s on the session's device
    (made once by ``source_encoder.onnx``, bound to every frame as they are), and a host copy of the
    source's ``anchors`` ``(1, n, 2)`` for ``--adapt-scale``."""

    values: dict  # name -> onnxruntime.OrtValue
    anchors: np.ndarray


@dataclass
class ExportInfo:
    """What an exported folder holds, read from the graphs' own metadata (cheap: no session)."""

    folder: Path
    config: ModelConfig
    trained: bool
    fp16: bool
    weights_sha256: str


def _to_float(images: np.ndarray) -> np.ndarray:
    """``(B, H, W, 3)`` uint8 -> ``(B, 3, H, W)`` float32 in [0, 1]."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)


def _to_uint8(images: np.ndarray) -> np.ndarray:
    """``(B, 3, H, W)`` float in [0, 1] -> ``(B, H, W, 3)`` uint8 (rounded like the torch path)."""
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8).transpose(0, 2, 3, 1)


def _graph_metadata(path: Path) -> dict[str, str]:
    """The ``metadata_props`` of one graph without loading its weights; WeightsError if unreadable."""
    import onnx

    if not path.is_file():
        raise WeightsError(f"exported model folder lacks {path.name}: {path.parent} ({_REEXPORT})")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types on garbage
        raise WeightsError(f"{path} is not a valid ONNX graph (corrupt or truncated); {_REEXPORT}") from exc
    return {p.key: p.value for p in proto.metadata_props}


def read_export(folder: Path) -> ExportInfo:
    """Check an exported folder (all graphs present, same format version, same weights)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f"not an exported model folder: {folder}")
    frame = _graph_metadata(folder / "frame.onnx")
    try:
        config = ModelConfig.from_dict(json.loads(frame["config"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"{folder / 'frame.onnx'} has an unreadable model config; {_REEXPORT}") from exc
    metas = {g: frame if g == "frame" else _graph_metadata(folder / f"{g}.onnx") for g in graphs_for(config)}
    for graph, meta in metas.items():
        if meta.get("format") != FORMAT:
            raise WeightsError(f"{folder / (graph + '.onnx')} is not an internet ONNX export (no '{FORMAT}' metadata)")
        if meta.get("format_version") != str(FORMAT_VERSION):
            raise WeightsError(f"{folder / (graph + '.onnx')} has export format version "
                               f"{meta.get('format_version')}, this internet reads {FORMAT_VERSION}; {_REEXPORT}")
    if len({m.get("weights_sha256") for m in metas.values()}) != 1:
        raise WeightsError(f"the graphs in {folder} come from different weights files; {_REEXPORT}")
    return ExportInfo(folder, config, frame.get("trained") == "true", frame.get("fp16") == "true",
                      frame.get("weights_sha256", ""))


def scaled_reference(ref: dict[str, np.ndarray], scale: float) -> dict[str, np.ndarray]:
    """``ref`` with its motion scale replaced (the pose-based ``--adapt-scale``)."""
    return {**ref, "scale": np.array([scale], dtype=np.asarray(ref["scale"]).dtype)}


class OnnxAnimator:
    """``encode_source`` / ``reference`` / ``animate`` on onnxruntime sessions (the CUDA provider on
    the GPU that ``device`` names, or the CPU provider: :func:`internet_cli.devices.ort_providers`)."""

    backend = "onnx"

    def __init__(self, folder: Path, device: str = "auto"):
        from internet_cli.devices import ort_device, ort_providers

        info = read_export(folder)
        self.folder = Path(folder)
        self.info = info
        self.config = info.config
        self.size = info.config.image_size
        providers = ort_providers(device)
        self.sessions = {g: _session(self.folder / f"{g}.onnx", providers) for g in graphs_for(self.config)}
        self.providers = self.sessions["frame"].get_providers()
        self.ort_device = ort_device(providers, self.providers)  # where the state lives
        self._frame_inputs = frame_input_names(self.config)
        self._masker = SourceMasker(self.config.motion.segmenter)
        missing = set(self._frame_inputs) - {i.name for i in self.sessions["frame"].get_inputs()}
        if missing:
            raise WeightsError(f"{self.folder / 'frame.onnx'} lacks the inputs {sorted(missing)}; {_REEXPORT}")

    def describe(self) -> str:
        provider = self.providers[0].replace("ExecutionProvider", "")
        return f"{self.backend} (onnxruntime {provider}{', fp16' if self.info.fp16 else ''})"

    @property
    def pose_mode(self) -> bool:
        return self.config.motion.anchors == "pose"

    def encode_source(self, source: np.ndarray, anchors: tuple[np.ndarray, np.ndarray] | None = None) -> OnnxState:
        """``source`` ``(S, S, 3)`` uint8 -> the per-source state, left on the session's device; pose
        mode takes the source's ``anchors`` ``((1, n, 2), (1, n, 2, 2))`` float32."""
        sess = self.sessions["source_encoder"]
        feeds = {"source": _to_float(source[None])}
        if self.pose_mode:
            feeds.update(zip(source_pose_inputs(self.config),
                             source_pose_arrays(self.config, source, anchors, self._masker)))
        binding = sess.io_binding()
        for name, array in feeds.items():
            binding.bind_cpu_input(name, array)
        names = [o.name for o in sess.get_outputs()]
        for name in names:
            binding.bind_output(name, *self.ort_device)
        sess.run_with_iobinding(binding)
        values = dict(zip(names, binding.get_outputs()))
        return OnnxState(values, values["anchors"].numpy())

    def _frames(self, state: OnnxState, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """``frame.onnx`` on the bound state plus the host arrays ``feeds`` -> frames ``(B, S, S, 3)`` uint8."""
        sess = self.sessions["frame"]
        binding = sess.io_binding()
        for name in self._frame_inputs:
            if name in state.values:
                binding.bind_ortvalue_input(name, state.values[name])
            else:
                binding.bind_cpu_input(name, feeds[name])
        binding.bind_output("frames", *self.ort_device)
        sess.run_with_iobinding(binding)
        return _to_uint8(binding.copy_outputs_to_cpu()[0])

    def animate_pose(self, state: OnnxState, kp: np.ndarray, jac: np.ndarray) -> np.ndarray:
        """Pose mode: driving anchors ``(B, n, 2)`` and affines ``(B, n, 2, 2)`` -> frames ``(B, S, S, 3)`` uint8."""
        return self._frames(state, {POSE_INPUTS[0]: np.ascontiguousarray(kp, np.float32),
                                    POSE_INPUTS[1]: np.ascontiguousarray(jac, np.float32)})

    def reference(self, state: OnnxState, first_frame: np.ndarray, relative: bool, adapt_scale: bool) -> dict:
        """Relative-motion reference from the first driving frame ``(S, S, 3)`` uint8."""
        kp_d, jac_d = self.sessions["detector"].run(None, {"driving": _to_float(first_frame[None])})
        return make_reference(state.anchors, kp_d, jac_d, relative, adapt_scale)

    with_scale = staticmethod(scaled_reference)

    def animate(self, state: OnnxState, frames: np.ndarray, ref: dict) -> np.ndarray:
        """Driving frames ``(B, S, S, 3)`` uint8 -> output frames ``(B, S, S, 3)`` uint8."""
        return self._frames(state, {**ref, "driving": _to_float(frames)})


def make_reference(source_anchors: np.ndarray, kp_d: np.ndarray, jac_d: np.ndarray, relative: bool,
                   adapt_scale: bool) -> dict[str, np.ndarray]:
    """The reference inputs of ``frame.onnx`` (host arrays) from the first driving frame's anchors."""
    scale = anchor_scale(source_anchors[0], kp_d[0]) if adapt_scale else 1.0
    return {
        "ref_anchors": np.ascontiguousarray(kp_d, np.float32),
        "ref_affines": np.ascontiguousarray(jac_d, np.float32),
        "relative": np.array([1.0 if relative else 0.0], np.float32),
        "scale": np.array([scale], np.float32),
    }


def _session(path: Path, providers: list):
    """An onnxruntime session for one graph of the folder; WeightsError when it cannot be loaded."""
    import onnxruntime as ort

    from internet_cli.devices import ort_session_options

    try:
        return ort.InferenceSession(str(path), sess_options=ort_session_options(), providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidGraph types
        raise WeightsError(f"{path} cannot be loaded by onnxruntime (corrupt or truncated); {_REEXPORT}") from exc
