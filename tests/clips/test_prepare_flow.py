"""`internet prepare-flow`: the NAME.dis.npz cache, its up-to-date check, and its use in training."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from internet_cli.cli.prepare_flow import register
from internet_cli.clips import flow as flowmod
from internet_cli.clips.dataset import DataConfig, VideoPairDataset
from internet_cli.clips.frames import FrameStore
from internet_cli.clips.layout import scan_split
from internet_cli.clips.prepare_flow import load_npz_array, open_dis_cache, prepare_flow
from internet_cli.errors import InputError
from tests.media import make_video

S = 32


@pytest.fixture
def root(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    make_video(tmp_path / "train" / "a.mp4", frames=12, size=(64, 48))
    make_video(tmp_path / "train" / "b.mp4", frames=8, size=(32, 32))
    make_video(tmp_path / "test" / "c.mp4", frames=6, size=(32, 32))
    return tmp_path


def forbid_dis(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("DIS was computed although an up-to-date cache exists")

    monkeypatch.setattr(flowmod, "dis_flow", fail)
    monkeypatch.setattr(flowmod, "dis_flow_pair", fail)


def test_writes_the_cache_then_skips_it(root):
    report = prepare_flow(root, size=S, splits=("train", "test"), preset="ultrafast")
    assert sorted(p.name for p in report.computed) == ["a.dis.npz", "b.dis.npz", "c.dis.npz"]
    assert report.pairs == 11 + 7 + 5 and not report.failed and not report.up_to_date

    path = root / "train" / "a.dis.npz"
    with np.load(path) as z:
        assert set(z.files) == {"flow", "flow_back", "size", "source_mtime_ns"}
        flow, back = z["flow"], z["flow_back"]
        assert flow.shape == back.shape == (12, 2, S, S) and flow.dtype == np.float16
        assert int(z["size"]) == S and int(z["source_mtime_ns"]) == (root / "train" / "a.mp4").stat().st_mtime_ns
    assert not flow[0].any() and not back[0].any()
    # The values are DIS on the cached square training frames.
    store = FrameStore(scan_split(root, "train")[0], S)
    f, b = flowmod.dis_flow_pair(store[4], store[5], "ultrafast")
    np.testing.assert_allclose(flow[5], f, atol=0.01)
    np.testing.assert_allclose(back[5], b, atol=0.01)
    assert np.abs(f[0]).max() > 0.3  # the square moves
    # Stored, not deflated: memory-mapped reads.
    with zipfile.ZipFile(path) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    mapped = load_npz_array(path, "flow")
    assert isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(mapped, flow)

    mtime = path.stat().st_mtime_ns
    again = prepare_flow(root, size=S, splits=("train", "test"))
    assert not again.computed and len(again.up_to_date) == 3 and again.pairs == 0
    assert path.stat().st_mtime_ns == mtime

    # Another size, or a touched source: computed again.
    other = prepare_flow(root, size=16, splits=("test",))
    assert [p.name for p in other.computed] == ["c.dis.npz"]
    src = root / "train" / "b.mp4"
    newer = src.stat().st_mtime_ns + 10**9
    os.utime(src, ns=(newer, newer))
    assert [p.name for p in prepare_flow(root, size=S, splits=("train",)).computed] == ["b.dis.npz"]


def test_dataset_uses_the_cache(root, monkeypatch):
    prepare_flow(root, size=S, splits=("train",), preset="ultrafast")
    caches = {e.name: open_dis_cache(e) for e in scan_split(root, "train")}
    forbid_dis(monkeypatch)
    ds = VideoPairDataset(root, "train", DataConfig(size=S, min_offset=2, flip=0.0, jitter=0.0), length=4)
    for i in range(4):
        s = ds[i]
        cache = caches[ds.entries[s["video"]].name]
        np.testing.assert_array_equal(s["flow"].numpy(), cache.flow[s["t"]].astype(np.float32))
        np.testing.assert_array_equal(s["flow_back"].numpy(), cache.flow_back[s["t"]].astype(np.float32))
    # A smaller training size resizes the cache (vectors scaled by 16/32) instead of recomputing.
    small = VideoPairDataset(root, "train", DataConfig(size=16, min_offset=2, flip=0.0, jitter=0.0))
    s = small[0]
    full = caches["a"].flow[s["t"]].astype(np.float32)
    expected = full.reshape(2, 16, 2, 16, 2).mean(axis=(2, 4)) / 2
    np.testing.assert_allclose(s["flow"].numpy(), expected, atol=1e-3)


def test_stale_cache_is_not_used(root, monkeypatch):
    prepare_flow(root, size=S, splits=("train",))
    src = root / "train" / "a.mp4"
    newer = src.stat().st_mtime_ns + 10**9
    os.utime(src, ns=(newer, newer))
    (entry,) = [e for e in scan_split(root, "train") if e.name == "a"]
    assert open_dis_cache(entry) is None
    calls = []
    real = flowmod.dis_flow_pair
    monkeypatch.setattr(flowmod, "dis_flow_pair", lambda *a, **k: calls.append(1) or real(*a, **k))
    VideoPairDataset(root, "train", DataConfig(size=S))[0]
    assert calls == [1]


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:  # keeps prepare-flow a sub-command
        pass

    register(app)
    return app


def text(result) -> str:
    return " ".join(result.output.split())  # rich wraps long lines


def test_cli(root):
    runner = CliRunner()
    app = make_app()
    result = runner.invoke(app, ["prepare-flow", str(root), "--size", str(S), "--preset", "ultrafast"])
    assert result.exit_code == 0, result.output
    assert "3 computed, 0 up to date, 0 failed" in text(result)
    assert (root / "test" / "c.dis.npz").is_file()
    result = runner.invoke(app, ["prepare-flow", str(root), "--size", str(S), "--splits", "train"])
    assert result.exit_code == 0 and "0 computed, 2 up to date" in text(result)

    result = runner.invoke(app, ["prepare-flow", str(root), "--preset", "slow"])
    assert result.exit_code != 0 and "preset" in text(result)
    result = runner.invoke(app, ["prepare-flow", str(root / "nowhere")])
    assert isinstance(result.exception, InputError)
    result = runner.invoke(app, ["prepare-flow", str(root), "--size", str(S), "--splits", "train,val"])
    assert result.exit_code == 0 and "no 'val' folder" in text(result)
