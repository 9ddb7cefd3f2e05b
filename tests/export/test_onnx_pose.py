"""ONNX export of a pose-anchor model: two graphs (no detector), anchors as inputs, parity."""

from __future__ import annotations

import json

import numpy as np
import torch

from internet_cli.checkpoint import load_weights
from internet_cli.export.format import POSE_INPUTS, frame_input_names
from internet_cli.export.onnx import parity_check, parity_failures, session_for
from internet_cli.runtime.animator import TorchAnimator
from internet_cli.runtime.onnx_backend import OnnxAnimator


def test_pose_export_has_no_detector_and_takes_the_anchors(tiny512_pose_onnx, tiny512_pose_weights):
    info = json.loads((tiny512_pose_onnx / "export.json").read_text())
    assert sorted(p.name for p in tiny512_pose_onnx.iterdir()) == ["export.json", "frame.onnx", "source_encoder.onnx"]
    assert set(info["graphs"]) == {"source_encoder", "frame"}
    assert not parity_failures(info["parity_max_abs_error"]), info["parity_max_abs_error"]
    model = load_weights(tiny512_pose_weights).build()
    frame = session_for(tiny512_pose_onnx / "frame.onnx")
    shapes = {i.name: i.shape for i in frame.get_inputs()}
    assert list(shapes) == frame_input_names(model.config)
    assert shapes[POSE_INPUTS[0]][1:] == [10, 2] and shapes[POSE_INPUTS[1]][1:] == [10, 2, 2]
    assert isinstance(shapes[POSE_INPUTS[0]][0], str) and isinstance(shapes[POSE_INPUTS[1]][0], str)  # dynamic batch
    source = session_for(tiny512_pose_onnx / "source_encoder.onnx")
    motion = model.config.motion  # the person mask, limb cores first, the body fill (its plates ride in the state)
    assert motion.person_mask and motion.limb_core > 0 and motion.hidden_fill == "body"
    assert [i.name for i in source.get_inputs()] == ["source", "source_anchors", "source_affines", "source_mask"]
    errors = parity_check(model, tiny512_pose_onnx, frames=3, seed=5)  # other batch sizes, another seed
    assert not parity_failures(errors), errors


def test_onnx_and_torch_animators_agree_in_pose_mode(tiny512_pose_onnx, tiny512_pose_weights):
    rng = np.random.default_rng(0)
    source = rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)
    kp = (rng.uniform(-0.5, 0.5, (1, 10, 2))).astype(np.float32)
    jac = np.tile(np.eye(2, dtype=np.float32), (1, 10, 1, 1))
    kp_d = (kp + rng.normal(0, 0.05, (2, 10, 2))).astype(np.float32)
    jac_d = (jac + rng.normal(0, 0.05, (2, 10, 2, 2))).astype(np.float32)
    torch_anim = TorchAnimator(load_weights(tiny512_pose_weights), torch.device("cpu"))
    onnx_anim = OnnxAnimator(tiny512_pose_onnx)
    assert torch_anim.pose_mode and onnx_anim.pose_mode
    a = torch_anim.animate_pose(torch_anim.encode_source(source, (kp, jac)), kp_d, jac_d)
    b = onnx_anim.animate_pose(onnx_anim.encode_source(source, (kp, jac)), kp_d, jac_d)
    assert a.shape == b.shape == (2, 512, 512, 3)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
