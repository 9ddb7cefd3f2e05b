"""The frame cache: exact frames, reuse, rebuild on a newer source, concurrency, pickling."""

from __future__ import annotations

import os
import pickle
import threading

import numpy as np
import pytest
from PIL import Image

from internet_cli.clips import frames as frames_mod
from internet_cli.clips.frames import FrameStore, default_cache_dir
from internet_cli.clips.layout import scan_split
from internet_cli.video.image import load_image, to_square
from internet_cli.video.reader import iter_frames
from tests.media import make_video

SIZE = 32


@pytest.fixture
def entries(tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    make_video(train / "a.mp4", frames=15, size=(64, 48))  # not square: padding + resize
    clip = train / "clip"
    clip.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 11):
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(clip / f"f{i}.png")
    return {e.name: e for e in scan_split(tmp_path, "train")}


def no_decoding(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the source was decoded again")

    monkeypatch.setattr(frames_mod, "square_frames", fail)


def test_video_frames_equal_direct_decode(entries):
    entry = entries["a"]
    store = FrameStore(entry, SIZE)
    expected = [to_square(f.image, SIZE) for f in iter_frames(entry.path)]
    assert len(store) == len(expected) == 15
    for i, frame in enumerate(expected):
        got = store[i]
        assert got.dtype == np.uint8 and got.shape == (SIZE, SIZE, 3)
        np.testing.assert_array_equal(got, frame)
    np.testing.assert_array_equal(store[-1], expected[-1])
    with pytest.raises(IndexError):
        store[15]
    assert store.path == default_cache_dir(entry) / "train" / f"a-{SIZE}.npy"
    assert store.path.stat().st_size >= 15 * SIZE * SIZE * 3
    assert not [p for p in store.path.parent.iterdir() if p.name.endswith(".partial")]


def test_frame_folder_goes_through_the_cache(entries):
    entry = entries["clip"]
    store = FrameStore(entry, SIZE)
    files = sorted(entry.path.iterdir(), key=lambda p: int(p.stem[1:]))
    assert len(store) == 10
    for i, p in enumerate(files):
        np.testing.assert_array_equal(store[i], to_square(load_image(p), SIZE))


def test_cache_is_reused_then_rebuilt_when_the_source_is_newer(entries, monkeypatch):
    entry = entries["a"]
    first = FrameStore(entry, SIZE)
    mtime = first.path.stat().st_mtime_ns
    with monkeypatch.context() as m:
        no_decoding(m)
        again = FrameStore(entry, SIZE)  # reused: no decode, file untouched
        np.testing.assert_array_equal(again[3], first[3])
    assert again.path.stat().st_mtime_ns == mtime

    newer = mtime + 5 * 10**9
    os.utime(entry.path, ns=(newer, newer))
    rebuilt = FrameStore(entry, SIZE)
    assert rebuilt.path.stat().st_mtime_ns >= newer  # rebuilt, and stamped no older than the source
    np.testing.assert_array_equal(rebuilt[3], first[3])


def test_bad_or_other_size_cache_is_rebuilt(entries):
    entry = entries["a"]
    store = FrameStore(entry, SIZE)
    store.path.write_bytes(b"garbage")
    assert len(FrameStore(entry, SIZE)) == 15
    other = FrameStore(entry, 16)  # another size: another file
    assert other.path != store.path and other[0].shape == (16, 16, 3)


def test_wrong_frame_count_guess_still_gives_every_frame(entries):
    entry = entries["a"]
    entry.num_frames = 4  # metadata that undercounts: the header is fixed after decoding
    store = FrameStore(entry, SIZE)
    assert len(store) == 15
    assert np.load(store.path, mmap_mode="r").shape == (15, SIZE, SIZE, 3)


def test_concurrent_builders_agree(entries):
    entry = entries["a"]
    results, errors = [], []

    def build():
        try:
            results.append(np.array(FrameStore(entry, SIZE).frames))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 4 and all(np.array_equal(r, results[0]) for r in results)
    leftovers = [p.name for p in FrameStore(entry, SIZE).path.parent.iterdir() if p.name.endswith(".partial")]
    assert leftovers == []


def test_pickle_reopens_the_map(entries, monkeypatch):
    store = FrameStore(entries["a"], SIZE)
    blob = pickle.dumps(store)
    assert len(blob) < 10_000  # the frames are not copied into the pickle
    no_decoding(monkeypatch)
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone[7], store[7])
