"""The landmark smoother on a synthetic noisy track: less jitter, little lag."""

import numpy as np

from internet_cli.pose.smoothing import LandmarkSmoother

FPS = 30.0


def track(frames: int = 300, noise: float = 0.01, seed: int = 0, amplitude: float = 0.2):
    """A joint swinging at 0.5 Hz (a peak speed of 0.63 normalised units, 160 px, per second at 512),
    plus white detector noise of ``noise`` (2.6 px at 512); all 33 landmarks alike."""
    t = np.arange(frames) / FPS
    truth = np.zeros((frames, 33, 3))
    truth[:, :, 0] = amplitude * np.sin(2 * np.pi * 0.5 * t)[:, None]
    truth[:, :, 2] = 0.9
    noisy = truth.copy()
    noisy[:, :, :2] += np.random.default_rng(seed).normal(0.0, noise, (frames, 33, 2))
    return truth, noisy


def smooth(noisy):
    s = LandmarkSmoother(FPS)
    return np.stack([s.update(lm) for lm in noisy])


def jitter(x):
    """RMS of the second difference: what a viewer sees as shaking."""
    return float(np.sqrt(np.mean(np.diff(x[:, :, :2], n=2, axis=0) ** 2)))


def lag_frames(truth, estimate):
    """The delay (frames) that best aligns the estimate with the truth."""
    a, b = truth[30:-10, 0, 0], estimate[30:, 0, 0]
    errs = [np.mean((a - b[d:d + len(a)]) ** 2) for d in range(10)]
    return int(np.argmin(errs))


def test_jitter_drops_at_least_threefold_with_at_most_one_frame_of_lag():
    truth, noisy = track()
    out = smooth(noisy)
    assert jitter(out) < jitter(noisy) / 3
    assert lag_frames(truth, out) <= 1
    assert lag_frames(truth, noisy) == 0  # the measure itself: no lag without the filter


def test_a_still_person_shakes_less_than_half_as_much():
    truth, noisy = track(amplitude=0.0)
    out = smooth(noisy)
    assert out[30:, :, :2].std(axis=0).mean() < 0.5 * noisy[30:, :, :2].std(axis=0).mean()


def test_a_missed_frame_holds_the_last_landmarks():
    s = LandmarkSmoother(FPS)
    assert s.update(None) is None
    first = s.update(np.full((33, 3), 0.5))
    assert s.update(None) is first
