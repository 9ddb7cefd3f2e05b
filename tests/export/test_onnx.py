"""ONNX export: graphs, metadata, dynamic batch and parity with PyTorch (tiny-512 preset)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import onnx
import pytest
import torch

from internet_cli.checkpoint import load_weights
from internet_cli.config import ModelConfig
from internet_cli.export.format import FORMAT, GRAPHS, frame_input_names
from internet_cli.export.onnx import (
    FP32_TOLERANCE,
    FRAME_MAX_TOLERANCE,
    FRAME_MEAN_TOLERANCE,
    _graph_model,
    parity_check,
    parity_failures,
    session_for,
    sha256_file,
)


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("INTERNET_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "internet_cli", *args], capture_output=True, text=True, timeout=300,
                          env=full_env)


def test_export_writes_three_graphs_with_parity(tiny512_onnx, tiny512_weights):
    info = json.loads((tiny512_onnx / "export.json").read_text())
    assert sorted(p.name for p in tiny512_onnx.iterdir()) == ["detector.onnx", "export.json", "frame.onnx",
                                                               "source_encoder.onnx"]
    assert info["weights_sha256"] == sha256_file(tiny512_weights)
    assert info["fp16"] is False and info["opset"] >= 16 and info["trained"] is False
    errors = info["parity_max_abs_error"]
    assert set(errors) == {*GRAPHS, "frame_mean"}
    assert not parity_failures(errors), errors
    assert max(errors["source_encoder"], errors["detector"]) <= FP32_TOLERANCE, errors
    assert errors["frame"] <= FRAME_MAX_TOLERANCE and errors["frame_mean"] <= FRAME_MEAN_TOLERANCE, errors
    weights = load_weights(tiny512_weights)
    assert ModelConfig.from_dict(info["config"]) == weights.config
    for graph in GRAPHS:
        proto = onnx.load(str(tiny512_onnx / f"{graph}.onnx"))
        onnx.checker.check_model(proto)
        meta = {p.key: p.value for p in proto.metadata_props}
        assert meta["format"] == FORMAT and meta["graph"] == graph and meta["trained"] == "false"
        assert meta["weights_sha256"] == info["weights_sha256"]
        assert ModelConfig.from_dict(json.loads(meta["config"])) == weights.config


def test_frame_graph_has_a_dynamic_batch_and_matches_torch(tiny512_onnx, tiny512_weights):
    model = load_weights(tiny512_weights).build()
    sess = session_for(tiny512_onnx / "frame.onnx")
    inputs = {i.name: i.shape for i in sess.get_inputs()}
    assert list(inputs) == frame_input_names(model.config)
    assert isinstance(inputs["driving"][0], str)  # symbolic batch
    assert isinstance(session_for(tiny512_onnx / "detector.onnx").get_inputs()[0].shape[0], str)
    # Batch sizes the export never traced (3 and 1), another seed.
    errors = parity_check(model, tiny512_onnx, frames=3, seed=7)
    assert not parity_failures(errors), errors


def test_fp16_graph_model_keeps_stage_one_in_float32(tiny512_weights):
    model = load_weights(tiny512_weights).build()
    half = _graph_model(model, fp16=True)
    assert next(half.detector.parameters()).dtype == torch.float32
    assert next(half.dense_motion.parameters()).dtype == torch.float32
    assert next(half.encoder.parameters()).dtype == torch.float16
    assert next(half.decoder.parameters()).dtype == torch.float16
    assert next(model.encoder.parameters()).dtype == torch.float32  # the original is untouched
    x = torch.rand(1, 3, 512, 512)
    with torch.no_grad():
        a = model.encode_source(x)
        b = half.encode_source(x)
    assert all(t.dtype == torch.float32 for t in b.features)
    assert torch.equal(a.anchors, b.anchors)  # Stage I: bit-identical
    err = max(float((fa - fb).abs().max() / fa.abs().max().clamp(min=1)) for fa, fb in zip(a.features, b.features))
    assert err < 1e-2


def test_cli_export_needs_a_format_and_tensorrt_fails_with_one_line(tmp_path, tiny512_weights):
    r = run_cli("export", "-w", str(tiny512_weights), "-o", str(tmp_path / "x"))
    assert r.returncode == 2 and "--onnx" in r.stderr
    pytest.importorskip("onnxruntime")
    try:
        import tensorrt  # noqa: F401
        pytest.skip("TensorRT is installed here")
    except ImportError:
        pass
    r = run_cli("export", "--tensorrt", "-w", str(tiny512_weights), "-o", str(tmp_path / "x"))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "internet: error: TensorRT is not installed: pip install 'internet-cli[tensorrt]' on a machine with an "
        "NVIDIA GPU"]
    assert "Traceback" not in r.stderr and not (tmp_path / "x").exists()


def test_cli_export_rejects_an_old_opset(tmp_path, tiny512_weights):
    r = run_cli("export", "--onnx", "--opset", "13", "-w", str(tiny512_weights), "-o", str(tmp_path / "x"))
    assert r.returncode == 2 and not (tmp_path / "x").exists()



def test_failed_export_is_one_line_and_leaves_nothing(tmp_path, tiny512_weights, monkeypatch):
    """When the dynamo exporter fails, the TorchScript one is tried; both failing is one BackendError
    naming both, and no folder (complete or partial) is left behind."""
    import internet_cli.export.onnx as export_module
    from internet_cli.errors import BackendError

    def fail(*_args, **_kwargs):
        raise RuntimeError("dynamo says no")

    monkeypatch.setattr(export_module, "_export_dynamo", fail)
    monkeypatch.setattr(export_module, "_export_torchscript", fail)
    with pytest.raises(BackendError) as info:
        export_module.export_onnx(tiny512_weights, tmp_path / "out.onnx", log=lambda _m: None)
    message = str(info.value)
    assert "\n" not in message and "dynamo: RuntimeError: dynamo says no" in message and "torchscript:" in message
    assert list(tmp_path.iterdir()) == []


def test_failed_parity_fails_the_export(tmp_path, tiny512_weights, tiny512_onnx, monkeypatch):
    """A float32 export over its tolerance is refused (graphs copied from the good export here, so
    that the test does not export again)."""
    import internet_cli.export.onnx as export_module
    from internet_cli.errors import BackendError

    def copy_graph(spec, _opset, _tmp, _log):
        return onnx.load(str(tiny512_onnx / f"{spec.name}.onnx")), "dynamo"

    monkeypatch.setattr(export_module, "_export_graph", copy_graph)
    monkeypatch.setattr(export_module, "parity_check", lambda *_a, **_k: {"source_encoder": 0.0, "detector": 0.0,
                                                                          "frame": 5e-3, "frame_mean": 2e-4})
    with pytest.raises(BackendError, match=r"parity check: abs error frame 5.00e-03 \(tolerance 0.0039\), "
                                           r"frame_mean 2.00e-04 \(tolerance 1e-05\)"):
        export_module.export_onnx(tiny512_weights, tmp_path / "out.onnx", log=lambda _m: None)
    assert list(tmp_path.iterdir()) == []


def test_a_single_scale_model_exports_with_parity(tmp_path):
    """The SS4x generator (``generator.scales = "single"``) reads only the base features; its frame
    graph still takes every feature input (the runtime feeds them all) and matches PyTorch."""
    from internet_cli.checkpoint import save_weights
    from internet_cli.config import preset, with_options
    from internet_cli.export.onnx import export_onnx
    from internet_cli.model import INTERnet

    torch.manual_seed(0)
    weights = save_weights(tmp_path / "ss4x.safetensors", INTERnet(with_options(preset("tiny-512"), scales="single")),
                           trained=False)
    folder = tmp_path / "ss4x.onnx"
    export_onnx(weights, folder, log=lambda _m: None)
    info = json.loads((folder / "export.json").read_text())
    assert not parity_failures(info["parity_max_abs_error"]), info["parity_max_abs_error"]
    frame = onnx.load(str(folder / "frame.onnx"))
    assert [i.name for i in frame.graph.input] == list(frame_input_names(load_weights(weights).config))
