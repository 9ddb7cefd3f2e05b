"""The page's jobs without a browser: limits refused before any model work, uploads only from the
server's folder, the CLI's errors, cancel leaving no file, and the folder's disk cap."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest

from internet_cli.errors import InputError
from internet_cli.web.jobs import Cancelled, Limits, Request, Studio
from tests.media import make_video


@pytest.fixture
def studio(tmp_path, tiny512_pose_weights):
    return Studio(tiny512_pose_weights, tmp_path / "server", Limits(upload_mb=1, seconds=2, disk_mb=1),
                  device="cpu", log=lambda _m: None)


def _upload(studio: Studio, path: Path) -> Path:
    """``path`` copied into the server's folder, where the page's uploads land."""
    dest = studio.folder / "uploads" / "abc123" / path.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, dest)
    return dest


def _request(studio, astronaut_jpg, driving: Path, **kw) -> Request:
    return Request(_upload(studio, astronaut_jpg), _upload(studio, driving), backend="torch", **kw)


def test_a_job_writes_the_cli_s_video_into_the_results(studio, astronaut_jpg, tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=8, fps=8, size=(96, 128), audio=True)
    seen, warned = [], []
    out = studio.animate(_request(studio, astronaut_jpg, clip, max_frames=5), "s1", lambda d, t: seen.append((d, t)),
                         warn=warned.append)
    assert out.parent == studio.results
    with av.open(str(out)) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (512, 512)
        assert c.streams.audio, "the driving clip's audio is carried over"
        assert sum(1 for _ in c.decode(video=0)) == 5
    assert seen[-1] == (5, 5)
    # the CLI's notes: the astronaut photo ends at her waist, and the clip shows no person
    assert warned[0].startswith("source photo: the photo does not show the ") and "right shin" in warned[0]
    assert warned[1:] == ["driving video: no person found in 5 of 5 driving frames; the person stands still until "
                          "one is found and then holds the last pose found"]


def test_paths_outside_the_server_folder_are_never_opened(studio, astronaut_jpg, tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=4)
    for source, driving in ((astronaut_jpg, _upload(studio, clip)), (_upload(studio, astronaut_jpg), clip),
                            (_upload(studio, astronaut_jpg), studio.folder / "uploads" / ".." / ".." / "clip.mp4")):
        with pytest.raises(InputError, match="not a file uploaded to this page"):
            studio.animate(Request(source, driving, backend="torch"), "s1", lambda d, t: None)
    assert not studio._animators, "no model was opened"


def test_size_and_duration_limits_refuse_before_any_model_work(studio, astronaut_jpg, tmp_path):
    long_clip = make_video(tmp_path / "long.mp4", frames=30, fps=10)  # 3 s, the limit is 2
    with pytest.raises(InputError, match=r"driving video: 3\.0 s is over this page's limit of 2 s"):
        studio.animate(_request(studio, astronaut_jpg, long_clip), "s1", lambda d, t: None)
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (2 << 20))
    with pytest.raises(InputError, match=r"source photo: 2\.0 MB is over this page's limit of 1 MB"):
        studio.animate(Request(_upload(studio, big), _upload(studio, long_clip), backend="torch"), "s1",
                       lambda d, t: None)
    assert not studio._animators and not list(studio.results.iterdir())


def test_bad_input_raises_the_cli_s_error_and_the_message_names_only_the_file(studio, astronaut_jpg, tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n")
    with pytest.raises(InputError) as err:
        studio.animate(_request(studio, astronaut_jpg, notes), "s1", lambda d, t: None)
    assert studio.public(str(err.value)).startswith("notes.mp4: not a readable video file")
    backwards = _request(studio, astronaut_jpg, make_video(tmp_path / "c.mp4", frames=4), start=2.0, end=1.0)
    with pytest.raises(InputError, match="end .* must be after start"):
        studio.animate(backwards, "s1", lambda d, t: None)


def test_cancel_stops_the_job_and_leaves_no_file(studio, astronaut_jpg, tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=12, fps=8)

    def progress(done, total):
        assert studio.cancel("s1")

    with pytest.raises(Cancelled):
        studio.animate(_request(studio, astronaut_jpg, clip), "s1", progress)
    assert list(studio.results.iterdir()) == []
    assert not studio.cancel("s1"), "nothing left running"


def test_the_folder_is_pruned_oldest_first_to_its_cap(studio):
    import os
    import time

    old, new = studio.results / "old.mp4", studio.results / "new.mp4"
    old.write_bytes(b"\0" * 700_000)
    new.write_bytes(b"\0" * 700_000)
    os.utime(old, (time.time() - 100, time.time() - 100))
    studio.prune()
    assert not old.exists() and new.exists()
    studio.prune(keep={new})
    assert new.exists()
