"""AKD / MKR with MediaPipe Pose on real photos."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mediapipe")

from internet_cli.eval.pose import PoseAccumulator, PoseDetector, akd, frame_akd, frame_mkr, mkr  # noqa: E402


@pytest.fixture(scope="module")
def clip():
    """Three real frames: the astronaut, shifted a little each time."""
    import cv2

    photo = pytest.importorskip("skimage.data").astronaut()
    photo = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)
    return np.stack([np.roll(photo, 6 * i, axis=1) for i in range(3)])


@pytest.fixture(scope="module")
def detector():
    det = PoseDetector()
    yield det
    det.close()


def test_akd_of_a_video_against_itself_is_zero(clip, detector):
    assert akd(clip, clip, detector) == 0.0
    assert mkr(clip, clip, detector) == 0.0


def test_mkr_of_an_empty_image_is_one(clip, detector):
    empty = np.full_like(clip, 128)
    assert mkr(clip, empty, detector) == 1.0
    assert akd(clip, empty, detector) is None  # no frame has poses on both sides


def test_akd_measures_the_shift(clip, detector):
    shifted = np.roll(clip, 10, axis=2)  # 10 px to the right
    d = akd(clip, shifted, detector)
    assert 5 < d < 20


def test_frame_rules():
    real = np.zeros((33, 3), np.float32)
    real[:4] = (10, 10, 0.9)
    out = real.copy()
    out[:2, 0] += 3
    out[3, 2] = 0.1  # not visible in the output
    assert frame_akd(real, out) == pytest.approx(2.0)  # (3 + 3 + 0) / 3 landmarks visible in both
    assert frame_mkr(real, out) == pytest.approx(0.25)
    assert frame_mkr(real, None) == 1.0 and np.isnan(frame_akd(real, None)) and np.isnan(frame_mkr(None, out))


def test_accumulator(clip):
    acc = PoseAccumulator()
    try:
        acc.real(clip)
        acc.method("real", clip)
        acc.method("empty", np.zeros_like(clip))
        assert acc.means("real") == {"akd": 0.0, "mkr": 0.0}
        assert acc.means("empty") == {"akd": None, "mkr": 1.0}
    finally:
        acc.close()


def test_evaluate_pose_hook(tmp_path):
    from internet_cli.eval.evaluate import CopySource, EvalOptions, RealFrames, evaluate
    from tests.person_media import person_frames, write_video

    photo = pytest.importorskip("skimage.data").astronaut()
    (tmp_path / "test").mkdir()
    write_video(tmp_path / "test" / "walk.mp4", person_frames(photo, frames=6, size=(256, 256)))
    report = evaluate(tmp_path, [CopySource(), RealFrames()], 128, EvalOptions(pose=True, batch_size=4))
    real, copy = report["overall"]["real"], report["overall"]["copy-source"]
    assert real["akd"] == 0.0 and real["mkr"] == 0.0
    assert copy["akd"] > 1.0  # the person moved away from where the source shows them
    assert "akd" in report["metrics"] and "mkr" in report["videos"][0]["methods"]["real"]
    plain = evaluate(tmp_path, [RealFrames()], 128, EvalOptions())
    assert "akd" not in plain["overall"]["real"]
