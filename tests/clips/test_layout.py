"""Dataset layout scanning: entries, natural frame order, bad entries, missing splits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from internet_cli.clips.layout import FRAME_FOLDER_FPS, frame_files, natural_key, scan_split, source_mtime_ns
from internet_cli.errors import InputError
from tests.media import make_video


def write_frames(folder, count, size=(40, 30), prefix="frame", start=1):
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    for i in range(start, start + count):
        img = np.zeros((h, w, 3), np.uint8)
        img[..., 0] = i * 10  # frame number readable from the pixels
        Image.fromarray(img).save(folder / f"{prefix}{i}.png")
    return folder


@pytest.fixture
def dataset(tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    make_video(train / "a.mp4", frames=20, size=(64, 48))
    make_video(train / "b.mp4", frames=12, size=(48, 64), fps=30)
    write_frames(train / "clip", 12)
    (train / "bad.mp4").write_text("this is not a video\n")
    (train / "empty").mkdir()
    # Ignored silently: side files, hidden files.
    np.savez(train / "a.gt.npz", flow=np.zeros((1, 2, 2, 2), np.float16))
    np.savez(train / "a.dis.npz", flow=np.zeros((1, 2, 2, 2), np.float16))
    (train / "meta.json").write_text("{}")
    (train / ".DS_Store").write_bytes(b"\0\1")
    return tmp_path


def test_scan_split_entries_and_warnings(dataset):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        entries = scan_split(dataset, "train")
    assert [e.name for e in entries] == ["a", "b", "clip"]
    assert [e.kind for e in entries] == ["video", "video", "frames"]
    assert [e.num_frames for e in entries] == [20, 12, 12]
    assert entries[0].fps == pytest.approx(25.0) and entries[1].fps == pytest.approx(30.0)
    assert entries[2].fps == FRAME_FOLDER_FPS
    assert entries[0].path == dataset / "train" / "a.mp4" and entries[2].path == dataset / "train" / "clip"
    assert entries[0].split == "train"
    assert entries[0].side_file(".gt.npz") == dataset / "train" / "a.gt.npz"

    messages = [str(w.message) for w in caught]
    assert len(messages) == 2, messages
    assert any(m.startswith(f"skipping {dataset / 'train' / 'bad.mp4'}: ") for m in messages)
    assert any(m.startswith(f"skipping {dataset / 'train' / 'empty'}: ") and "without" in m for m in messages)


def test_frame_folder_natural_order(dataset):
    names = [p.name for p in frame_files(dataset / "train" / "clip")]
    assert names == [f"frame{i}.png" for i in range(1, 13)]  # frame2 before frame10
    assert sorted(["b10", "a2", "b9", "B1"], key=natural_key) == ["a2", "B1", "b9", "b10"]


def test_counts_by_decoding_when_metadata_is_unreliable(tmp_path):
    # WebM stores no frame count: the frames are counted by decoding.
    (tmp_path / "train").mkdir()
    make_video(tmp_path / "train" / "v.webm", frames=9, size=(32, 32), codec="libvpx-vp9")
    (entry,) = scan_split(tmp_path, "train")
    assert entry.name == "v" and entry.num_frames == 9


def test_too_few_frames_and_duplicates_are_skipped(tmp_path):
    train = tmp_path / "train"
    write_frames(train / "one", 1)
    make_video(train / "one.mp4", frames=1, size=(32, 32))
    make_video(train / "dup.mp4", frames=5, size=(32, 32))
    write_frames(train / "dup", 3)
    with pytest.warns(UserWarning) as caught:
        entries = scan_split(tmp_path, "train")
    assert [(e.name, e.kind) for e in entries] == [("dup", "frames")]  # natural order: folder first
    text = " | ".join(str(w.message) for w in caught)
    assert "fewer than 2 frames" in text and "one.mp4" in text and f"{train / 'one'}:" in text
    assert "same name" in text and "dup.mp4" in text


def test_missing_split_or_nothing_usable_raises(dataset, tmp_path):
    with pytest.raises(InputError, match="no 'test' folder"):
        scan_split(dataset, "test")
    with pytest.raises(InputError, match="not found"):
        scan_split(tmp_path / "nowhere", "train")
    (tmp_path / "only_bad" / "train").mkdir(parents=True)
    (tmp_path / "only_bad" / "train" / "x.mp4").write_text("nope")
    with pytest.warns(UserWarning, match="x.mp4"), pytest.raises(InputError, match="no usable video"):
        scan_split(tmp_path / "only_bad", "train")


@pytest.mark.filterwarnings("ignore:skipping")
def test_source_mtime_of_a_frame_folder_follows_its_frames(dataset):
    import os

    entries = {e.name: e for e in scan_split(dataset, "train")}
    clip = entries["clip"]
    before = source_mtime_ns(clip)
    frame = dataset / "train" / "clip" / "frame5.png"
    os.utime(frame, ns=(before + 10**9, before + 10**9))
    assert source_mtime_ns(clip) == before + 10**9
