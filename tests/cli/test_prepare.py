"""`internet prepare RAW_DIR OUT_DIR`: person crops into the training layout."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

pytest.importorskip("mediapipe")

from internet_cli.cli.app import app  # noqa: E402
from internet_cli.clips.dataset import DataConfig, VideoPairDataset  # noqa: E402
from internet_cli.clips.layout import scan_split  # noqa: E402
from internet_cli.clips.prepare_crops import plan_splits  # noqa: E402
from tests.person_media import person_frames, write_video  # noqa: E402


@pytest.fixture(scope="module")
def astronaut():
    return pytest.importorskip("skimage.data").astronaut()


def frames_of(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_prepare_flat_raw_folder(tmp_path, astronaut):
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    walk = [f for f, _ in person_frames(astronaut, frames=24)]
    empty = np.full_like(walk[0], 90)
    for i in (0, 1, 2, *range(10, 16)):  # nobody at the start, and a long gap in the middle
        walk[i] = empty
    write_video(raw / "a.mp4", walk)
    write_video(raw / "b.mp4", person_frames(astronaut, frames=10))
    write_video(raw / "nobody.mp4", [empty] * 6)
    folder = raw / "d"
    folder.mkdir()
    for i, (img, _) in enumerate(person_frames(astronaut, frames=6)):
        Image.fromarray(img).save(folder / f"frame{i}.png")

    r = CliRunner().invoke(app, ["prepare", str(raw), str(out), "--size", "128", "--test-fraction", "0.5",
                                 "--max-gap", "3"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "nobody.mp4: no person found" in text.replace("/ ", "/")  # skipped, with a warning

    train, test = scan_split(out, "train"), scan_split(out, "test")
    names = sorted(e.name for e in train + test)
    assert names == ["a", "a-2", "b", "d"]  # a: split at the 6-frame gap; nobody: skipped
    counts = {e.name: e.num_frames for e in train + test}
    assert counts == {"a": 7, "a-2": 8, "b": 10, "d": 6}  # leading frames trimmed, the gap dropped
    assert len(test) >= 1 and len(train) >= 1
    for e in train + test:
        first = frames_of(e.path)[0]
        assert first.shape == (128, 128, 3)
        assert first.std() > 20  # the person, not the empty background
    assert {s: sorted(e.name for e in v) for s, v in plan_splits(raw, 0.5).items()} == \
        {s: sorted(e.name for e in v) for s, v in plan_splits(raw, 0.5).items()}  # the split is stable

    split = "train" if any(e.num_frames >= 3 for e in train) else "test"
    ds = VideoPairDataset(out, split, DataConfig(size=128, min_offset=1, flow="none", jitter=0.0))
    sample = ds[0]
    assert tuple(sample["source"].shape) == (3, 128, 128) and tuple(sample["driving"].shape) == (3, 128, 128)

    r = CliRunner().invoke(app, ["prepare", str(raw), str(out), "--size", "128", "--test-fraction", "0.5"])
    assert r.exit_code == 0 and "existing" in r.output  # a second run keeps what is there


def test_prepare_keeps_raw_splits_and_caches_flow(tmp_path, astronaut):
    raw, out = tmp_path / "raw", tmp_path / "out"
    (raw / "train").mkdir(parents=True)
    (raw / "test").mkdir()
    write_video(raw / "train" / "one.mp4", person_frames(astronaut, frames=5))
    write_video(raw / "test" / "two.mp4", person_frames(astronaut, frames=4))
    r = CliRunner().invoke(app, ["prepare", str(raw), str(out), "--size", "64", "--flow"])
    assert r.exit_code == 0, r.output
    assert [e.name for e in scan_split(out, "train")] == ["one"]
    assert [e.name for e in scan_split(out, "test")] == ["two"]
    assert (out / "train" / "one.dis.npz").is_file() and (out / "test" / "two.dis.npz").is_file()
