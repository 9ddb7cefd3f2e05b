"""Training pairs: paper sampling rule, determinism, augmentation, flows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from internet_cli.clips import flow as flowmod
from internet_cli.clips.dataset import DataConfig, VideoPairDataset, colour_map, sample_t
from internet_cli.clips.frames import FrameStore
from internet_cli.clips.layout import scan_split, source_mtime_ns
from internet_cli.errors import InputError
from tests.media import make_video

S = 32
IMAGE_KEYS = ("source", "driving", "previous")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    (root / "train").mkdir()
    make_video(root / "train" / "long.mp4", frames=80, size=(48, 32), fps=30)
    make_video(root / "train" / "short.mp4", frames=10, size=(32, 32), fps=30)
    return root


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], torch.Tensor):
            assert torch.equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


def differs(a: dict, b: dict) -> bool:
    return a["t"] != b["t"] or not torch.equal(a["driving"], b["driving"])


def test_shapes_dtypes_ranges(root):
    ds = VideoPairDataset(root, "train", DataConfig(size=S))
    assert len(ds) == 2
    sample = ds[0]
    for k in IMAGE_KEYS:
        x = sample[k]
        assert x.shape == (3, S, S) and x.dtype == torch.float32
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    for k in ("flow", "flow_back"):
        assert sample[k].shape == (2, S, S) and sample[k].dtype == torch.float32
        assert torch.isfinite(sample[k]).all()
    assert sample["has_flow_back"].item() is True
    assert isinstance(sample["index"], int) and isinstance(sample["t"], int) and sample["video"] == 0


def test_deterministic_for_seed_epoch_index(root):
    cfg = DataConfig(size=S, min_offset=2)
    a = VideoPairDataset(root, "train", cfg, length=6)
    b = VideoPairDataset(root, "train", cfg, length=6)
    for i in range(6):
        assert_same(a[i], b[i])
        assert_same(a[i], a[i])
    b.set_epoch(1)
    assert any(differs(a[i], b[i]) for i in range(6))
    for i in range(6):
        assert_same(a[(1, i)], b[i])  # explicit (epoch, index) ignores set_epoch
    c = VideoPairDataset(root, "train", DataConfig(size=S, min_offset=2, seed=1), length=6)
    assert any(differs(a[i], c[i]) for i in range(6))


def test_dataloader_workers_see_the_same_samples(root):
    ds = VideoPairDataset(root, "train", DataConfig(size=S, min_offset=2), length=4)
    ds.set_epoch(3)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, shuffle=False)
    batches = list(loader)
    for j, batch in enumerate(batches):
        for k in range(2):
            direct = ds[2 * j + k]
            assert int(batch["t"][k]) == direct["t"]
            assert torch.equal(batch["driving"][k], direct["driving"])


def test_t_after_min_offset_and_clamped_for_short_videos(root):
    cfg = DataConfig(size=S, flip=0.0, jitter=0.0, flow="none")  # min_offset 60
    ds = VideoPairDataset(root, "train", cfg, length=40)
    long_t, short_t = [], []
    for i in range(40):
        s = ds[i]
        (long_t if s["video"] == 0 else short_t).append(s["t"])
    assert min(long_t) > 60 and max(long_t) <= 79 and len(set(long_t)) > 3
    assert min(short_t) >= 4 and max(short_t) <= 9  # 10 frames: lo = max(1, 9 // 2)
    # The images are frame 0, t and t-1 of the cached square frames.
    s = ds[0]
    store = FrameStore(ds.entries[0], S)
    for key, frame in (("source", 0), ("driving", s["t"]), ("previous", s["t"] - 1)):
        expected = torch.from_numpy(store[frame].astype(np.float32) / 255.0).permute(2, 0, 1)
        assert torch.equal(s[key], expected), key


def test_sample_t_rule():
    rng = np.random.default_rng(0)
    assert {sample_t(2, 60, rng) for _ in range(20)} == {1}
    assert {sample_t(62, 60, rng) for _ in range(20)} == {61}  # the paper's rule as soon as it fits
    assert {sample_t(61, 60, rng) for _ in range(50)} <= set(range(30, 61))
    assert min(sample_t(200, 60, rng) for _ in range(200)) >= 61
    assert {sample_t(5, 0, rng) for _ in range(100)} == {1, 2, 3, 4}
    with pytest.raises(ValueError):
        sample_t(1, 60, rng)


def write_clip(folder, frames):
    folder.mkdir(parents=True)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{i:03d}.png")


def test_flip_mirrors_images_and_flows(tmp_path):
    rng = np.random.default_rng(1)
    write_clip(tmp_path / "train" / "clip", [rng.integers(0, 256, (S, S, 3), dtype=np.uint8) for _ in range(6)])
    (entry,) = scan_split(tmp_path, "train")
    # A hand-made flow cache with known, asymmetric values.
    xs = np.arange(S, dtype=np.float16)
    flow = np.zeros((6, 2, S, S), np.float16)
    flow[:, 0] = xs[None, None, :] / 8 + 1          # dx grows to the right, all positive
    flow[:, 1] = 0.5
    back = -flow
    np.savez(tmp_path / "train" / "clip.dis.npz", flow=flow, flow_back=back, size=np.int64(S),
             source_mtime_ns=np.int64(source_mtime_ns(entry)))
    plain = VideoPairDataset(tmp_path, "train", DataConfig(size=S, min_offset=1, flip=0.0, jitter=0.0))[0]
    mirrored = VideoPairDataset(tmp_path, "train", DataConfig(size=S, min_offset=1, flip=1.0, jitter=0.0))[0]
    assert plain["t"] == mirrored["t"]  # t is drawn first: same sample, only the flip differs
    np.testing.assert_array_equal(plain["flow"].numpy(), flow[plain["t"]].astype(np.float32))
    for k in IMAGE_KEYS:
        assert torch.equal(mirrored[k], plain[k].flip(-1)), k
    for k in ("flow", "flow_back"):
        assert torch.equal(mirrored[k][0], -plain[k][0].flip(-1)), k
        assert torch.equal(mirrored[k][1], plain[k][1].flip(-1)), k
    assert float(mirrored["flow"][0].max()) < 0  # every dx negated


def test_flip_of_a_real_motion_points_the_other_way(tmp_path):
    # A textured square moving 2 px right per frame: on-the-fly DIS sees dx ~ +2, mirrored ~ -2.
    rng = np.random.default_rng(2)
    bg = np.full((S * 2, S * 2, 3), 40, np.uint8)
    patch = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    frames = []
    for i in range(4):
        f = bg.copy()
        f[24:40, 10 + 2 * i:26 + 2 * i] = patch
        frames.append(f)
    write_clip(tmp_path / "train" / "clip", frames)
    base = dict(size=2 * S, min_offset=2, jitter=0.0)
    plain = VideoPairDataset(tmp_path, "train", DataConfig(flip=0.0, **base))[0]
    mirrored = VideoPairDataset(tmp_path, "train", DataConfig(flip=1.0, **base))[0]
    t = plain["t"]
    x0 = 10 + 2 * (t - 1)
    dx = plain["flow"][0, 28:36, x0 + 4:x0 + 12].median()
    dx_m = mirrored["flow"][0, 28:36, 2 * S - x0 - 12:2 * S - x0 - 4].median()
    assert float(dx) == pytest.approx(2.0, abs=0.5) and float(dx_m) == pytest.approx(-2.0, abs=0.5)


def test_jitter_is_identical_for_the_whole_sample(tmp_path):
    img = np.random.default_rng(3).integers(30, 220, (S, S, 3), dtype=np.uint8)
    write_clip(tmp_path / "train" / "still", [img] * 4)
    cfg = dict(size=S, min_offset=1, flip=0.0, flow="none")
    off = VideoPairDataset(tmp_path, "train", DataConfig(jitter=0.0, **cfg))
    on = VideoPairDataset(tmp_path, "train", DataConfig(jitter=0.3, **cfg))
    for i in range(3):
        on.set_epoch(i)
        s = on[0]
        assert torch.equal(s["source"], s["driving"]) and torch.equal(s["source"], s["previous"])
        assert not torch.allclose(s["source"], off[0]["source"], atol=0.01)
        assert 0.0 <= float(s["source"].min()) and float(s["source"].max()) <= 1.0
    a, d = colour_map(np.random.default_rng(0), 0.0, 0.5)
    np.testing.assert_allclose(a, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(d, 0.0, atol=1e-7)
    # Grey stays grey under saturation and hue; only brightness/contrast move it.
    a, d = colour_map(np.random.default_rng(5), 0.5, 0.5)
    grey = a @ np.full(3, 0.4, np.float32) + d
    assert np.ptp(grey) < 1e-5


def test_gt_flow_aligns_the_driving_frame_with_the_previous(tmp_path):
    import cv2

    synth = pytest.importorskip("internet_cli.clips.synth")
    from internet_cli.losses.temporal import valid_mask
    from internet_cli.motion.geometry import backwarp

    # fps=2: a few pixels of motion per frame (the figure moves slowly at 30 fps).
    synth.write_dataset(tmp_path, videos=1, frames=12, size=64, seed=0, fps=2)
    visible = np.load(tmp_path / "train" / "synth_0000.gt.npz")["visible"]
    for flip in (0.0, 1.0):
        cfg = DataConfig(size=48, min_offset=3, flip=flip, jitter=0.0, flow="gt")  # 64 -> 48: resized
        ds = VideoPairDataset(tmp_path, "train", cfg, length=4)
        for i in range(4):
            s = ds[i]
            assert s["t"] >= 4 and s["has_flow_back"].item() is False
            assert not s["flow_back"].any()
            drv, prev, flow = (s[k][None] for k in ("driving", "previous", "flow"))
            # Compare where the figure moves, the target lands inside and nothing is occluded.
            vis = cv2.resize(visible[s["t"]], (48, 48), interpolation=cv2.INTER_AREA) == 1
            vis = torch.from_numpy(np.ascontiguousarray(vis[:, ::-1] if flip else vis)).float()
            mask = valid_mask(flow) * (flow.norm(dim=1, keepdim=True) > 0.25) * vis
            assert mask.sum() > 50

            def error(warped):
                return float(((warped - prev).abs() * mask).sum() / mask.sum())

            wrong = flow.clone()
            wrong[:, 0] = -wrong[:, 0]  # the mirror mistake: dx not negated
            e_flow, e_none, e_wrong = error(backwarp(drv, flow)), error(drv), error(backwarp(drv, wrong))
            assert e_flow < 0.65 * e_none, (flip, i, e_flow, e_none)
            assert e_wrong > 1.5 * e_flow, (flip, i, e_flow, e_wrong)
    cached = list((tmp_path / ".cache" / "frames" / "train").glob("*.gtflow.npy"))
    assert [p.name for p in cached] == ["synth_0000-48.gtflow.npy"]


def test_flow_none_and_missing_gt(root):
    s = VideoPairDataset(root, "train", DataConfig(size=S, flow="none"))[1]
    assert "flow" not in s and "flow_back" not in s and "has_flow_back" not in s
    with pytest.raises(InputError, match="gt.npz"):
        VideoPairDataset(root, "train", DataConfig(size=S, flow="gt"))


def test_on_the_fly_dis_matches_dis_on_the_training_frames(root):
    ds = VideoPairDataset(root, "train", DataConfig(size=S, min_offset=2, flip=0.0, jitter=0.0))
    s = ds[0]
    store = FrameStore(ds.entries[0], S)
    f, b = flowmod.dis_flow_pair(store[s["t"] - 1], store[s["t"]])
    np.testing.assert_allclose(s["flow"].numpy(), f, atol=1e-5)
    np.testing.assert_allclose(s["flow_back"].numpy(), b, atol=1e-5)


def test_config_validation():
    for bad in (dict(flow="raft"), dict(flip=1.5), dict(jitter=1.0), dict(min_offset=-1), dict(size=4)):
        with pytest.raises(ValueError):
            DataConfig(**bad)


def test_length_maps_indices_onto_videos(root):
    ds = VideoPairDataset(root, "train", DataConfig(size=S, flow="none"), length=5)
    assert len(ds) == 5 and [ds[i]["video"] for i in range(5)] == [0, 1, 0, 1, 0]
    again = VideoPairDataset(root, "train", ds.config, length=5, entries=ds.entries)
    assert again.entries == ds.entries and again[3]["t"] == ds[3]["t"]
    with pytest.raises(IndexError):
        ds[5]
    with pytest.raises(ValueError):
        VideoPairDataset(root, "train", DataConfig(size=S), length=0)


def test_the_source_mask_is_the_source_frames_and_flips_with_it(tmp_path):
    """Real MediaPipe on a synthetic dancer: the sample's mask is the source frame's (it holds the
    dancer, who is not left-right symmetric) and is mirrored with a flipped sample."""
    from internet_cli.clips.synth import render_video
    from internet_cli.video.writer import VideoWriter

    (tmp_path / "train").mkdir()
    video = render_video(5, 3, 128)
    with VideoWriter(tmp_path / "train" / "dancer.mp4", fps=30, size=128, crf=12) as w:
        for frame in video.frames:
            w.write(frame)
    cfg = dict(size=128, person_mask=True, min_offset=0, jitter=0.0)
    plain = VideoPairDataset(tmp_path, "train", DataConfig(flip=0.0, **cfg))[0]["source_mask"]
    flipped = VideoPairDataset(tmp_path, "train", DataConfig(flip=1.0, **cfg))[0]["source_mask"]
    body = torch.from_numpy(video.mask[0] > 0)
    assert plain.shape == (1, 128, 128) and float(plain[0][body].mean()) > 0.95
    assert not torch.equal(plain, plain.flip(-1))
    assert torch.equal(flipped, plain.flip(-1))
    assert "source_mask" not in VideoPairDataset(tmp_path, "train", DataConfig(size=128, min_offset=0))[0]
