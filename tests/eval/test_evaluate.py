"""The self-imitation protocol (internet_cli/eval/evaluate.py) and `internet evaluate` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from internet_cli.clips.layout import scan_split
from internet_cli.clips.synth import write_dataset
from internet_cli.eval import metrics as M
from internet_cli.eval.evaluate import CopySource, EvalOptions, RealFlow, RealFrames, evaluate
from internet_cli.eval.report import to_markdown

SIZE = 64


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ}
    env.pop("INTERNET_DEBUG", None)
    env.setdefault("INTERNET_THREADS", "2")
    return subprocess.run([sys.executable, "-m", "internet_cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    """5 synthetic 64x64 videos of 9 frames with ground truth: 4 train, 1 test."""
    out = tmp_path_factory.mktemp("synth")
    write_dataset(out, videos=5, frames=9, size=SIZE, seed=0)
    return out


def _static_dataset(root: Path, frames: int = 6) -> Path:
    """DIR/test/static/: a folder of identical PNG frames (a video with no motion)."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    folder = root / "test" / "static"
    folder.mkdir(parents=True)
    for i in range(frames):
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    return root


def test_copy_source_on_a_static_video_is_perfect(tmp_path):
    data = _static_dataset(tmp_path / "data")
    report = evaluate(data, [CopySource(), RealFrames()], SIZE, EvalOptions(batch_size=4))
    assert [v["name"] for v in report["videos"]] == ["static"]
    for key in ("copy-source", "real"):
        r = report["overall"][key]
        assert r["frames"] == 5  # frames 1..5: frame 0 is the source
        assert r["l1"] == 0.0 and r["psnr"] == M.PSNR_CAP
        assert r["ssim"] == pytest.approx(1.0) and r["ms_ssim"] == pytest.approx(1.0)
        assert r["interp_psnr"] == M.PSNR_CAP  # the midpoint of two identical frames
        assert r["warp_error"] == pytest.approx(0.0, abs=1e-6)
        assert r["lpips"] is None and r["fid"] is None
    assert report["videos"][0]["flow"].startswith("DIS")  # no ground truth beside a frame folder
    assert set(report["unavailable"]) == {"lpips", "fid", "act_recog_l1"}
    json.dumps(report, allow_nan=False)  # strict JSON


def test_streaming_matches_whole_video_metrics(synth_dir):
    """Batches of 1 and 4 give the figures computed on the whole clip at once (tails across batches)."""
    from internet_cli.clips.frames import FrameStore

    (entry,) = scan_split(synth_dir, "test")
    frames = np.array(FrameStore(entry, SIZE).frames)
    source = np.broadcast_to(frames[0], frames.shape).copy()
    gt = np.load(entry.side_file(".gt.npz"))
    flows, visible = gt["flow"].astype(np.float32), gt["visible"].astype(bool)
    expected = {}
    for key, outs in (("copy-source", source), ("real", frames)):
        sums, counts = M.warping_errors(outs[:-1], outs[1:], flows[1:], visible[1:])
        expected[key] = {  # per-frame metrics on frames 1.., temporal ones on the whole clip
            "l1": M.l1(outs[1:], frames[1:]).mean(), "psnr": M.psnr(outs[1:], frames[1:]).mean(),
            "ssim": M.ssim(outs[1:], frames[1:]).mean(), "ms_ssim": M.ms_ssim(outs[1:], frames[1:]).mean(),
            "interp_psnr": M.interp_psnr_video(outs, frames).mean(), "warp_error": (sums / counts).mean(),
        }
    for bs in (1, 4):
        report = evaluate(synth_dir, [CopySource(), RealFrames()], SIZE, EvalOptions(batch_size=bs))
        video = report["videos"][0]
        assert video["frames"] == 9 and video["flow"].startswith("ground truth")
        for key, vals in expected.items():
            for metric, value in vals.items():
                assert video["methods"][key][metric] == pytest.approx(value, rel=1e-9, abs=1e-12), (bs, key, metric)
            assert report["overall"][key]["warp_error"] == pytest.approx(vals["warp_error"])
    # The real video is far more consistent than its copy-source reconstruction is faithful.
    assert expected["real"]["interp_psnr"] > expected["copy-source"]["interp_psnr"]
    assert expected["real"]["warp_error"] < 0.02


