import math

import pytest
import torch

from internet_cli.motion.geometry import (
    backwarp,
    blend_warps,
    gaussian_heatmaps,
    inverse_2x2,
    make_coordinate_grid,
    resize_field,
    soft_argmax,
    warp,
)


def test_inverse_2x2_matches_linalg_inv():
    torch.manual_seed(0)
    m = torch.randn(64, 7, 2, 2) + 2 * torch.eye(2)
    assert torch.allclose(inverse_2x2(m), torch.linalg.inv(m), atol=1e-4, rtol=1e-4)


def test_inverse_2x2_singular_is_finite():
    inv = inverse_2x2(torch.zeros(3, 2, 2))
    assert torch.isfinite(inv).all()


def test_coordinate_grid_corners_are_pixel_centres():
    g = make_coordinate_grid(5, 3)
    assert g.shape == (5, 3, 2)
    assert g[0, 0].tolist() == [-1.0, -1.0]
    assert g[-1, -1].tolist() == [1.0, 1.0]
    assert g[2, 1].tolist() == [0.0, 0.0]  # x varies along width, y along height
    assert g[0, 2, 0] == 1.0 and g[4, 0, 1] == 1.0


def test_identity_warp_is_exact():
    x = torch.rand(2, 3, 9, 11)
    grid = make_coordinate_grid(9, 11).expand(2, 9, 11, 2)
    assert torch.allclose(warp(x, grid), x, atol=1e-6)


def test_soft_argmax_of_known_heatmap():
    h = torch.full((1, 2, 8, 8), -1e4)
    h[0, 0, 2, 5] = 0.0  # one-hot at row 2, column 5
    h[0, 1, 0, 0] = 0.0
    h[0, 1, 7, 7] = 0.0  # two equal peaks: the mean of the corners
    coords, probs = soft_argmax(h)
    assert torch.allclose(coords[0, 0], torch.tensor([2 * 5 / 7 - 1, 2 * 2 / 7 - 1]), atol=1e-6)
    assert torch.allclose(coords[0, 1], torch.zeros(2), atol=1e-6)
    assert torch.allclose(probs.sum(dim=(2, 3)), torch.ones(1, 2))


def test_gaussian_heatmap_peaks_at_anchor():
    kp = torch.tensor([[[0.0, 0.0], [1.0, -1.0]]])
    g = gaussian_heatmaps(kp, 9, 9, 0.01)
    assert g[0, 0, 4, 4] == pytest.approx(1.0)
    assert g[0, 1, 0, 8] == pytest.approx(1.0)
    assert g[0, 0, 0, 0] < 1e-6


def test_upsampled_affine_field_stays_exact():
    """Bilinear 2x upsampling of an affine field (the Stage I pyramid) is exact."""
    a = torch.tensor([[0.9, 0.2], [-0.1, 1.1]])
    t = torch.tensor([0.05, -0.1])
    grid = make_coordinate_grid(16, 16)
    field = (grid @ a.T + t).unsqueeze(0)
    up = resize_field(field, 32, 32)
    expected = (make_coordinate_grid(32, 32) @ a.T + t).unsqueeze(0)
    assert torch.allclose(up, expected, atol=1e-5)


def test_backwarp_integer_shift():
    img = torch.rand(1, 3, 10, 12)
    flow = torch.zeros(1, 2, 10, 12)
    flow[:, 0] = 2.0  # read two pixels to the right
    out = backwarp(img, flow)
    assert torch.allclose(out[..., :, :-2], img[..., :, 2:], atol=1e-5)
    assert math.isclose(out[..., :, -1].abs().max().item(), 0.0, abs_tol=1e-6)  # outside: zeros


def _shift(h: int, w: int, dx: float) -> torch.Tensor:
    """A sampling grid ``(1, h, w, 2)`` that reads ``dx`` (normalised units) to the right."""
    g = make_coordinate_grid(h, w).clone()
    g[..., 0] += dx
    return g[None]


def test_blend_warps_of_one_transform_is_its_warp():
    x = torch.rand(1, 3, 16, 16)
    transforms = torch.stack([_shift(8, 8, 0.25), _shift(8, 8, -0.5)], dim=1)  # (1, 2, 8, 8, 2)
    weights = torch.zeros(1, 2, 8, 8)
    weights[:, 1] = 1.0
    assert torch.allclose(blend_warps(x, transforms, weights), warp(x, transforms[:, 1]), atol=1e-6)


def test_where_two_parts_meet_blend_warps_cross_fades_their_pixels_not_what_lies_between():
    """A grey image with one bright column between the source points of two transforms: the warp by
    the averaged field samples the column (a streak where the parts meet), the blend does not."""
    x = torch.full((1, 1, 9, 9), 0.2)
    x[..., 4] = 1.0  # the bright column at x = 0
    transforms = torch.stack([_shift(9, 9, -0.5), _shift(9, 9, 0.5)], dim=1)
    weights = torch.full((1, 2, 9, 9), 0.5)
    field = (weights.unsqueeze(-1) * transforms).sum(dim=1)
    assert warp(x, field)[0, 0, 4, 4] == pytest.approx(1.0)
    blended = blend_warps(x, transforms, weights)
    assert blended[0, 0, 4, 4] == pytest.approx(0.2)


def test_blend_warps_does_not_jump_where_the_second_and_third_weights_swap():
    """Only two warps a pixel: a swap of the runners-up (a tie, a rounding) must not change the output."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, 16, 16)
    transforms = torch.stack([_shift(8, 8, d) for d in (0.0, 0.3, -0.4)], dim=1)
    outs = []
    for eps in (1e-4, -1e-4):
        weights = torch.empty(1, 3, 8, 8)
        weights[:, 0], weights[:, 1], weights[:, 2] = 0.5, 0.25 + eps, 0.25 - eps
        outs.append(blend_warps(x, transforms, weights))
    assert (outs[0] - outs[1]).abs().max() < 1e-2
    assert torch.allclose(outs[0], warp(x, transforms[:, 0]), atol=1e-2)  # w1 - w3 against w2 - w3 ~ 0
