"""TensorRT engines without a GPU: the build's typing and profile, the records that tie engines to
their folder, and the batch-size guard (issue 21, points 6, 7 and 9).

A stand-in ``tensorrt`` module records what the builder is asked for; the engines themselves are
built and run by tests/gpu/test_gpu.py on a machine with TensorRT.
"""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import pytest
import torch

from internet_cli.errors import BackendError, WeightsError
from internet_cli.export import tensorrt as trt_export
from internet_cli.runtime.onnx_backend import read_export


# --- a stand-in for the TensorRT builder API ------------------------------------------------------


class _Tensor:
    def __init__(self, name, shape):
        self.name, self.shape = name, shape


class _Network:
    def __init__(self, flags, inputs):
        self.flags, self.inputs = flags, inputs

    @property
    def num_inputs(self):
        return len(self.inputs)

    def get_input(self, i):
        return self.inputs[i]


class _Profile:
    def __init__(self):
        self.shapes = {}

    def set_shape(self, name, lo, opt, hi):
        self.shapes[name] = (lo, opt, hi)


class _Config:
    def __init__(self):
        self.flags, self.profiles, self.pools = [], [], {}

    def set_flag(self, flag):
        self.flags.append(flag)

    def set_memory_pool_limit(self, pool, size):
        self.pools[pool] = size

    def add_optimization_profile(self, profile):
        self.profiles.append(profile)


def fake_tensorrt(inputs: list[tuple[str, tuple]]) -> types.ModuleType:
    """A ``tensorrt`` module whose parser yields a network with ``inputs`` (name, shape); the
    objects it made are kept in ``module.made``."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.13.0"
    trt.made = {}
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level=None: None})
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(STRONGLY_TYPED=5)
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="workspace")
    trt.BuilderFlag = types.SimpleNamespace(FP16="fp16")

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            trt.made["network"] = _Network(flags, [_Tensor(n, s) for n, s in inputs])
            return trt.made["network"]

        def create_builder_config(self):
            trt.made["config"] = _Config()
            return trt.made["config"]

        def create_optimization_profile(self):
            return _Profile()

        def build_serialized_network(self, network, config):
            return b"engine bytes"

    class OnnxParser:
        def __init__(self, network, logger):
            self.num_errors = 0

        def parse_from_file(self, path):
            trt.made["parsed"] = path
            return True

    trt.Builder, trt.OnnxParser = Builder, OnnxParser
    return trt


def test_engines_are_strongly_typed_with_no_fp16_flag(tmp_path, monkeypatch):
    """An fp16 export keeps Stage I float32 in its graph; a builder-wide FP16 flag would let TensorRT
    run it in float16 too, so the build must take the graph's types and set no precision flag."""
    trt = fake_tensorrt([("driving", (-1, 3, 512, 512)), ("anchors", (1, 10, 2))])
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    plan = trt_export.build_engine(tmp_path / "frame.onnx", tmp_path / "frame.plan")
    assert plan.read_bytes() == b"engine bytes" and not list(tmp_path.glob("*.partial"))
    assert trt.made["network"].flags == 1 << 5  # STRONGLY_TYPED
    assert trt.made["config"].flags == []  # no FP16 (nor any other precision) flag
    (profile,) = trt.made["config"].profiles
    assert profile.shapes == {"driving": ((1, 3, 512, 512), (4, 3, 512, 512), (16, 3, 512, 512))}


def test_a_static_graph_gets_no_optimisation_profile(tmp_path, monkeypatch):
    trt = fake_tensorrt([("source", (1, 3, 512, 512))])
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    trt_export.build_engine(tmp_path / "source_encoder.onnx", tmp_path / "source_encoder.plan")
    assert trt.made["config"].profiles == []  # not an empty one


def test_a_dynamic_dimension_other_than_the_batch_is_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt([("driving", (-1, 3, -1, 512))]))
    with pytest.raises(WeightsError, match="dynamic dimension other than the batch in driving"):
        trt_export.build_engine(tmp_path / "frame.onnx", tmp_path / "frame.plan")
    assert not (tmp_path / "frame.plan").exists()


def test_a_tensorrt_without_strong_typing_is_one_line(tmp_path, monkeypatch):
    trt = fake_tensorrt([("source", (1, 3, 64, 64))])
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace()
    trt.__version__ = "8.6.1"
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    with pytest.raises(BackendError, match="TensorRT 8.6.1 cannot build strongly typed networks"):
        trt_export.build_engine(tmp_path / "a.onnx", tmp_path / "a.plan")


# --- point 7: the batch size --------------------------------------------------------------------