def test_max_frames_max_videos_and_markdown(tmp_path, synth_dir):
    data = _static_dataset(tmp_path / "data", frames=5)
    (data / "test" / "other").symlink_to(data / "test" / "static", target_is_directory=True)
    report = evaluate(data, [CopySource()], SIZE, EvalOptions(max_frames=3, max_videos=1))
    assert len(report["videos"]) == 1 and report["videos"][0]["frames"] == 3
    assert report["overall"]["copy-source"]["frames"] == 2
    with pytest.raises(ValueError, match="at least 2"):
        evaluate(data, [CopySource()], SIZE, EvalOptions(max_frames=1))
    md = to_markdown(report)
    assert "| copy source | 2 |" in md and "Interp-PSNR (DIS midpoint)" in md and "lpips" in md


def test_ground_truth_flow_is_resampled_to_the_evaluation_size(synth_dir):
    (entry,) = scan_split(synth_dir, "test")
    gt = np.load(entry.side_file(".gt.npz"))["flow"].astype(np.float32)
    big = RealFlow(entry, 9, 2 * SIZE - 1)  # pixel centres 0..63 -> 0..126: vectors scale by 2
    assert big.ground_truth and "resampled" in big.source
    flow, vis = big.get(3, None, None)
    assert flow.shape == (2, 2 * SIZE - 1, 2 * SIZE - 1) and vis.shape == flow.shape[1:]
    np.testing.assert_allclose(flow[:, ::2, ::2], 2 * gt[3], atol=1e-5)
    mismatch = RealFlow(entry, 10, SIZE)  # frame count differs: ground truth not trusted
    assert not mismatch.ground_truth and "DIS" in mismatch.source


