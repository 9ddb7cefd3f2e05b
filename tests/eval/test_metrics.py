"""Frame and video metrics (internet_cli/eval/metrics.py) on constructed frames with known answers."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from internet_cli.eval import metrics as M


def texture(size: int, seed: int = 0, blur: float = 1.5) -> np.ndarray:
    """A smooth, high-contrast random RGB texture ``(size, size, 3)`` uint8."""
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), blur)
    t = (t - t.min()) / (t.max() - t.min())
    return np.round(t * 255).astype(np.uint8)


def window(big: np.ndarray, x: float, y: float, size: int) -> np.ndarray:
    """The ``size`` x ``size`` view of ``big`` whose top-left corner is at sub-pixel ``(x, y)``."""
    m = np.float32([[1, 0, -x], [0, 1, -y]])
    return cv2.warpAffine(big, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return texture(96, seed=1)[:, :80]


def test_identical_frames(frame):
    assert M.l1(frame, frame) == 0.0
    assert M.psnr(frame, frame) == M.PSNR_CAP == 100.0
    assert M.ssim(frame, frame) == pytest.approx(1.0, abs=1e-12)
    assert M.ms_ssim(frame, frame) == pytest.approx(1.0, abs=1e-12)
    batch = np.stack([frame, frame[::-1]])
    np.testing.assert_allclose(M.ssim(batch, batch), [1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(M.ms_ssim(batch, batch), [1.0, 1.0], atol=1e-12)
    assert M.psnr(frame, frame, cap=60.0) == 60.0


def test_psnr_and_l1_of_known_noise():
    rng = np.random.default_rng(0)
    a = rng.integers(20, 200, (64, 64, 3), dtype=np.uint8)
    b = a + 10  # every pixel off by 10 levels: MSE = (10/255)^2
    assert M.l1(a, b) == pytest.approx(10 / 255)
    assert M.psnr(a, b) == pytest.approx(20 * math.log10(25.5), abs=1e-9)
    # Gaussian noise sigma = 5 levels (no clipping in [20, 200]): ~ 20 log10(255 / 5) = 34.15 dB
    noisy = np.clip(np.rint(a + rng.normal(0, 5, a.shape)), 0, 255).astype(np.uint8)
    assert M.psnr(a, noisy) == pytest.approx(20 * math.log10(255 / 5), abs=0.15)
    # batch: one value per frame; order of arguments does not matter
    vals = M.psnr(np.stack([a, a]), np.stack([b, a]))
    assert vals.shape == (2,) and vals[1] == M.PSNR_CAP
    assert M.psnr(b, a) == M.psnr(a, b)


def test_ssim_matches_scikit_image(frame):
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(3)
    other = np.clip(frame.astype(int) + rng.normal(0, 12, frame.shape), 0, 255).astype(np.uint8)
    ref = metrics.structural_similarity(frame, other, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                        data_range=255, channel_axis=-1)
    assert M.ssim(frame, other) == pytest.approx(ref, abs=1e-9)
    assert 0.2 < M.ssim(frame, other) < 0.99


@pytest.mark.parametrize("change", ["noise", "blur", "shift"])
def test_ssim_and_ms_ssim_match_pytorch_msssim_on_a_real_photo(change):
    """Both metrics against pytorch-msssim (valid Gaussian windows, 2x2 average pooling, the
    standard weights) on scikit-image's astronaut at 512x512: 5 scales, as the evaluation uses."""
    pm = pytest.importorskip("pytorch_msssim")
    data = pytest.importorskip("skimage.data")
    import cv2
    import torch

    photo = data.astronaut()
    other = {"noise": lambda: np.clip(photo + np.random.default_rng(0).normal(0, 10, photo.shape), 0, 255),
             "blur": lambda: cv2.GaussianBlur(photo, (0, 0), 2.0),
             "shift": lambda: np.roll(photo, (3, -2), axis=(0, 1))}[change]().astype(np.uint8)
    t = [torch.from_numpy(x).permute(2, 0, 1)[None].double() / 255 for x in (photo, other)]
    win = torch.from_numpy(M.gaussian_kernel())[None, None, None].repeat(3, 1, 1, 1)  # theirs is float32
    ref_ssim = float(pm.ssim(*t, data_range=1.0, win=win))
    ref_ms = float(pm.ms_ssim(*t, data_range=1.0, win=win))
    s, ms = M.ssim_and_ms_ssim(photo, other)
    assert s == pytest.approx(ref_ssim, abs=1e-9)
    assert ms == pytest.approx(ref_ms, abs=1e-9)
    assert 0.3 < ms < 0.999


