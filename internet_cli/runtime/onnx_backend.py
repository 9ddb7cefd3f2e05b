"""The model through onnxruntime: an exported folder (``internet export --onnx``) behind the same
interface as :class:`~internet_cli.runtime.animator.TorchAnimator`.

``encode_source`` runs ``source_encoder.onnx`` once; ``reference`` runs ``detector.onnx`` on the
first driving frame; ``animate`` runs ``frame.onnx`` on a batch of driving frames. The state and
the reference are numpy arrays fed to ``frame.onnx`` as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from internet_cli.config import ModelConfig
from internet_cli.errors import WeightsError
from internet_cli.export.onnx import (FORMAT, FORMAT_VERSION, POSE_INPUTS, SOURCE_POSE_INPUTS, frame_input_names,
                                      graphs_for)
from internet_cli.runtime.animator import anchor_scale

_REEXPORT = "re-export it with `internet export --onnx -w WEIGHTS -o DIR`"


@dataclass
class OnnxState:
    """The per-source state as numpy arrays, named as ``frame.onnx``'s inputs."""

    inputs: dict[str, np.ndarray]

    @property
    def anchors(self) -> np.ndarray:
        return self.inputs["anchors"]


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


# TensorRT optimisation profile of the dynamic ``driving`` batch: (min, opt, max).
TENSORRT_BATCH_PROFILE = (1, 4, 16)


def _batch_inputs(config: ModelConfig) -> dict[str, str]:
    """The inputs fed a driving batch, and their other dimensions (``AxBxC``)."""
    if config.motion.anchors == "pose":
        n = config.motion.num_anchors
        return {POSE_INPUTS[0]: f"{n}x2", POSE_INPUTS[1]: f"{n}x2x2"}
    return {"driving": f"3x{config.image_size}x{config.image_size}"}


def _with_batch_profile(providers: list, graph: str, config: ModelConfig) -> list:
    """The TensorRT provider's options plus a batch profile for the graphs fed a driving batch,
    so that one engine serves every batch size (otherwise it rebuilds one per new shape)."""
    if graph == "source_encoder":
        return providers
    out = []
    for p in providers:
        if isinstance(p, tuple) and p[0] == "TensorrtExecutionProvider":
            inputs = _batch_inputs(config)

            def shapes(b: int) -> str:
                return ",".join(f"{name}:{b}x{dims}" for name, dims in inputs.items())

            lo, opt, hi = TENSORRT_BATCH_PROFILE
            p = (p[0], {**p[1], "trt_profile_min_shapes": shapes(lo), "trt_profile_opt_shapes": shapes(opt),
                        "trt_profile_max_shapes": shapes(hi)})
        out.append(p)
    return out


class OnnxAnimator:
    """``encode_source`` / ``reference`` / ``animate`` on onnxruntime sessions.

    ``backend`` is ``onnx`` (CUDA or CPU provider, per ``device``) or ``tensorrt`` (onnxruntime's
    TensorRT provider; engines are cached in ``FOLDER/tensorrt/``).
    """

    def __init__(self, folder: Path, device: str = "auto", backend: str = "onnx"):
        import onnxruntime as ort

        from internet_cli.devices import ort_providers, ort_session_options

        info = read_export(folder)
        self.folder = Path(folder)
        self.info = info
        self.config = info.config
        self.size = info.config.image_size
        self.backend = backend
        cache = str(self.folder / "tensorrt") if backend == "tensorrt" else None
        if cache:
            Path(cache).mkdir(exist_ok=True)
        providers = ort_providers(backend, device, cache_dir=cache, fp16=info.fp16)
        self.sessions = {}
        for graph in graphs_for(self.config):
            path = self.folder / f"{graph}.onnx"
            try:
                self.sessions[graph] = ort.InferenceSession(str(path), sess_options=ort_session_options(),
                                                            providers=_with_batch_profile(providers, graph, self.config))
            except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidGraph types
                raise WeightsError(f"{path} cannot be loaded by onnxruntime (corrupt or truncated); "
                                   f"{_REEXPORT}") from exc
        self.providers = self.sessions["frame"].get_providers()
        self._frame_inputs = frame_input_names(self.config)
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
        """``source`` ``(S, S, 3)`` uint8 -> the per-source state; pose mode takes the source's
        ``anchors`` ``((1, n, 2), (1, n, 2, 2))`` float32."""
        sess = self.sessions["source_encoder"]
        feeds = {"source": _to_float(source[None])}
        if self.pose_mode:
            feeds.update(zip(SOURCE_POSE_INPUTS, (np.asarray(a, np.float32) for a in anchors)))
        outputs = sess.run(None, feeds)
        return OnnxState({o.name: v for o, v in zip(sess.get_outputs(), outputs)})

    def animate_pose(self, state: OnnxState, kp: np.ndarray, jac: np.ndarray) -> np.ndarray:
        """Pose mode: driving anchors ``(B, n, 2)`` and affines ``(B, n, 2, 2)`` -> frames ``(B, S, S, 3)`` uint8."""
        feeds = {**state.inputs, POSE_INPUTS[0]: np.ascontiguousarray(kp, np.float32),
                 POSE_INPUTS[1]: np.ascontiguousarray(jac, np.float32)}
        return _to_uint8(self.sessions["frame"].run(None, {n: feeds[n] for n in self._frame_inputs})[0])

    def reference(self, state: OnnxState, first_frame: np.ndarray, relative: bool, adapt_scale: bool) -> dict:
        """Relative-motion reference from the first driving frame ``(S, S, 3)`` uint8."""
        kp_d, jac_d = self.sessions["detector"].run(None, {"driving": _to_float(first_frame[None])})
        scale = anchor_scale(state.anchors[0], kp_d[0]) if adapt_scale else 1.0
        return {
            "ref_anchors": kp_d,
            "ref_affines": jac_d,
            "relative": np.array([1.0 if relative else 0.0], np.float32),
            "scale": np.array([scale], np.float32),
        }

    def animate(self, state: OnnxState, frames: np.ndarray, ref: dict) -> np.ndarray:
        """Driving frames ``(B, S, S, 3)`` uint8 -> output frames ``(B, S, S, 3)`` uint8."""
        feeds = {**state.inputs, **ref, "driving": _to_float(frames)}
        out = self.sessions["frame"].run(None, {n: feeds[n] for n in self._frame_inputs})[0]
        return _to_uint8(out)
