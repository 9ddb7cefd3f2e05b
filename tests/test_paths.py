"""Outputs never replace inputs (internet_cli/paths.py)."""

from __future__ import annotations

import os

import pytest
from internet_cli.errors import OutputError
from internet_cli.paths import check_apart, is_within, same_file


def refusal(outputs, inputs, kind="file") -> str:
    with pytest.raises(OutputError) as info:
        check_apart(outputs, inputs, kind=kind)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_same_path_symlink_and_hard_link_are_the_same_file(tmp_path):
    video = tmp_path / "drv.mp4"
    video.write_bytes(b"video")
    (tmp_path / "link.mp4").symlink_to(video)
    os.link(video, tmp_path / "hard.mp4")
    (tmp_path / "sub").mkdir()
    for alias in (video, tmp_path / "sub" / ".." / "drv.mp4", tmp_path / "link.mp4", tmp_path / "hard.mp4"):
        assert same_file(alias, video)
        message = refusal([("output", alias)], [("source photo", tmp_path / "a.png"), ("driving video", video)])
        assert message.startswith(f"{alias}: the output would write over the driving video {video};")
    other = tmp_path / "other.mp4"
    other.write_bytes(b"video")  # same bytes, another file
    assert not same_file(other, video)
    check_apart([("output", other), ("--save-pose file", None)], [("driving video", video), ("weights", None)])
    assert video.read_bytes() == b"video"


def test_outputs_inside_input_folders_and_folders_holding_inputs(tmp_path):
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(data)
    weights = data / "w.safetensors"
    weights.write_bytes(b"w")
    assert is_within(tmp_path / "alias" / "train" / "run", data) and not is_within(tmp_path / "run", data)
    message = refusal([("run folder", tmp_path / "alias" / "train")], [("dataset folder", data)])
    assert "the run folder would be written inside the dataset folder" in message
    message = refusal([("export folder", data)], [("weights file", weights)], kind="folder")
    assert message == (f"{data}: the export folder would hold the weights file {weights}; "
                       "outputs never replace inputs: choose another name")
    check_apart([("export folder", data)], [("weights file", weights)])  # a file output may sit beside its input
    check_apart([("export folder", tmp_path / "w.onnx")], [("weights file", weights)], kind="folder")
