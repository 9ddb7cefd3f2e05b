"""MediaPipe Pose, the one place that runs it: ``PoseEstimator(video)(rgb)`` -> ``(33, 3)`` landmarks.

MediaPipe's legacy pose model (``model_complexity=1``, the only one that runs offline in 0.10.21)
gives 33 landmarks with a visibility in [0, 1]. Photos use its static mode, videos its tracking
mode (one estimator per video). Frames are shrunk to at most :data:`POSE_MAX_SIDE` pixels for
the detector only; landmarks are returned in the original pixel coordinates (continuous: pixel
``i`` spans ``[i, i + 1)``). ``import mediapipe`` takes about a second: it happens only when an
estimator is made.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

import numpy as np

from internet_cli.config import SEGMENTERS

POSE_MAX_SIDE = 640
"""Frames are shrunk to this longer side for the pose model only (it works at 256 inside)."""

_mp_lock = threading.Lock()


# --------------------------------------------------------------------------- pose estimation


@contextlib.contextmanager
def _quiet_stderr():
    """Send fd 2 to /dev/null for the duration (MediaPipe's C++ logging bypasses Python)."""
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError, OSError):
        pass
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _import_mediapipe():
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _quiet_stderr():
        try:
            import absl.logging  # noqa: PLC0415 - a mediapipe dependency

            absl.logging.set_verbosity(absl.logging.ERROR)
        except ImportError:
            pass
        try:
            import mediapipe as mp  # noqa: PLC0415 - ~1 s, only here
        except ImportError as exc:
            from internet_cli.errors import InputError

            raise InputError(f"--crop auto needs mediapipe 0.10.21 ({exc}); install it or use --crop none") from None
    return mp


class PoseEstimator:
    """MediaPipe Pose (complexity 1): ``estimator(rgb)`` -> ``(33, 3)`` float32 ``(x, y, visibility)``.

    ``x, y`` in pixels of the given image; None when no person is found. ``video=True`` uses the
    tracking mode (frames must come in order); otherwise every image is detected afresh.
    """

    def __init__(self, video: bool = False):
        mp = _import_mediapipe()
        # MediaPipe's graph opens its calculators (and TF Lite prints its delegate lines) in worker
        # threads after the constructor returns: one blank frame inside the same quiet window waits
        # for that. The blank frame holds no person, so tracking state is untouched.
        try:
            with _mp_lock, _quiet_stderr():
                self._pose = mp.solutions.pose.Pose(static_image_mode=not video, model_complexity=1,
                                                    smooth_landmarks=video, enable_segmentation=False,
                                                    min_detection_confidence=0.5, min_tracking_confidence=0.5)
                self._pose.process(np.zeros((64, 64, 3), np.uint8))
        except Exception as exc:  # noqa: BLE001 - a broken install: one clear line
            from internet_cli.errors import InternetError

            raise InternetError(f"MediaPipe Pose could not start ({type(exc).__name__}: {exc}); "
                                "use --crop none, or reinstall mediapipe==0.10.21") from None
        self._warm = False  # until a person is found: the landmark calculators warn on first use

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        import cv2

        img = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
        h, w = img.shape[:2]
        f = POSE_MAX_SIDE / max(h, w)
        if f < 1.0:
            img = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        if self._warm:
            result = self._pose.process(img)
        else:
            # The first call prints TF Lite / feedback-manager lines for the detector, the first call
            # that finds a person prints them for the landmark model: both are kept off the terminal.
            with _quiet_stderr():
                result = self._pose.process(img)
            self._warm = result.pose_landmarks is not None
        if result.pose_landmarks is None:
            return None
        lm = np.array([(p.x * w, p.y * h, p.visibility) for p in result.pose_landmarks.landmark], np.float32)
        return lm

    def close(self) -> None:
        _close(self._pose)

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _close(graph) -> None:
    """Close a MediaPipe solution; a graph that failed half-way may raise, which changes nothing."""
    with contextlib.suppress(Exception):
        graph.close()


def _start(make, what: str):
    """A MediaPipe solution made by ``make()``, warmed on a blank frame in a quiet window; a broken
    install is one clear line."""
    try:
        with _mp_lock, _quiet_stderr():
            graph = make()
            graph.process(np.zeros((64, 64, 3), np.uint8))
            return graph
    except Exception as exc:  # noqa: BLE001 - a broken install: one clear line
        from internet_cli.errors import InternetError

        raise InternetError(f"MediaPipe {what} could not start ({type(exc).__name__}: {exc}); "
                            "reinstall mediapipe==0.10.21") from None


class PersonSegmenter:
    """A person probability ``(H, W)`` float32 in [0, 1] at the image's size: ``segmenter(rgb)``.

    ``model="selfie"``: MediaPipe's selfie segmentation, landscape model (``model_selection=1``,
    meant for whole bodies further from the camera). ``model="pose"``: the pose model's own
    segmentation (``enable_segmentation``), which follows the body it finds (an outstretched arm
    the selfie model misses); all 0 where it finds no person. Both bundled, offline."""

    def __init__(self, model: str = "selfie"):
        mp = _import_mediapipe()
        if model not in SEGMENTERS:
            raise ValueError(f"segmenter must be one of {', '.join(SEGMENTERS)}, got {model!r}")
        if model == "selfie":
            self._seg = _start(lambda: mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1),
                               "selfie segmentation")
        else:
            self._seg = _start(lambda: mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1,
                                                              enable_segmentation=True), "Pose segmentation")

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        img = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
        with _quiet_stderr():
            mask = self._seg.process(img).segmentation_mask
        return np.zeros(img.shape[:2], np.float32) if mask is None else np.asarray(mask, np.float32)

    def close(self) -> None:
        _close(self._seg)

    def __enter__(self) -> PersonSegmenter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
