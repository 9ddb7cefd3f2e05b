"""The onnxruntime backend keeps the source state where the session made it (issue 21, point 5).

On the CPU provider the OrtValues live in host memory, but the binding is the same one the CUDA
provider uses: per frame only the driving frames and the small reference are fed from numpy.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from internet_cli.export.format import feature_names, frame_input_names, state_names
from internet_cli.runtime.onnx_backend import OnnxAnimator, _to_float, _to_uint8


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    g = np.random.default_rng(0)
    low = g.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    return np.ascontiguousarray(low.repeat(32, axis=1).repeat(32, axis=2))  # (3, 512, 512, 3), smooth-ish


@pytest.fixture(scope="module")
def animator(tiny512_onnx) -> OnnxAnimator:
    return OnnxAnimator(tiny512_onnx, device="cpu")


def test_the_state_is_ortvalues_on_the_sessions_device(animator, frames):
    state = animator.encode_source(frames[0])
    assert animator.ort_device == ("cpu", 0)
    assert set(state.values) == {*state_names(), *feature_names(animator.config)}
    assert all(isinstance(v, ort.OrtValue) for v in state.values.values())
    assert {v.device_name().lower() for v in state.values.values()} == {"cpu"}
    np.testing.assert_array_equal(state.anchors, state.values["anchors"].numpy())


def test_only_the_driving_frames_and_the_reference_are_fed_per_call(animator, frames, monkeypatch):
    state = animator.encode_source(frames[0])
    ref = animator.reference(state, frames[1], relative=True, adapt_scale=True)
    host, bound = [], []
    real_cpu, real_value = ort.IOBinding.bind_cpu_input, ort.IOBinding.bind_ortvalue_input
    monkeypatch.setattr(ort.IOBinding, "bind_cpu_input",
                        lambda self, name, array: host.append(name) or real_cpu(self, name, array))
    monkeypatch.setattr(ort.IOBinding, "bind_ortvalue_input",
                        lambda self, name, value: bound.append(name) or real_value(self, name, value))
    out = animator.animate(state, frames[1:], ref)
    assert out.shape == (2, 512, 512, 3) and out.dtype == np.uint8
    assert sorted(host) == sorted(["driving", "ref_anchors", "ref_affines", "relative", "scale"])
    assert sorted(bound) == sorted([*state_names(), *feature_names(animator.config)])


def test_bound_runs_equal_plain_session_runs(animator, frames):
    state = animator.encode_source(frames[0])
    sess = animator.sessions["source_encoder"]
    plain_state = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"source": _to_float(frames[:1])})))
    for name, value in state.values.items():
        np.testing.assert_array_equal(value.numpy(), plain_state[name])
    ref = animator.reference(state, frames[1], relative=True, adapt_scale=False)
    feeds = {**plain_state, **ref, "driving": _to_float(frames[1:])}
    want = _to_uint8(animator.sessions["frame"].run(None, {n: feeds[n] for n in frame_input_names(animator.config)})[0])
    got = animator.animate(state, frames[1:], ref)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(animator.animate(state, frames[1:], ref), got)  # the state is not used up
