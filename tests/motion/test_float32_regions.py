"""Under mixed precision Stage I's geometry, heatmaps and softmaxes stay float32.

CPU autocast to bfloat16 stands in for CUDA's float16 here: it lowers the same matmuls and einsums
(the 2x2 products, the local transforms) and leaves softmax in the low precision of its input, so
every check below fails when a region is not float32.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from internet_cli.config import preset
from internet_cli.losses.equivariance import TPS, _jacobian_error
from internet_cli.model import DrivingReference, INTERnet, SourceState, relative_motion
from internet_cli.motion.anchors import AnchorDetector
from internet_cli.motion.dense import DenseMotion, compose, local_transforms
from internet_cli.motion.geometry import float32, gaussian_heatmaps, inverse_2x2, soft_argmax
from internet_cli.motion.part_shapes import part_distances
from internet_cli.pose.parts import part_frames
from tests.pose.skeletons import standing


def bf16_autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16)


def _affines(b: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.eye(2) + 0.3 * (torch.rand(b, n, 2, 2, generator=g) - 0.5)


def _anchors(b: int, n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, n, 2, generator=g) - 0.5


def test_the_decorator_casts_low_precision_arguments_and_leaves_others():
    @float32
    def probe(a, b, scale=1.0):
        return a.dtype, b.dtype, torch.is_autocast_enabled("cpu"), scale

    half, double = torch.ones(2, dtype=torch.bfloat16), torch.ones(2, dtype=torch.float64)
    with bf16_autocast():
        assert probe(half, double, scale=2.0) == (torch.float32, torch.float64, False, 2.0)
        assert torch.is_autocast_enabled("cpu")  # only switched off inside
    assert probe(half, double) == (torch.bfloat16, torch.float64, False, 1.0)  # no autocast: called as it is


def test_inverse_of_a_near_singular_affine_is_float32_and_finite():
    m = torch.tensor([[[1.0, 1.0], [1.0, 1.0 + 2e-6]]]).to(torch.bfloat16)  # det rounds to 0 in bf16
    m = torch.cat([m, _affines(1, 3).reshape(3, 2, 2).to(torch.bfloat16)])
    want = inverse_2x2(m.float())
    with bf16_autocast():
        got = inverse_2x2(m)
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    assert torch.equal(got, want)
    assert got.abs().max() > 6.6e4  # the clamped inverse is past float16's range: it must stay float32


def test_local_transforms_are_float32_under_autocast():
    kp_s, kp_d, jac_s, jac_d = _anchors(2, 5, 1), _anchors(2, 5, 2), _affines(2, 5, 3), _affines(2, 5, 4)
    want = local_transforms(kp_s, jac_s, kp_d, jac_d, 32, 32)
    with bf16_autocast():
        got = local_transforms(kp_s, jac_s, kp_d, jac_d, 32, 32)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_composition_softmax_and_field_are_float32():
    g = torch.Generator().manual_seed(0)
    logits = (4 * torch.randn(2, 6, 16, 16, generator=g)).to(torch.bfloat16)  # as a bf16 conv gives them
    transforms = local_transforms(_anchors(2, 5), _affines(2, 5), _anchors(2, 5, 2), _affines(2, 5, 3), 16, 16)
    want_w, want_f = compose(logits.float(), transforms, None, 0.0)
    with bf16_autocast():
        weights, field = compose(logits, transforms, None, 0.0)
    assert weights.dtype == field.dtype == torch.float32
    torch.testing.assert_close(weights.sum(1), torch.ones(2, 16, 16), rtol=0, atol=1e-6)
    torch.testing.assert_close(field, want_f, rtol=0, atol=1e-6)
    torch.testing.assert_close(weights, want_w, rtol=0, atol=1e-7)


def test_dense_motion_under_autocast_gives_float32_weights_and_field():
    torch.manual_seed(0)
    motion = DenseMotion(preset("tiny").motion).eval()
    size = preset("tiny").motion.base_size
    source = torch.rand(2, 3, size, size)
    n = preset("tiny").motion.num_anchors
    args = (_anchors(2, n), _affines(2, n), _anchors(2, n, 5), _affines(2, n, 6))
    with torch.no_grad(), bf16_autocast():
        out = motion(source, *args)
    assert out["weights"].dtype == out["field"].dtype == torch.float32
    torch.testing.assert_close(out["weights"].sum(1), torch.ones(2, size, size), rtol=0, atol=1e-6)
    assert torch.isfinite(out["field"]).all()


def test_heatmaps_and_soft_argmax_are_float32():
    kp = _anchors(2, 5).to(torch.bfloat16)
    with bf16_autocast():
        heat = gaussian_heatmaps(kp, 16, 16, 0.01)
        coords, probs = soft_argmax((8 * torch.randn(2, 5, 16, 16)).to(torch.bfloat16))
    assert heat.dtype == coords.dtype == probs.dtype == torch.float32
    torch.testing.assert_close(heat, gaussian_heatmaps(kp.float(), 16, 16, 0.01), rtol=0, atol=0)
    torch.testing.assert_close(probs.sum((2, 3)), torch.ones(2, 5), rtol=0, atol=1e-6)


def test_anchor_detector_gives_float32_anchors_and_affines():
    torch.manual_seed(0)
    detector = AnchorDetector(preset("tiny").motion).eval()
    with torch.no_grad(), bf16_autocast():
        kp, jac = detector(torch.rand(2, 3, 64, 64))
    assert kp.dtype == jac.dtype == torch.float32


def test_part_distances_are_float32_under_autocast():
    kp, jac, _ = part_frames(standing(arm_angle=1.0))
    kp, jac = torch.tensor(kp[None]).float(), torch.tensor(jac[None]).float()
    want = part_distances(kp, jac, 32, 32)
    with bf16_autocast():
        got = part_distances(kp, jac, 32, 32)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_relative_motion_is_float32_under_autocast():
    n = 5
    state = SourceState(None, None, _anchors(1, n), _affines(1, n), ())
    ref = DrivingReference(_anchors(1, n, 3), _affines(1, n, 4), torch.ones(1), torch.full((1,), 1.2))
    kp_d, jac_d = _anchors(3, n, 5), _affines(3, n, 6)
    want = relative_motion(state, kp_d, jac_d, ref)
    with bf16_autocast():
        got = relative_motion(state, kp_d, jac_d, ref)
    for g, w in zip(got, want):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g, w, rtol=0, atol=1e-6)


def test_equivariance_geometry_is_float32_under_autocast():
    tps = TPS(2, sigma_affine=0.05, sigma_tps=0.005, generator=torch.Generator().manual_seed(0))
    kp_t, jac, jac_t = _anchors(2, 5), _affines(2, 5, 1), _affines(2, 5, 2)
    want = (tps.warp_coordinates(kp_t), tps.jacobian(kp_t), _jacobian_error(jac, tps.jacobian(kp_t), jac_t))
    with bf16_autocast():
        got = (tps.warp_coordinates(kp_t), tps.jacobian(kp_t), _jacobian_error(jac, tps.jacobian(kp_t), jac_t))
    for g, w in zip(got, want):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g, w, rtol=0, atol=1e-6)


@pytest.mark.parametrize("anchors", ["learned", "pose"])
def test_a_whole_forward_under_autocast_keeps_stage_one_float32(anchors):
    torch.manual_seed(0)
    model = INTERnet(preset("tiny", anchors=anchors)).eval()
    source, driving = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    pose = None
    if anchors == "pose":
        kp, jac, _ = part_frames(standing(arm_angle=1.0))
        kp, jac = torch.tensor(np.stack([kp] * 2)).float(), torch.tensor(np.stack([jac] * 2)).float()
        pose = {"kp_source": kp, "jac_source": jac, "kp_driving": kp + 0.02, "jac_driving": jac,
                "source_mask": torch.rand(2, 1, 64, 64)}
    with torch.no_grad(), bf16_autocast():
        out = model(source, driving, pose)
    for key in ("field", "weights", "kp_driving", "jac_driving"):
        assert out[key].dtype == torch.float32, key
    assert torch.isfinite(out["prediction"].float()).all()


def test_without_autocast_the_regions_run_as_written():
    """The exported graphs trace these functions without autocast: the wrapper must add nothing."""
    kp_s, kp_d, jac_s, jac_d = _anchors(1, 4), _anchors(1, 4, 2), _affines(1, 4), _affines(1, 4, 3)
    assert torch.equal(local_transforms(kp_s, jac_s, kp_d, jac_d, 8, 8),
                       local_transforms.__wrapped__(kp_s, jac_s, kp_d, jac_d, 8, 8))
