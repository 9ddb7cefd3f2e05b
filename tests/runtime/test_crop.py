"""Person crops (``--crop auto``): detection on a real photo, smooth tracking on real-photo videos."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mediapipe")

from internet_cli.runtime.crop import (MAX_CATCHUP, MAX_SHIFT, MAX_ZOOM, Box, crop_square, frame_photo,  # noqa: E402
                                       inside_cut_edges, person_box, pose_distance, pose_scale, track, whole_frame_box)
from internet_cli.video.image import to_square  # noqa: E402
from internet_cli.runtime.onnx_backend import scaled_reference  # noqa: E402

from tests.person_media import person_frames, write_video  # noqa: E402


@pytest.fixture(scope="module")
def astronaut():
    return pytest.importorskip("skimage.data").astronaut()


person_video = person_frames


def test_astronaut_photo_crop_holds_face_and_shoulders(astronaut):
    framed = frame_photo(astronaut, 512)
    assert framed.found and framed.image.shape == (512, 512, 3)
    lm = framed.landmarks
    for i in (0, 11, 12):  # nose, both shoulders: visible and inside the crop
        assert lm[i, 2] > 0.5
        assert 0 <= lm[i, 0] < 512 and 0 <= lm[i, 1] < 512, (i, lm[i])
    assert framed.box.y0 <= 20  # room above the eyes for the top of the head (her hair starts at y~25)


def test_a_half_body_photo_is_not_padded_below_the_cut(astronaut):
    """Her legs lie below the photo: the crop ends at its bottom edge, where before it went on
    into a fill in which MediaPipe found thighs (hips 0.99, knees 0.59) for the model to move."""
    from internet_cli.pose.estimator import PoseEstimator

    framed = frame_photo(astronaut, 512)
    assert framed.box.y0 + framed.box.side == pytest.approx(astronaut.shape[0])
    est = PoseEstimator(video=False)
    try:
        again = est(framed.image)
    finally:
        est.close()
    assert max(again[25, 2], again[26, 2]) < 0.5  # no knee is seen in the crop


def test_only_an_edge_that_cuts_the_person_holds_the_square_inside():
    lm = np.zeros((33, 3), np.float32)
    lm[:, 0], lm[:, 1], lm[:, 2] = 100, np.linspace(20, 180, 33), 0.9
    box = Box(cx=100, cy=150, side=200)  # reaches 50 px past the bottom and 50 px past the top
    assert inside_cut_edges(box, lm, (200, 400, 3)) == box  # nobody is cut: the padding stays
    lm[-4:, 1] = 230  # the feet lie below the photo
    moved = inside_cut_edges(box, lm, (200, 400, 3))
    assert (moved.cx, moved.cy + moved.side / 2, moved.side) == (100, 200, 200)


def test_no_person_gives_the_whole_frame():
    grey = np.full((200, 300, 3), 128, np.uint8)
    framed = frame_photo(grey, 64)
    assert not framed.found and framed.landmarks is None
    assert np.array_equal(framed.image, to_square(grey, 64))


@pytest.mark.parametrize("shape", [(300, 400), (301, 400), (400, 301), (256, 256)])
def test_whole_frame_box_is_to_square(shape):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    assert np.array_equal(crop_square(img, whole_frame_box(img.shape), 128), to_square(img, 128))


def test_crop_outside_the_frame_fades_into_a_smooth_fill_without_streaks():
    img = np.zeros((100, 100, 3), np.uint8)
    img[:, :50] = 10
    img[:, 50:] = 200
    img[0, 50::2] = 255  # a striped top row: repeated upwards it would draw vertical streaks
    out = crop_square(img, Box(cx=100, cy=0, side=100), 100)  # centre on the top-right corner
    assert out.shape == (100, 100, 3)
    assert np.array_equal(out[50:, :50], img[:50, 50:])  # the frame's own pixels are untouched
    assert np.abs(out[49, :50].astype(int) - img[0, 50:]).max() <= 40  # at the edge: the edge pixels
    far = out[:40, :40, 0].astype(int)
    assert np.abs(np.diff(far, axis=1)).max() <= 6  # far from it: smooth, no streaks


def test_an_arm_stretched_out_does_not_move_a_video_crop_but_stays_in_a_photo_crop():
    lm = np.zeros((33, 3), np.float32)
    lm[:, 2] = 0.99
    lm[:, 0], lm[:, 1] = 300, np.linspace(100, 500, 33)
    before = person_box(lm, (600, 800, 3), arms=False)
    lm[[14, 16, 18, 20, 22], 0] = 790  # the right arm reaches the frame's edge
    after = person_box(lm, (600, 800, 3), arms=False)
    assert (after.cx, after.cy, after.side) == (before.cx, before.cy, before.side)
    photo = person_box(lm, (600, 800, 3))
    assert photo.x0 + photo.side > 790


def test_box_needs_a_person():
    assert person_box(None, (100, 100, 3)) is None
    lm = np.zeros((33, 3), np.float32)
    lm[:2] = (50, 50, 0.9)  # two visible points are not a person
    assert person_box(lm, (100, 100, 3)) is None


def _check_smooth(boxes, typical: bool = True):
    b = np.array([(x.cx, x.cy, x.side) for x in boxes])
    shift = np.abs(np.diff(b[:, :2], axis=0)).max(1) / b[:-1, 2]
    zoom = np.abs(np.diff(b[:, 2])) / b[:-1, 2]
    assert shift.max() <= MAX_CATCHUP + 1e-6 and zoom.max() <= 3 * MAX_ZOOM + 1e-6, (shift.max(), zoom.max())
    if typical:  # a person moving at a usual pace: the smooth bound holds on most frames
        assert np.median(shift) <= MAX_SHIFT + 1e-6 and np.median(zoom) <= MAX_ZOOM + 1e-6
    return b


@pytest.mark.parametrize("n", [36, 12])  # 12: crosses the frame in half a second
def test_track_follows_a_moving_person_smoothly(tmp_path, astronaut, n):
    from internet_cli.video.reader import iter_frames

    frames = person_video(astronaut, frames=n)
    path = write_video(tmp_path / "walk.mp4", frames)
    out = list(track(iter_frames(path), 256, fps=25))
    assert len(out) == len(frames)
    found = [f.found for _, f in out]
    assert sum(found) >= 0.9 * len(frames)
    b = _check_smooth([f.box for _, f in out], typical=n > 20)
    truth = np.array([t for _, t in frames])
    assert np.corrcoef(b[:, 0], truth[:, 0])[0, 1] > 0.98  # the crop goes where the person goes
    for (_, f), (x, y) in zip(out, truth):
        inside = Box(f.box.cx, f.box.cy, f.box.side).to_crop(np.array([[x, y]]), 256)[0]
        assert 0 <= inside[0] < 256 and 0 <= inside[1] < 256  # the true nose is in every crop
        assert f.image.shape == (256, 256, 3)


def test_track_keeps_the_last_crop_without_a_person(astronaut):
    frames = person_video(astronaut, frames=24, gap=(10, 16))
    out = list(track([img for img, _ in frames], 128, fps=25))
    found = [f.found for _, f in out]
    assert not any(found[10:16]) and all(found[:10])
    boxes = [f.box for _, f in out]
    assert all(b == boxes[9] for b in boxes[10:16])  # held while nobody is there
    _check_smooth(boxes)


def test_track_before_the_first_detection_and_never(astronaut):
    frames = person_video(astronaut, frames=12, gap=(0, 4))
    out = list(track([img for img, _ in frames], 128, fps=25))
    assert [f.found for _, f in out][:4] == [False] * 4
    assert all(f.box == out[4][1].box for _, f in out[:4])  # they wait for and take the first crop
    grey = [np.full((90, 160, 3), 100, np.uint8)] * 5
    out = list(track(grey, 64, fps=25, lookahead=2))
    assert len(out) == 5 and all(f.box == whole_frame_box((90, 160)) for _, f in out)


def test_real_video_track_follows_pedestrians_smoothly(real_video):
    """vtest.avi: real pedestrians; a 288x288 window of it, where they are large enough for the detector."""
    from internet_cli.video.reader import iter_frames

    frames = [f.image[0:288, 288:576] for f in iter_frames(real_video, max_frames=60)]
    out = list(track(frames, 128, fps=10))
    assert len(out) == 60
    found = [f for _, f in out if f.found]
    assert len(found) >= 40
    _check_smooth([f.box for _, f in out])
    centres = [f.landmarks[f.landmarks[:, 2] >= 0.5, :2].mean(0) for f in found]
    inside = [0 <= x < 128 and 0 <= y < 128 for x, y in centres]
    assert np.mean(inside) >= 0.9  # the tracked person is in the crop


def test_pose_scale_and_distance():
    rng = np.random.default_rng(1)
    lm = np.concatenate([rng.uniform(100, 300, (33, 2)), np.ones((33, 1))], 1).astype(np.float32)
    half = lm.copy()
    half[:, :2] = 50 + 0.5 * lm[:, :2]
    assert pose_scale(lm, half) == pytest.approx(2.0, rel=1e-5)
    assert pose_distance(lm, half) == pytest.approx(0.0, abs=1e-5)  # same pose, other place and size
    other = lm.copy()
    other[:, :2] = rng.uniform(100, 300, (33, 2))
    assert pose_distance(lm, other) > 0.3
    hidden = lm.copy()
    hidden[:, 2] = 0
    assert pose_scale(lm, hidden) is None and pose_distance(lm, hidden) == np.inf


class RecordingAnimator:
    """Stands in for the model: records the reference frame, returns the driving frames."""

    backend = "record"
    size = 128

    def __init__(self):
        self.refs = []

    def encode_source(self, source):
        return source

    def reference(self, state, first, relative, adapt_scale):
        ref = {"scale": np.array([1.0], np.float32), "frame": first.copy(), "adapt": adapt_scale}
        self.refs.append(ref)
        return ref

    with_scale = staticmethod(scaled_reference)

    def animate(self, state, frames, ref):
        self.last_ref = ref
        return frames


def test_animate_pipeline_crops_scales_and_finds_the_best_frame(tmp_path, astronaut):
    from PIL import Image

    from internet_cli.runtime.pipeline import AnimateOptions, prepare, run

    src = tmp_path / "src.png"
    Image.fromarray(astronaut).save(src)
    frames = person_video(astronaut, frames=16)
    drv = write_video(tmp_path / "drv.mp4", frames)
    opts = AnimateOptions(audio=False, crop="auto", adapt_scale=True, find_best_frame=True, batch_size=4)
    job = prepare(src, drv, tmp_path / "out.mp4", 128, opts)
    assert job.framing.active and job.framing.source_landmarks is not None and job.framing.note is None
    anim = RecordingAnimator()
    result = run(job, anim, opts)
    assert result.frames == 16
    assert job.framing.best_index is not None and np.isfinite(job.framing.best_distance)
    assert job.framing.scale_from == "pose" and 0.25 <= job.framing.scale <= 4.0
    assert len(anim.refs) == 1 and anim.refs[0]["adapt"] is False  # the scale comes from the poses
    assert anim.last_ref["scale"][0] == pytest.approx(job.framing.scale)

    opts = AnimateOptions(audio=False, crop="auto", adapt_scale=True, overwrite=True)
    job = prepare(src, drv, tmp_path / "out.mp4", 128, opts)
    anim = RecordingAnimator()
    run(job, anim, opts)
    assert job.framing.best_index is None and job.framing.first_landmarks is not None
    assert job.framing.scale_from == "pose"


def test_animate_source_without_a_person_falls_back_to_whole_frames(tmp_path, astronaut):
    from PIL import Image

    from internet_cli.runtime.pipeline import AnimateOptions, prepare, run

    src = tmp_path / "grey.png"
    Image.fromarray(np.full((120, 90, 3), 128, np.uint8)).save(src)
    frames = person_video(astronaut, frames=3)
    drv = write_video(tmp_path / "drv.mp4", frames)
    opts = AnimateOptions(audio=False, crop="auto", adapt_scale=True)
    job = prepare(src, drv, tmp_path / "out.mp4", 128, opts)
    assert not job.framing.active and "no person found" in job.framing.note
    anim = RecordingAnimator()
    run(job, anim, opts)
    assert anim.refs[0]["adapt"] is True  # anchor hull ratio, as without cropping
    whole = to_square(frames[0][0], 128).astype(int)
    assert np.abs(anim.refs[0]["frame"].astype(int) - whole).mean() < 4  # the whole frame (after H.264)


def test_mediapipe_log_lines_never_reach_stderr(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "probe.py"
    script.write_text(
        "import numpy as np\n"
        "from skimage.data import astronaut\n"
        "from internet_cli.runtime.crop import frame_photo, track\n"
        "from tests.person_media import person_frames\n"
        "a = astronaut()\n"
        "frame_photo(np.full((64, 64, 3), 9, np.uint8), 64)\n"
        "assert frame_photo(a, 64).found\n"
        "frames = [f for f, _ in person_frames(a, frames=6, gap=(0, 2))]\n"
        "assert sum(f.found for _, f in track(frames, 64)) >= 3\n"
        "print('ok')\n")
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=root,
                       env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    assert r.stderr == ""


def test_full_body_first_frames_are_not_cropped_at_the_waist():
    """Tracking starts with low leg visibility: the first crops must still hold the whole body."""
    from pathlib import Path

    from internet_cli.pose.estimator import PoseEstimator
    from internet_cli.runtime.crop import person_box
    from internet_cli.video.reader import iter_frames

    video = Path(__file__).resolve().parents[2] / "examples" / "driving.mp4"
    sides = []
    with PoseEstimator(video=True) as est:
        for f in iter_frames(video, max_frames=10):
            box = person_box(est(f.image), f.image.shape)
            assert box is not None
            sides.append(box.side)
    assert min(sides[:3]) > 0.85 * sides[-1], sides


def test_the_example_dancer_s_outstretched_arm_does_not_drag_the_crop():
    """examples/driving.mp4: the arm goes out to the frame's edge in frames 60-68. With the wrists in
    the box the crop centre moved 66.5 px there (11% of the side); without the arms it moves 3.4 px."""
    from pathlib import Path

    from internet_cli.runtime.crop import track
    from internet_cli.video.reader import iter_frames

    clip = Path(__file__).resolve().parents[2] / "examples" / "driving.mp4"
    boxes = [f.box for _, f in track(iter_frames(clip), 512, fps=30)]
    assert len(boxes) == 90
    assert abs(boxes[68].cx - boxes[60].cx) < 8
    assert max(b.cx for b in boxes) - min(b.cx for b in boxes) < 30