def test_a_batch_size_above_the_profile_is_one_line():
    trt_export.check_batch_size(16)
    with pytest.raises(BackendError) as info:
        trt_export.check_batch_size(17)
    assert str(info.value) == ("--batch-size 17 is above the TensorRT engines' batch profile (at most 16 frames "
                               "per call): use --batch-size 16 or less, or --backend onnx")
    with pytest.raises(BackendError, match="at most 8 frames"):
        trt_export.check_batch_size(9, 8)


def test_animate_refuses_the_batch_size_before_any_export(tmp_path, monkeypatch, tiny512_weights):
    from internet_cli import devices
    from internet_cli.runtime.backends import open_animator

    monkeypatch.setenv("INTERNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(devices, "tensorrt_device", lambda device="auto": torch.device("cuda", 0))
    with pytest.raises(BackendError, match="--batch-size 32 is above"):
        open_animator(tiny512_weights, backend="tensorrt", device="auto", batch_size=32)
    assert not (tmp_path / "cache").exists()  # refused before the minute-long export


# --- point 9: the engines' records ------------------------------------------------------------


@pytest.fixture
def folder(tmp_path, tiny512_onnx) -> Path:
    out = tmp_path / "model.onnx"
    shutil.copytree(tiny512_onnx, out)
    return out


@pytest.fixture
def here(monkeypatch, folder):
    """This machine as a TensorRT 10.13 on an sm 9.0 GPU; engine builds write a stand-in plan."""
    built = []

    def record(info, device):
        return trt_export.plan_record(info, "10.13.0", "NVIDIA H100", (9, 0))

    def build(onnx_path, plan_path, *, device=None, batch_profile=trt_export.BATCH_PROFILE):
        built.append(onnx_path.stem)
        plan_path.write_bytes(b"plan")
        return plan_path

    monkeypatch.setattr(trt_export, "current_record", record)
    monkeypatch.setattr(trt_export, "build_engine", build)
    return built


def test_missing_engines_are_built_once_with_their_record(folder, here):
    info = read_export(folder)
    records = trt_export.ensure_engines(folder, torch.device("cuda", 0), log=lambda _m: None)
    assert here == ["source_encoder", "detector", "frame"]
    for graph, record in records.items():
        assert json.loads((folder / f"{graph}.plan.json").read_text()) == record
        assert record["weights_sha256"] == info.weights_sha256 and record["fp16"] is False
        assert record["tensorrt"] == "10.13.0" and record["compute_capability"] == "9.0"
        assert record["batch_profile"] == [1, 4, 16]
    trt_export.ensure_engines(folder, torch.device("cuda", 0), log=lambda _m: None)
    assert len(here) == 3  # nothing rebuilt


@pytest.mark.parametrize("key, value, what", [
    ("weights_sha256", "0" * 64, "weights"),
    ("tensorrt", "10.3.0", "TensorRT version"),
    ("compute_capability", "8.6", "GPU compute capability"),
    ("fp16", True, "fp16"),
])
def test_an_engine_that_does_not_fit_is_refused_with_one_line(folder, here, key, value, what):
    trt_export.ensure_engines(folder, torch.device("cuda", 0), log=lambda _m: None)
    path = folder / "frame.plan.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), key: value}))
    with pytest.raises(WeightsError) as info:
        trt_export.ensure_engines(folder, torch.device("cuda", 0), log=lambda _m: None)
    message = str(info.value)
    assert "\n" not in message and "frame.plan does not fit" in message and message.count(what) >= 1
    assert "delete" in message and "internet export --tensorrt" in message
    trt_export.ensure_engines(folder, torch.device("cuda", 0), rebuild_stale=True, log=lambda _m: None)
    assert here == ["source_encoder", "detector", "frame", "frame"]  # the cache rebuilds just that one
    assert json.loads(path.read_text())[key] != value


def test_an_engine_without_its_record_is_rebuilt(folder, here):
    trt_export.ensure_engines(folder, torch.device("cuda", 0), log=lambda _m: None)
    (folder / "detector.plan.json").unlink()
    trt_export.ensure_engines(folder, torch.device("cuda", 0), log=lambda _m: None)
    assert here[3:] == ["detector"]


def test_record_mismatch_names_the_first_difference():
    info = types.SimpleNamespace(weights_sha256="a" * 64, fp16=True)
    here = trt_export.plan_record(info, "10.13.0", "NVIDIA H100", (9, 0))
    assert trt_export.record_mismatch(dict(here), here) is None
    assert trt_export.record_mismatch({**here, "gpu": "another name"}, here) is None  # same GPU kind
    assert trt_export.record_mismatch({**here, "batch_profile": [1, 8, 32]}, here) is None  # checked per call
    assert trt_export.record_mismatch({}, here).startswith("record format None")