def test_ms_ssim_scales_and_ordering():
    assert M.ms_ssim_scales(512, 512) == 5
    assert M.ms_ssim_scales(176, 176) == 5
    assert M.ms_ssim_scales(175, 400) == 4
    assert M.ms_ssim_scales(64, 64) == 3
    assert M.ms_ssim_scales(11, 11) == 1
    with pytest.raises(ValueError):
        M.ms_ssim_scales(10, 64)
    a = texture(192, seed=2)
    rng = np.random.default_rng(4)
    scores = []
    for sigma in (3, 10, 30):
        noisy = np.clip(a.astype(int) + rng.normal(0, sigma, a.shape), 0, 255).astype(np.uint8)
        scores.append(M.ms_ssim(a, noisy))
    assert 1.0 > scores[0] > scores[1] > scores[2] > 0.0
    s, ms = M.ssim_and_ms_ssim(a, a[::-1].copy())
    assert s == pytest.approx(M.ssim(a, a[::-1].copy())) and ms == pytest.approx(M.ms_ssim(a, a[::-1].copy()))


def test_interp_psnr_linear_motion_is_high_random_jumps_low():
    big = texture(320, seed=5, blur=2.0)
    size = 128
    moving = np.stack([window(big, 80 + 2.5 * t, 90 + 1.25 * t, size) for t in range(5)])
    high = M.interp_psnr_video(moving, moving)
    assert high.shape == (3,)
    assert high.min() > 30.0, high
    rng = np.random.default_rng(6)
    jumping = np.stack([window(big, 80 + rng.uniform(-40, 40), 90 + rng.uniform(-40, 40), size) for _ in range(5)])
    low = M.interp_psnr_video(jumping, jumping)
    assert low.max() < 20.0, low
    # the midpoint of two identical frames is that frame
    assert M.interp_psnr(moving[0], moving[0], moving[0]) > 45.0


def test_interp_frame_is_the_midpoint_of_a_translation():
    big = texture(256, seed=7, blur=2.0)
    a, mid, b = (window(big, 60 + 3.0 * t, 70 - 2.0 * t, 128) for t in range(3))
    pred = M.interp_frame(a, b)
    inner = (slice(10, -10), slice(10, -10))
    assert M.psnr(pred[inner], mid[inner]) > 33.0
    assert M.psnr(pred[inner], mid[inner]) > M.psnr(a[inner], mid[inner]) + 8.0


def _backwarp_float(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    from internet_cli.motion.geometry import backwarp

    t = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    return backwarp(t, torch.from_numpy(flow)[None]).numpy()[0].transpose(1, 2, 0)


def test_warping_error_of_an_exact_warp_is_zero():
    cur = texture(64, seed=8, blur=2.0)
    ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
    flow = np.stack([1.5 + 0.02 * ys, -0.75 + 0.01 * xs]).astype(np.float32)  # smooth, sub-pixel
    prev = np.clip(np.rint(_backwarp_float(cur, flow)), 0, 255).astype(np.uint8)  # prev(p) = cur(p + f(p))
    err = M.warping_error(prev, cur, flow)
    assert err < 0.5 / 255 + 1e-6  # only the uint8 rounding of prev
    # the wrong flow (none) gives a clearly larger error
    assert M.warping_error(prev, cur, np.zeros_like(flow)) > 10 * err + 0.01
    # pixels whose flow leaves the frame do not count (top row: dy < 0; right edge: dx > 0)
    valid = M.flow_valid(flow)
    expected = (xs + flow[0] <= 63) & (ys + flow[1] >= 0) & (ys + flow[1] <= 63) & (xs + flow[0] >= 0)
    np.testing.assert_array_equal(valid, expected)
    assert not valid[0].any() and valid[1:, :40].all()
    # a mask restricts further; an empty mask gives NaN
    half = np.zeros((64, 64), bool)
    half[:, :32] = True
    assert M.warping_error(prev, cur, flow, half) < 0.5 / 255 + 1e-6
    assert math.isnan(M.warping_error(prev, cur, flow, np.zeros((64, 64), bool)))
    sums, counts = M.warping_errors(np.stack([prev, prev]), np.stack([cur, cur]), np.stack([flow, flow]))
    assert counts[0] == counts[1] == valid.sum() and sums[0] == pytest.approx(sums[1])


def test_static_video_has_no_warping_error():
    f = texture(32, seed=9)
    assert M.warping_error(f, f, np.zeros((2, 32, 32), np.float32)) == pytest.approx(0.0, abs=1e-6)


def test_bad_inputs():
    a = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ValueError):
        M.psnr(a, np.zeros((16, 17, 3), np.uint8))
    with pytest.raises(ValueError):
        M.l1(a.astype(np.float32), a)
    with pytest.raises(ValueError):
        M.ssim(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8))