def test_cli_end_to_end(tmp_path, synth_dir):
    import torch

    from internet_cli.checkpoint import save_weights
    from internet_cli.config import preset
    from internet_cli.model import INTERnet

    w1, w2 = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    r = run_cli("init", "tiny", "-o", str(w1))
    assert r.returncode == 0, r.stderr
    torch.manual_seed(1)  # the --compare weights: made in-process (one subprocess fewer)
    save_weights(w2, INTERnet(preset("tiny")), trained=False)
    out, md = tmp_path / "report.json", tmp_path / "report.md"
    r = run_cli("evaluate", "--data", str(synth_dir), "-w", str(w1), "--compare", str(w2), "--out", str(out),
                "--markdown", str(md), "--max-frames", "6", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "UNTRAINED" in r.stderr and "copy source" in r.stdout and "Interp-PSNR" in r.stdout
    report = json.loads(out.read_text())
    assert report["format"] == "internet-eval" and report["protocol"]["size"] == SIZE
    assert report["protocol"]["motion"] == "relative" and report["protocol"]["ms_ssim_scales"] == 3
    assert [m["key"] for m in report["methods"]] == ["model", "compare", "copy-source", "real"]
    assert report["methods"][0]["trained"] is False and report["methods"][0]["config"] == "tiny"
    assert [v["name"] for v in report["videos"]] == ["synth_0004"]
    video = report["videos"][0]
    assert video["frames"] == 6 and video["frames_in_video"] == 9
    for scores in (report["overall"], video["methods"]):
        assert set(scores) == {"model", "compare", "copy-source", "real"}
        for key, vals in scores.items():
            assert vals["frames"] == 5  # frames 1..5 scored
            for metric in ("l1", "psnr", "ssim", "ms_ssim", "interp_psnr", "warp_error"):
                assert isinstance(vals[metric], float), (key, metric)
            assert vals["lpips"] is None and vals["fid"] is None
    assert report["overall"]["real"]["psnr"] == M.PSNR_CAP
    # untrained weights reconstruct worse than copying the source
    assert report["overall"]["copy-source"]["psnr"] > report["overall"]["model"]["psnr"]
    assert "## Overall" in md.read_text()


def test_cli_missing_data_is_a_user_error(tmp_path):
    from typer.testing import CliRunner

    from internet_cli.cli.app import app
    from internet_cli.errors import InputError

    w = tmp_path / "a.safetensors"
    import torch

    from internet_cli.checkpoint import save_weights
    from internet_cli.config import preset
    from internet_cli.model import INTERnet

    torch.manual_seed(0)
    save_weights(w, INTERnet(preset("tiny")), trained=False)
    r = CliRunner().invoke(app, ["evaluate", "--data", str(tmp_path / "missing"), "-w", str(w), "--device", "cpu"])
    assert isinstance(r.exception, InputError) and "dataset folder not found" in str(r.exception)
    assert not (tmp_path / "missing").exists()
    # an output that cannot be written is refused before any work
    from internet_cli.errors import OutputError

    r = CliRunner().invoke(app, ["evaluate", "--data", str(tmp_path / "missing"), "-w", str(w),
                                 "--out", str(tmp_path / "nope" / "r.json")])
    assert isinstance(r.exception, OutputError) and "output folder does not exist" in str(r.exception)


class _EchoAnimator:
    """A stand-in animator that 'reconstructs' by returning the driving frames (records its calls)."""

    def __init__(self, size: int):
        self.size = size
        self.calls: list[tuple] = []

    def encode_source(self, source):
        self.calls.append(("encode", source.shape))
        return "state"

    def reference(self, state, first_frame, relative, adapt_scale):
        self.calls.append(("reference", first_frame.shape, relative, adapt_scale))
        return "ref"

    def animate(self, state, frames, ref):
        assert state == "state" and ref == "ref" and frames.shape[1:] == (self.size, self.size, 3)
        self.calls.append(("animate", len(frames)))
        return frames.copy()


@pytest.mark.parametrize("model_size", [SIZE, 48, 96])
def test_model_method_resizes_to_its_own_size_and_back(synth_dir, model_size):
    from internet_cli.eval.evaluate import ModelMethod

    animator = _EchoAnimator(model_size)
    method = ModelMethod("model", "echo", animator)
    report = evaluate(synth_dir, [method], SIZE, EvalOptions(batch_size=4, max_frames=5))
    assert animator.calls[:2] == [("encode", (model_size, model_size, 3)),
                                  ("reference", (model_size, model_size, 3), True, False)]
    assert [c[1] for c in animator.calls[2:]] == [4, 1]  # streamed in batches
    r = report["overall"]["model"]
    if model_size == SIZE:
        assert r["psnr"] == M.PSNR_CAP and r["l1"] == 0.0
    else:  # a resize round trip: close to the real frames, not identical
        assert 25.0 < r["psnr"] < M.PSNR_CAP and r["ssim"] > 0.8


def test_pose_model_and_nearest_part_baseline_in_one_table(tmp_path, tiny512_pose_weights):
    """A pose-anchor model and the nearest-part baseline read NAME.pose.npz; with synth's exact joints
    the training-free baseline beats copy-source (the floor a pose model must beat)."""
    root = tmp_path / "data"
    write_dataset(root, videos=2, frames=16, size=256, seed=4, test_fraction=0.5)
    report = tmp_path / "r.json"
    r = run_cli("evaluate", "--data", str(root), "-w", str(tiny512_pose_weights), "--nearest-part", "--no-real",
                "--out", str(report))
    assert r.returncode == 0, r.stderr
    overall = json.loads(report.read_text())["overall"]
    assert set(overall) == {"model", "copy-source", "nearest-part"}
    assert all(np.isfinite(v["l1"]) for v in overall.values())
    assert overall["nearest-part"]["l1"] < overall["copy-source"]["l1"]
