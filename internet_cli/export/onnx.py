"""Export a weights file to ONNX: three graphs in one folder, checked against PyTorch.

``DIR/source_encoder.onnx``  source ``(1, 3, S, S)`` -> the ``SourceState`` tensors by field name
                             (``image_small``, ``anchors``, ``affines``, ...), then ``feature_0`` ...
                             ``feature_{k-1}`` (base resolution first)
``DIR/detector.onnx``        driving ``(B, 3, S, S)`` -> ``anchors``, ``affines`` (Stage I anchors of
                             the first driving frame: the relative-motion reference)
``DIR/frame.onnx``           ``driving (B, 3, S, S)`` + the source state + the reference
                             (``ref_anchors``, ``ref_affines``, ``relative``, ``scale``) -> ``frames``
``DIR/export.json``          config, weights hash, opset, fp16, parity errors

A pose-anchor model (``motion.anchors = "pose"``) has no detector graph: its anchors come from
body landmarks outside the graphs (:mod:`internet_cli.pose.parts`). Its ``source_encoder.onnx``
also takes ``source_anchors`` ``(1, n, 2)`` and ``source_affines`` ``(1, n, 2, 2)``, and its
``frame.onnx`` takes ``driving_anchors`` ``(B, n, 2)`` and ``driving_affines`` ``(B, n, 2, 2)``
in place of the driving frames and the reference.

``B`` is dynamic. Images are float32 in [0, 1]; every graph input and output is float32, also with
``--fp16`` (then the Stage II encoder and decoder run in float16 inside the graphs, while Stage I,
the anchors, affines, motion field and confidence map, stays in float32).

Every graph carries its provenance in the ONNX ``metadata_props``: ``format`` = ``internet-onnx``,
``format_version``, ``graph``, ``config`` (JSON), ``weights_sha256``, ``trained``, ``fp16``, ``opset``.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from internet_cli.errors import BackendError, OutputError
from internet_cli.export.format import (FORMAT, FORMAT_VERSION, feature_names, frame_input_names, graphs_for,
                                       is_pose, source_pose_inputs, state_names)

DEFAULT_OPSET = 18
MIN_OPSET = 16  # GridSample
FP32_TOLERANCE = 1e-4  # source encoder (relative to the features' magnitude) and detector
# The frame graph warps images and features, so a float32 rounding difference in a sampling
# coordinate is multiplied by the image gradient where it samples. Trained warps are sharp: the
# trained lite-512 weights' own PyTorch float32 output is 6.9e-4 away from float64 (max abs), and
# onnxruntime lands 1.75e-3 from PyTorch. A fixed 1e-4 is below that noise floor, so the frame is
# held to the precision of what it produces, 8-bit video: at most one 8-bit step anywhere, and a
# mean error that catches systematic mistakes (a shifted or misaligned warp moves every edge).
FRAME_MAX_TOLERANCE = 1 / 255
FRAME_MEAN_TOLERANCE = 1e-5
TOLERANCES = {"source_encoder": FP32_TOLERANCE, "detector": FP32_TOLERANCE,
              "frame": FRAME_MAX_TOLERANCE, "frame_mean": FRAME_MEAN_TOLERANCE}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- the graphs -------------------------------------------------------------------------------


class _Half(nn.Module):
    """Runs ``module`` in float16; tensors in and out stay float32 (so graph I/O is float32)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module.half()

    def forward(self, *args):
        out = self.module(*(_cast(a, torch.float16) for a in args))
        return _cast(out, torch.float32)


def _cast(x, dtype):
    if isinstance(x, (list, tuple)):
        return type(x)(_cast(t, dtype) for t in x)
    return x.to(dtype) if isinstance(x, torch.Tensor) and x.is_floating_point() else x


def _graph_model(model, fp16: bool):
    """The model to export: a copy with Stage II (source encoder, decoder) in float16 if asked."""
    if not fp16:
        return model
    model = copy.deepcopy(model)
    model.encoder = _Half(model.encoder)
    model.decoder = _Half(model.decoder)
    return model.eval()


class SourceGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, source, *anchors):
        """``anchors``: the source's anchors and affines (and person mask, with ``motion.person_mask``),
        for a pose-mode model only."""
        s = self.model.encode_source(source, *anchors)
        return (*(getattr(s, n) for n in state_names()), *s.features)


class DetectorGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, driving):
        return self.model.detector(driving)


class FrameGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, driving, *inputs):
        """``inputs``: the state fields, the reference, then the features (``frame_input_names``)."""
        from internet_cli.model import DrivingReference, SourceState

        names = state_names()
        k = len(names)
        state = SourceState(**dict(zip(names, inputs[:k])), features=tuple(inputs[k + 4:]))
        ref = DrivingReference(*inputs[k:k + 4])
        return self.model.animate(state, driving, ref)


class PoseFrameGraph(nn.Module):
    """Pose mode: driving anchors and affines (the first of ``inputs``) + the state -> frames."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, driving_anchors, *inputs):
        from internet_cli.model import SourceState

        names = state_names()
        k = len(names) + 1
        state = SourceState(**dict(zip(names, inputs[1:k])), features=tuple(inputs[k:]))
        return self.model.generate(state, driving_anchors, inputs[0])["prediction"]


@dataclass
class _Spec:
    name: str
    module: nn.Module
    args: tuple
    input_names: list[str]
    output_names: list[str]
    batch_inputs: int  # how many leading inputs have the dynamic batch axis


def _random_images(batch: int, size: int, g: torch.Generator) -> torch.Tensor:
    """Random images with the smoothness of photos: 16x16 noise upsampled bilinearly.

    Per-pixel noise would make warping amplify float rounding in the sampling coordinates
    (1e-6 in normalised units is ~1e-4 of a pixel at 512, times a gradient of up to 1 per pixel)
    and measure that instead of the export.
    """
    low = torch.rand(batch, 3, 16, 16, generator=g)
    return torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=True)


def _random_anchors(batch: int, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchors in the middle of the picture and affines near the identity (pose-mode inputs)."""
    kp = torch.rand(batch, n, 2, generator=g) - 0.5
    jac = torch.eye(2).expand(batch, n, 2, 2) + 0.2 * (torch.rand(batch, n, 2, 2, generator=g) - 0.5)
    return kp, jac.contiguous()


def _example_inputs(model, batch: int = 2, seed: int = 0):
    """Random source and driving images, the source state and a relative reference (torch); pose
    mode: the driving "frames" are random driving anchors and affines, and there is no reference."""
    from internet_cli.model import DrivingReference

    s, n = model.config.image_size, model.config.motion.num_anchors
    g = torch.Generator().manual_seed(seed)
    source, driving = _random_images(1, s, g), _random_images(batch, s, g)
    if is_pose(model.config):
        source_anchors, driving_anchors = _random_anchors(1, n, g), _random_anchors(batch, n, g)
        if model.config.motion.person_mask:  # a smooth random mask in [0, 1]
            source_anchors = (*source_anchors, _random_images(1, s, g)[:, :1])
        with torch.no_grad():
            state = model.encode_source(source, *source_anchors)
        return (source, *source_anchors), driving_anchors, state, None
    with torch.no_grad():
        state = model.encode_source(source)
        kp, jac = model.detector(driving[:1])
    ref = DrivingReference(kp, jac, torch.ones(1), torch.full((1,), 1.1))
    return (source,), (driving,), state, ref


def _frame_args(driving: tuple, state, ref) -> tuple:
    """The frame graph's inputs: the driving frames (or pose mode's anchors and affines), the state,
    the reference (learned anchors only) and the features."""
    fields = tuple(getattr(state, n) for n in state_names())
    refs = () if ref is None else (ref.anchors, ref.affines, ref.relative, ref.scale)
    return (*driving, *fields, *refs, *state.features)


def _batch_slice(driving: tuple, stop: int) -> tuple:
    return tuple(t[:stop] for t in driving)


