"""The exported folder's format: graph names, their inputs and the provenance tags (no torch).

Shared by the exporter (:mod:`internet_cli.export.onnx`, which needs torch) and the backends that
run an export (:mod:`internet_cli.runtime.onnx_backend`, :mod:`internet_cli.runtime.tensorrt_backend`).
"""

from __future__ import annotations

FORMAT = "internet-onnx"
FORMAT_VERSION = 1
GRAPHS = ("source_encoder", "detector", "frame")
POSE_INPUTS = ("driving_anchors", "driving_affines")
SOURCE_POSE_INPUTS = ("source_anchors", "source_affines")
SOURCE_MASK_INPUT = "source_mask"  # with motion.person_mask (internet_cli/pose/person.py)
REFERENCE_INPUTS = ("ref_anchors", "ref_affines", "relative", "scale")
# The tensor fields of ``internet_cli.model.SourceState`` other than the features, in order (graph
# I/O names; tests/export/test_format.py checks them against the NamedTuple).
STATE_NAMES = ("image", "image_small", "anchors", "affines")


def state_names() -> list[str]:
    return list(STATE_NAMES)


def feature_names(config) -> list[str]:
    return [f"feature_{i}" for i in range(len(config.generator.channels))]


def is_pose(config) -> bool:
    return config.motion.anchors == "pose"


def graphs_for(config) -> tuple[str, ...]:
    """The graphs an export of ``config`` holds (pose mode: no detector)."""
    return ("source_encoder", "frame") if is_pose(config) else GRAPHS


def source_pose_inputs(config) -> tuple[str, ...]:
    """The pose-mode source encoder's inputs besides ``source``."""
    return (*SOURCE_POSE_INPUTS, SOURCE_MASK_INPUT) if config.motion.person_mask else SOURCE_POSE_INPUTS


def frame_input_names(config) -> list[str]:
    if is_pose(config):
        return [*POSE_INPUTS, *STATE_NAMES, *feature_names(config)]
    return ["driving", *STATE_NAMES, *REFERENCE_INPUTS, *feature_names(config)]
