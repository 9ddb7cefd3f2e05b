"""`internet synth`: determinism, exact ground-truth flow, dataset layout, CLI checks."""

from __future__ import annotations

import json

import av
import cv2
import numpy as np

from internet_cli.pose.files import load_pose
import pytest
import typer
from typer.testing import CliRunner

from internet_cli.clips.synth import SynthVideo, arm_angles, render_video, split_counts, video_seed, write_dataset
from internet_cli.errors import OutputError

SIZE = 128
T = 6


@pytest.fixture(scope="module")
def videos() -> list[SynthVideo]:
    """Three periodic dancers and two on motion capture: the ground truth holds for both."""
    return [render_video(seed, T, SIZE) for seed in (0, 1, 2)] + \
        [render_video(seed, T, SIZE, motion="mocap") for seed in (3, 4)]


def _backwarp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    h, w = flow.shape[1:]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(img, xs + flow[0], ys + flow[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def test_shapes_and_types(videos):
    v = videos[0]
    assert v.frames.shape == (T, SIZE, SIZE, 3) and v.frames.dtype == np.uint8
    assert v.flow.shape == (T, 2, SIZE, SIZE) and v.flow.dtype == np.float32
    assert v.mask.shape == v.visible.shape == (T, SIZE, SIZE)
    assert v.mask.dtype == v.visible.dtype == np.uint8
    assert set(np.unique(v.mask)) <= {0, 1} and set(np.unique(v.visible)) <= {0, 1}
    assert not v.flow[0].any() and v.visible[0].all()
    assert np.isfinite(v.flow).all()


def test_deterministic(videos):
    again = render_video(0, T, SIZE)
    for name in ("frames", "flow", "mask", "visible", "source_visible"):
        assert np.array_equal(getattr(again, name), getattr(videos[0], name)), name
    other = videos[1]
    assert not np.array_equal(other.frames, videos[0].frames)


def test_flow_warps_frame_t_onto_frame_t_minus_1(videos):
    e_flow, e_zero = [], []
    for v in videos:
        for t in range(1, T):
            prev = v.frames[t - 1].astype(np.float32)
            warped = _backwarp(v.frames[t], v.flow[t]).astype(np.float32)
            vis = v.visible[t].astype(bool)
            err = np.abs(warped - prev).mean(axis=2)
            assert err[vis].mean() < 3.0, (t, err[vis].mean())  # uint8 levels, i.e. < 3/255
            fg = vis & (v.mask[t - 1] > 0)
            assert err[fg].mean() < 8.0, (t, err[fg].mean())
            # sanity: without the flow, the moving pixels do not line up
            inner = cv2.erode(v.mask[t - 1], np.ones((3, 3), np.uint8)) > 0
            moving = fg & inner & (np.hypot(v.flow[t, 0], v.flow[t, 1]) > 0.5)
            err0 = np.abs(v.frames[t].astype(np.float32) - prev).mean(axis=2)
            e_flow.append(err[moving])
            e_zero.append(err0[moving])
    e_flow, e_zero = np.concatenate(e_flow), np.concatenate(e_zero)
    assert e_flow.size > 200
    assert e_zero.mean() > 2.0 * e_flow.mean() + 1.0, (e_zero.mean(), e_flow.mean(), e_flow.size)


def test_flow_is_zero_on_the_background(videos):
    for v in videos:
        for t in range(1, T):
            bg = v.mask[t - 1] == 0
            assert bg.any()
            assert not v.flow[t][:, bg].any()
        assert any(np.abs(v.flow[t]).max() > 0.1 for t in range(1, T)), "the figure moves"


def test_visibility(videos):
    for i, v in enumerate(videos):
        for t in range(1, T):
            vis = v.visible[t].astype(bool)
            # most of the frame stays visible (a captured run uncovers more of it per frame)
            assert vis.mean() > (0.9 if i < 3 else 0.85)
            fg = v.mask[t - 1] > 0
            # figure points that land on figure pixels of frame t (or leave it) are the occlusions
            hidden = ~vis
            assert not (hidden & ~fg & (v.mask[t] == 0)).any(), "background not covered is visible"


def test_source_visibility_is_what_frame_0_shows(videos):
    for v in videos:
        assert v.source_visible[0].all()
        for t in range(1, T):
            seen = v.source_visible[t].astype(bool)
            bg = v.mask[t] == 0
            # background: shown by the source exactly where the source's person did not cover it
            assert np.array_equal(seen[bg], (v.mask[0] == 0)[bg])
            # the body: most of it is shown by the source, not all (a limb turns, crosses the body)
            body = seen[~bg].mean()
            assert 0.5 < body <= 1.0, body
    # somewhere the body shows what the source hid (a self-occlusion), so the map is not just the mask
    assert any(not v.source_visible[t][v.mask[t] > 0].all() for v in videos for t in range(1, T))


def test_mask_and_figure_size(videos):
    for v in videos:
        for t in (0, T - 1):
            m = v.mask[t] > 0
            assert 0.03 < m.mean() < 0.5
            ys, xs = np.nonzero(m)
            height = (ys.max() - ys.min() + 1) / SIZE
            assert 0.6 < height <= 1.0, height
        # away from the figure (its anti-aliased rim included) the background never changes
        ever = cv2.dilate(v.mask.max(axis=0), np.ones((5, 5), np.uint8)) > 0
        static_bg = ~ever
        if static_bg.any():
            ref = v.frames[0][static_bg]
            for t in range(1, T):
                assert np.array_equal(v.frames[t][static_bg], ref)


def test_works_without_scikit_image(monkeypatch):
    import sys

    from internet_cli.clips import synth as synth_mod

    monkeypatch.setitem(sys.modules, "skimage", None)  # `import skimage.data` now fails
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    synth_mod._photo.cache_clear()
    try:
        assert not set(synth_mod.texture_photos()) & set(synth_mod._PHOTO_NAMES)  # opencv-doc's may remain
        seeds = range(6)  # some of these use photo prints when scikit-image is there
        for seed in seeds:
            v = render_video(seed, 2, 64)
            assert v.mask[1].any()
    finally:
        synth_mod._photo.cache_clear()


def test_split_counts():
    assert split_counts(1, 0.2) == (1, 0)
    assert split_counts(2, 0.2) == (1, 1)
    assert split_counts(10, 0.2) == (8, 2)
    assert split_counts(3, 0.9) == (1, 2)
    assert video_seed(0, 1) != video_seed(0, 2) and video_seed(5, 1) == video_seed(5, 1)


def test_write_dataset(tmp_path):
    calls = []
    paths = write_dataset(tmp_path / "ds", videos=3, frames=4, size=64, seed=3, fps=30, test_fraction=0.2,
                          progress=lambda done, total: calls.append((done, total)))
    root = tmp_path / "ds"
    assert [p.parent.name for p in paths] == ["train", "train", "test"]
    assert sorted(p.name for p in (root / "train").iterdir()) == [
        "synth_0000.gt.npz", "synth_0000.mp4", "synth_0000.pose.npz",
        "synth_0001.gt.npz", "synth_0001.mp4", "synth_0001.pose.npz"]
    assert sorted(p.name for p in (root / "test").iterdir()) == [
        "synth_0002.gt.npz", "synth_0002.mp4", "synth_0002.pose.npz"]
    assert calls[-1] == (12, 12) and len(calls) == 12
    meta = json.loads((root / "synth.json").read_text())
    assert meta["args"]["videos"] == 3 and meta["args"]["seed"] == 3 and meta["test"] == ["synth_0002.mp4"]
    assert "version" in meta
    for p in paths:
        with av.open(str(p)) as c:
            s = c.streams.video[0]
            assert s.codec_context.name == "h264" and s.average_rate == 30
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
        assert len(frames) == 4 and frames[0].shape == (64, 64, 3)
        gt = np.load(p.with_name(p.stem + ".gt.npz"))
        assert gt["flow"].shape == (4, 2, 64, 64) and gt["flow"].dtype == np.float16
        assert gt["mask"].shape == gt["visible"].shape == (4, 64, 64)
        assert gt["mask"].dtype == gt["visible"].dtype == np.uint8
    # the files hold exactly what render_video gives for the per-video seed
    ref = render_video(video_seed(3, 2), 4, 64)
    gt = np.load(root / "test" / "synth_0002.gt.npz")
    assert np.array_equal(gt["mask"], ref.mask) and np.array_equal(gt["visible"], ref.visible)
    assert np.array_equal(gt["source_visible"], ref.source_visible)
    assert np.allclose(gt["flow"].astype(np.float32), ref.flow, atol=0.02)
    with av.open(str(paths[2])) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(np.float32)
    assert np.abs(first - ref.frames[0]).mean() < 4.0  # crf 15: close to the rendered frame
    track = load_pose(root / "test" / "synth_0002.pose.npz")
    assert track.origin == "synth" and track.frame_size == (64, 64) and track.found.all()
    assert np.array_equal(track.landmarks, ref.landmarks)


def test_joints_follow_the_rendered_limbs():
    """The wrist landmark lies on the figure, and it moves with the ground-truth flow."""
    v = render_video(5, 3, 256)
    assert v.landmarks.shape == (3, 33, 3) and (v.landmarks[:, :, 2] == 1).all()
    for t in (1, 2):
        for j in (15, 16, 27, 28, 0):  # wrists, ankles, nose: on the figure's mask
            x, y = (v.landmarks[t, j, :2] - 0.5).round().astype(int)
            assert v.mask[t, y - 2:y + 3, x - 2:x + 3].any(), (t, j)


def test_photo_backgrounds_are_real_photos_that_do_not_move():
    plain = render_video(8, 2, 128)
    photo = render_video(8, 2, 128, photo_backgrounds=1.0)
    bg = (plain.mask[1] == 0) & (photo.mask[1] == 0)
    assert np.abs(photo.frames[1][bg].astype(float) - plain.frames[1][bg]).mean() > 10
    assert (photo.flow[1][:, photo.mask[0] == 0] == 0).all()
    # the studio backdrop is what it was when photo_backgrounds is 0
    assert np.array_equal(render_video(8, 2, 128, photo_backgrounds=0.0).frames, plain.frames)


def _app() -> typer.Typer:
    from internet_cli.cli import synth as synth_cli

    app = typer.Typer()
    synth_cli.register(app)

    @app.callback()
    def _root() -> None:  # keep `synth` a sub-command
        pass

    return app


def test_cli(tmp_path):
    app = _app()
    runner = CliRunner()
    out = tmp_path / "ds"
    args = ["synth", str(out), "--videos", "2", "--frames", "2", "--size", "32", "--seed", "1"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert (out / "train" / "synth_0000.mp4").is_file() and (out / "test" / "synth_0001.mp4").is_file()
    res = runner.invoke(app, args)
    assert isinstance(res.exception, OutputError)
    (out / "keep.txt").write_text("mine")
    res = runner.invoke(app, args[:-4] + ["--videos", "1", "--overwrite"])
    assert res.exit_code == 0, res.output
    assert not (out / "test" / "synth_0001.mp4").exists() and (out / "keep.txt").exists()
    for bad in (["--videos", "0"], ["--frames", "1"], ["--size", "40"], ["--size", "16"], ["--motion", "ballet"]):
        res = runner.invoke(app, ["synth", str(tmp_path / "other"), *bad])
        assert res.exit_code == 2, (bad, res.output)
        assert not (tmp_path / "other").exists()


def test_arm_angles_are_the_clip_motion_and_do_not_depend_on_its_length():
    """examples/make_examples.py compares the source's first frame (a 1-frame clip) with the first
    frame of 90-frame driving clips: that needs the motion of a frame not to depend on the length."""
    long = arm_angles(90001, 90)
    assert long.shape == (90, 4)
    np.testing.assert_allclose(arm_angles(90001, 1)[0], long[0])
    np.testing.assert_allclose(arm_angles(90001, 30), long[:30])
    assert (np.ptp(long, axis=0) > 1).all()  # every joint moves over 3 s
    assert not np.allclose(arm_angles(90002, 90), long)