def _specs(model, graph_model) -> list[_Spec]:
    cfg = model.config
    source, driving, state, ref = _example_inputs(model, batch=2)  # batch 2: 1 would be specialised
    feats = feature_names(cfg)
    outputs = [*state_names(), *feats]
    if is_pose(cfg):
        return [
            _Spec("source_encoder", SourceGraph(graph_model), source, ["source", *source_pose_inputs(cfg)], outputs, 0),
            _Spec("frame", PoseFrameGraph(graph_model), _frame_args(driving, state, None), frame_input_names(cfg),
                  ["frames"], 2),
        ]
    return [
        _Spec("source_encoder", SourceGraph(graph_model), source, ["source"], outputs, 0),
        _Spec("detector", DetectorGraph(model), driving, ["driving"], ["anchors", "affines"], 1),
        _Spec("frame", FrameGraph(graph_model), _frame_args(driving, state, ref), frame_input_names(cfg), ["frames"],
              1),
    ]


def _export_dynamo(spec: _Spec, opset: int):
    batch = torch.export.Dim("batch", min=1, max=1024)
    shapes = [{0: batch} if i < spec.batch_inputs else None for i in range(len(spec.args))]
    if spec.name == "frame":  # all inputs after the first are one (variadic) argument for torch.export
        shapes = [shapes[0], tuple(shapes[1:])]
    elif spec.name == "source_encoder" and len(spec.args) > 1:
        shapes = [shapes[0], tuple(shapes[1:])]
    exported = torch.export.export(spec.module, spec.args, dynamic_shapes=tuple(shapes))
    program = torch.onnx.export(exported, spec.args, None, dynamo=True, input_names=spec.input_names,
                                output_names=spec.output_names, opset_version=opset, verbose=False)
    return program.model_proto


def _export_torchscript(spec: _Spec, opset: int, path: Path):
    import onnx

    axes = {}
    if spec.batch_inputs:
        axes = {**{n: {0: "batch"} for n in spec.input_names[:spec.batch_inputs]},
                **{n: {0: "batch"} for n in spec.output_names}}
    torch.onnx.export(spec.module, spec.args, str(path), dynamo=False, input_names=spec.input_names,
                      output_names=spec.output_names, opset_version=opset, dynamic_axes=axes or None)
    return onnx.load(str(path))


@contextlib.contextmanager
def _quiet_logs():
    """The exporters log warnings that are noise here (e.g. torchvision ops not registered)."""
    names = ("torch.onnx", "torch.onnx._internal.exporter._registration", "torch.export", "torch._export",
             "onnxscript")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def _export_graph(spec: _Spec, opset: int, tmp: Path, log: Callable[[str], None]):
    """ONNX ModelProto of one graph: the dynamo exporter, else the TorchScript one."""
    quiet = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet), _quiet_logs():
        warnings.simplefilter("ignore")
        try:
            return _export_dynamo(spec, opset), "dynamo"
        except Exception as exc:  # noqa: BLE001 - try the other exporter, report both
            dynamo_error = _one_line(exc)
        try:
            return _export_torchscript(spec, opset, tmp / f"{spec.name}.torchscript.onnx"), "torchscript"
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"ONNX export of {spec.name} failed (dynamo: {dynamo_error}; "
                               f"torchscript: {_one_line(exc)})") from exc


# --- parity ------------------------------------------------------------------------------------


def session_for(path: Path, providers: list | None = None):
    """An onnxruntime session for ``path`` with the project's options (threads, no spinning)."""
    import onnxruntime as ort

    from internet_cli.devices import ort_session_options

    return ort.InferenceSession(str(path), sess_options=ort_session_options(),
                                providers=providers or ["CPUExecutionProvider"])


def _abs_err(a: np.ndarray, b: torch.Tensor) -> np.ndarray:
    return np.abs(a.astype(np.float64) - b.detach().double().numpy())


def _max_err(a: np.ndarray, b: torch.Tensor) -> float:
    return float(_abs_err(a, b).max())


