"""Outputs never replace inputs (internet_cli/paths.py), and every command that writes checks it first."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from internet_cli.cli.app import app
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


def cli(*args: str) -> tuple[int, str]:
    """The CLI in-process: these refusals come before any heavy work."""
    r = CliRunner().invoke(app, list(args))
    text = r.output + (str(r.exception) if r.exception and not isinstance(r.exception, SystemExit) else "")
    return r.exit_code, " ".join(text.replace("│", " ").split())


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_export_folder_must_not_be_or_hold_the_weights_and_is_named_onnx(tmp_path, tiny512_weights):
    model = tmp_path / "model.onnx"
    model.mkdir()
    weights = model / "w.safetensors"
    weights.write_bytes(tiny512_weights.read_bytes())
    for out, words in ((model, "would hold"), (weights, "would write over")):
        code, text = cli("export", "--onnx", "-w", str(weights), "-o", str(out))
        assert code == 1 and f"the export folder {words} the weights file {weights}" in text, text
    for out, words in ((tmp_path / "graphs.txt", "graphs.onnx"), (tmp_path / "graphs", "graphs.onnx")):
        code, text = cli("export", "--onnx", "-w", str(weights), "-o", str(out))
        assert code == 1 and f"name it NAME.onnx (for example {words})" in text, text
    assert listing(tmp_path) == ["model.onnx", "model.onnx/w.safetensors"]
    assert weights.read_bytes() == tiny512_weights.read_bytes()


def test_prepare_out_must_not_be_raw_nor_inside_it_nor_hold_it(tmp_path):
    raw = tmp_path / "raw"
    (raw / "sub").mkdir(parents=True)
    (raw / "a.mp4").write_bytes(b"raw video")
    cases = [(raw, "the output folder would write over the raw folder"),
             (raw / "sub" / "crops", "the output folder would be written inside the raw folder"),
             (tmp_path, "the train folder would write over the raw folder")]  # raw is named like OUT/train
    (tmp_path / "train").symlink_to(raw)
    for out, match in cases:
        code, text = cli("prepare", str(raw), str(out), "--size", "64")
        assert code == 1 and match in text and str(raw) in text, text
    assert listing(raw) == ["a.mp4", "sub"] and (raw / "a.mp4").read_bytes() == b"raw video"


def test_train_run_dir_must_not_land_on_its_inputs(tmp_path):
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    (data / "test").mkdir()
    run = tmp_path / "run"
    run.mkdir()
    weights = run / "weights.safetensors"
    weights.write_bytes(b"weights to fine-tune")
    cases = [(["--run-dir", str(data)], "the run folder would write over the dataset folder"),
             (["--run-dir", str(data / "train" / "r")], "the run folder would be written inside the dataset folder"),
             (["--run-dir", str(run), "-w", str(weights)],
              "the run's weights file would write over the --weights file"),
             (["--run-dir", str(tmp_path), "--vgg-weights", str(run / "samples" / "vgg.pth")],
              "the run's samples folder would hold the --vgg-weights file")]
    (run / "samples").mkdir()
    (run / "samples" / "vgg.pth").write_bytes(b"vgg")
    (tmp_path / "samples").symlink_to(run / "samples")  # the run's samples/ is where --vgg-weights lies
    for args, match in cases:
        code, text = cli("train", "--data", str(data), "--preset", "tiny", "--max-steps", "1", *args)
        assert code == 1 and match in text, text
    assert weights.read_bytes() == b"weights to fine-tune" and listing(data) == ["test", "train"]


def test_synth_videos_never_land_in_the_photo_folders_it_reads(tmp_path, monkeypatch):
    from internet_cli.clips import synth

    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "coffee.png").write_bytes(b"png")
    monkeypatch.setattr(synth, "photo_folders", lambda photo_backgrounds=0.0: [photos])
    for out, words in ((photos / "set", "would be written inside"), (tmp_path / "set", None)):
        (tmp_path / "set").mkdir(exist_ok=True)
        if words is None:  # OUT/train is the photo folder itself
            (tmp_path / "set" / "train").symlink_to(photos)
            words = "would write over"
        code, text = cli("synth", str(out), "-n", "1", "-t", "2", "--size", "32")
        assert code == 1 and f"the train folder {words} the photo folder {photos}" in text, text
    assert listing(photos) == ["coffee.png"]


def test_evaluate_reports_never_replace_the_weights(tmp_path, tiny512_weights):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(tiny512_weights.read_bytes())
    (tmp_path / "data" / "test").mkdir(parents=True)
    code, text = cli("evaluate", "--data", str(tmp_path / "data"), "-w", str(weights), "--markdown", str(weights))
    assert code == 1 and "the --markdown report would write over the weights" in text, text
    assert weights.read_bytes() == tiny512_weights.read_bytes()