def parity_check(model, folder: Path, frames: int = 3, seed: int = 1) -> dict[str, float]:
    """Max abs error of every graph against PyTorch (float32 model) on random inputs.

    The frame graph runs a batch of ``frames`` (not the traced batch size) and a batch of 1, in
    relative mode with an adapted scale, so dynamic batch and the reference path are exercised.
    Source features are compared relative to their magnitude (they are not bounded). The frame
    graph reports ``frame`` (max over every pixel) and ``frame_mean`` (mean abs error); see
    ``FRAME_MAX_TOLERANCE`` for why the frame is not held to ``FP32_TOLERANCE``.
    """
    source, driving, state, ref = _example_inputs(model, batch=frames, seed=seed)
    pose = is_pose(model.config)
    errors: dict[str, float] = {}
    sess = session_for(folder / "source_encoder.onnx")
    got = sess.run(None, {i.name: a.numpy() for i, a in zip(sess.get_inputs(), source)})
    want = (*(getattr(state, n) for n in state_names()), *state.features)
    errors["source_encoder"] = max(_max_err(g, w) / max(1.0, float(w.abs().max())) for g, w in zip(got, want))
    if not pose:
        sess = session_for(folder / "detector.onnx")
        with torch.no_grad():
            kp, jac = model.detector(driving[0])
        got = sess.run(None, {"driving": driving[0].numpy()})
        errors["detector"] = max(_max_err(got[0], kp), _max_err(got[1], jac))
    sess = session_for(folder / "frame.onnx")
    names = frame_input_names(model.config)
    err, total, count = 0.0, 0.0, 0
    for batch in (driving, _batch_slice(driving, 1)):
        args = _frame_args(batch, state, ref)
        with torch.no_grad():
            want = model.generate(state, *batch)["prediction"] if pose else model.animate(state, batch[0], ref)
        got = sess.run(None, {n: a.numpy() for n, a in zip(names, args)})[0]
        diff = _abs_err(got, want)
        err = max(err, float(diff.max()))
        total, count = total + float(diff.sum()), count + diff.size
    errors["frame"] = err
    errors["frame_mean"] = total / count
    return errors


def parity_failures(errors: dict[str, float]) -> dict[str, float]:
    """The float32 parity errors over their tolerance (empty when the export is good)."""
    return {k: v for k, v in errors.items() if not v <= TOLERANCES[k]}


# --- the export ----------------------------------------------------------------------------------


@dataclass
class ExportResult:
    folder: Path
    info: dict = field(default_factory=dict)

    @property
    def parity(self) -> dict[str, float]:
        return self.info["parity_max_abs_error"]


def _metadata(weights, sha: str, graph: str, opset: int, fp16: bool, exporter: str) -> dict[str, str]:
    return {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "graph": graph,
        "config": json.dumps(weights.config.to_dict()),
        "weights_sha256": sha,
        "trained": "true" if weights.trained else "false",
        "fp16": "true" if fp16 else "false",
        "opset": str(opset),
        "exporter": exporter,
    }


EXPORT_SUFFIX = ".onnx"


def check_export_folder(folder: Path, weights_path: Path) -> None:
    """``internet export``'s rules for its output folder, before any work: it must not be the weights
    file nor hold it (outputs never replace inputs, :func:`internet_cli.paths.check_apart`), and its
    name says what it holds: NAME.onnx (what ``animate -w`` takes). OutputError, one line, otherwise."""
    from internet_cli.paths import check_apart

    check_apart([("export folder", folder)], [("weights file", weights_path)], kind="folder")
    if Path(folder).suffix.lower() != EXPORT_SUFFIX:
        example = (Path(folder).expanduser().resolve().stem or "model") + EXPORT_SUFFIX
        raise OutputError(f"{folder}: an export folder holds ONNX graphs; name it NAME{EXPORT_SUFFIX} "
                          f"(for example {example})")


def export_onnx(weights_path: Path, out_dir: Path, *, fp16: bool = False, opset: int = DEFAULT_OPSET,
                log: Callable[[str], None] = print, parity_frames: int = 3) -> ExportResult:
    """Export ``weights_path`` to ``out_dir`` (created; the graphs in it are replaced).

    Written to a temporary folder beside ``out_dir`` first, so a failed or interrupted export
    never leaves a half-written folder that looks complete. Raises BackendError when the float32
    parity check fails (:data:`TOLERANCES`: 1e-4 relative for the source encoder and detector; for
    the frame at most 1/255 anywhere and 1e-5 on average).
    """
    import onnx

    from internet_cli.checkpoint import load_weights

    if opset < MIN_OPSET:
        raise BackendError(f"--opset {opset} is too old: grid_sample needs opset {MIN_OPSET} or newer")
    weights_path, out_dir = Path(weights_path), Path(out_dir)
    weights = load_weights(weights_path)
    sha = sha256_file(weights_path)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"export folder is a file: {out_dir}")
    if not out_dir.parent.is_dir():
        raise OutputError(f"output folder does not exist: {out_dir.parent}")
    model = weights.build()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        t0 = time.perf_counter()
        exporters = _export_graphs(weights, model, weights_path.name, sha, tmp, opset, fp16, log)
        export_seconds = time.perf_counter() - t0
        parity = _check_parity(model, tmp, parity_frames, fp16, log)
        info = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config": weights.config.to_dict(),
            "weights": weights_path.name,
            "weights_sha256": sha,
            "trained": weights.trained,
            "opset": opset,
            "fp16": fp16,
            "exporters": exporters,
            "graphs": {g: f"{g}.onnx" for g in graphs_for(weights.config)},
            "parity_max_abs_error": parity,
            "parity_tolerance_fp32": TOLERANCES,
            "export_seconds": round(export_seconds, 1),
            "torch": torch.__version__,
            "onnx": onnx.__version__,
        }
        (tmp / "export.json").write_text(json.dumps(info, indent=2) + "\n")
        _publish(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(out_dir, info)


def _export_graphs(weights, model, name: str, sha: str, tmp: Path, opset: int, fp16: bool,
                   log: Callable[[str], None]) -> dict[str, str]:
    """Every graph of ``model`` saved into ``tmp`` with its provenance; returns the exporter used for each."""
    import onnx

    graph_model = _graph_model(model, fp16)
    exporters = {}
    for spec in _specs(model, graph_model):
        proto, exporter = _export_graph(spec, opset, tmp, log)
        exporters[spec.name] = exporter
        for key, value in _metadata(weights, sha, spec.name, opset, fp16, exporter).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        proto.doc_string = f"internet {spec.name} graph of {name} ({weights.config.name})"
        onnx.save(proto, str(tmp / f"{spec.name}.onnx"))
        (tmp / f"{spec.name}.torchscript.onnx").unlink(missing_ok=True)
        log(f"exported {spec.name}.onnx ({exporter}, opset {opset}{', fp16' if fp16 else ''})")
    return exporters


def _check_parity(model, tmp: Path, frames: int, fp16: bool, log: Callable[[str], None]) -> dict[str, float]:
    """The graphs in ``tmp`` against PyTorch; BackendError past :data:`TOLERANCES` (float32 only)."""
    parity = parity_check(model, tmp, frames=frames)
    log("parity vs PyTorch (abs error): "
        + ", ".join(f"{k} {v:.2e}" for k, v in parity.items()) + (" (fp16)" if fp16 else ""))
    if not fp16:
        bad = parity_failures(parity)
        if bad:
            raise BackendError("ONNX export failed its parity check: abs error "
                               + ", ".join(f"{k} {v:.2e} (tolerance {TOLERANCES[k]:.2g})" for k, v in bad.items()))
    return parity


def _publish(tmp: Path, out_dir: Path) -> None:
    """Move the finished export into place (a rename when ``out_dir`` does not exist yet)."""
    if not out_dir.exists():
        try:
            os.replace(tmp, out_dir)
            return
        except OSError:
            if not out_dir.is_dir():
                raise
    out_dir.mkdir(exist_ok=True)
    # export.json last: a folder with an export.json holds a complete export.
    names = sorted(p.name for p in tmp.iterdir() if p.name != "export.json") + ["export.json"]
    (out_dir / "export.json").unlink(missing_ok=True)
    for name in names:
        os.replace(tmp / name, out_dir / name)
