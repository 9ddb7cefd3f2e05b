import pytest
import torch

from internet_cli.losses.equivariance import TPS, equivariance_losses
from internet_cli.motion.geometry import make_coordinate_grid


def _blobs(centres, size=96, sigma=0.08):
    """(B, n, H, W) Gaussian blobs, one channel per anchor, centred on ``centres`` (B, n, 2)."""
    grid = make_coordinate_grid(size, size, dtype=centres.dtype)
    d2 = (grid.view(1, 1, size, size, 2) - centres.view(*centres.shape[:2], 1, 1, 2)).pow(2).sum(-1)
    return torch.exp(-0.5 * d2 / sigma**2)


def moment_detector(image):
    """Equivariant by construction under translation + positive axis scaling: the anchor is the
    intensity centroid of each channel, the jacobian the Cholesky factor of its covariance."""
    b, c, h, w = image.shape
    grid = make_coordinate_grid(h, w, dtype=image.dtype, device=image.device)
    probs = image / image.sum(dim=(2, 3), keepdim=True)
    kp = (probs.unsqueeze(-1) * grid).sum(dim=(2, 3))  # (B, C, 2)
    d = grid.view(1, 1, h, w, 2) - kp.view(b, c, 1, 1, 2)
    cov = (probs[..., None, None] * d.unsqueeze(-1) * d.unsqueeze(-2)).sum(dim=(2, 3))
    return kp, torch.linalg.cholesky(cov) * 10


def constant_detector(image):
    b = image.shape[0]
    kp = torch.tensor([[0.3, -0.2], [-0.4, 0.5]]).expand(b, -1, -1)
    return kp, torch.eye(2).expand(b, 2, 2, 2)


def _image(batch=2):
    centres = torch.tensor([[[0.2, -0.1], [-0.3, 0.25], [0.05, 0.3]]]).repeat(batch, 1, 1)
    return _blobs(centres)


def test_identity_tps():
    tps = TPS(2, sigma_affine=0.0, sigma_tps=0.0)
    coords = torch.rand(2, 7, 2) * 2 - 1
    assert torch.allclose(tps.warp_coordinates(coords), coords, atol=1e-6)
    assert torch.allclose(tps.jacobian(coords), torch.eye(2).expand(2, 7, 2, 2), atol=1e-6)
    image = _image()
    assert torch.allclose(tps.transform_image(image), image, atol=1e-5)
    losses = equivariance_losses(moment_detector, image, tps)
    assert set(losses) == {"equivariance_value", "equivariance_jacobian"}
    assert losses["equivariance_value"].item() < 1e-4
    assert losses["equivariance_jacobian"].item() < 1e-4


def test_scale_translation_is_equivariant_for_moment_detector():
    # A positive diagonal affine (no TPS) keeps Cholesky factors triangular, so both anchors and
    # jacobians of the moment detector are exactly equivariant up to sampling error.
    tps = TPS(2, sigma_affine=0.0, sigma_tps=0.0)
    tps.theta = torch.tensor([[[1.1, 0.0, 0.05], [0.0, 0.9, -0.04]],
                              [[0.92, 0.0, -0.03], [0.0, 1.08, 0.06]]])
    image = _image()
    losses = equivariance_losses(moment_detector, image, tps)
    assert losses["equivariance_value"].item() < 5e-4
    assert losses["equivariance_jacobian"].item() < 1e-2
    # The wrong composition (inverse direction) is clearly worse: the test can tell directions.
    kp, _ = moment_detector(image)
    kp_t, _ = moment_detector(tps.transform_image(image))
    wrong = (kp_t - tps.warp_coordinates(kp)).abs().mean().item()
    assert wrong > 10 * losses["equivariance_value"].item()


def test_random_tps_penalises_non_equivariant_detector():
    tps = TPS(2, sigma_affine=0.05, sigma_tps=0.005, generator=torch.Generator().manual_seed(1))
    losses = equivariance_losses(constant_detector, _image(), tps)
    assert losses["equivariance_value"].item() > 1e-2
    assert losses["equivariance_jacobian"].item() > 1e-2
    # precomputed anchors of the original image are used as given
    kp, jac = constant_detector(_image())
    again = equivariance_losses(constant_detector, _image(), tps, kp=kp, jac=jac)
    assert torch.allclose(again["equivariance_value"], losses["equivariance_value"])


def test_jacobian_matches_autograd():
    tps = TPS(2, sigma_affine=0.1, sigma_tps=0.02, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    coords = torch.rand(2, 6, 2, dtype=torch.float64) * 2 - 1
    coords[0, 0] = tps.control_points[7]  # exactly on a control point (r = 0)
    full = torch.autograd.functional.jacobian(tps.warp_coordinates, coords)  # (B, N, 2, B, N, 2)
    auto = torch.stack([torch.stack([full[b, n, :, b, n, :] for n in range(6)]) for b in range(2)])
    assert torch.allclose(tps.jacobian(coords), auto, atol=1e-10)


def test_transform_image_agrees_with_warp_coordinates():
    # Content at q in the image appears at p with T(p) = q in the transformed image.
    tps = TPS(1, sigma_affine=0.1, sigma_tps=0.02, generator=torch.Generator().manual_seed(7))
    q = torch.tensor([[[0.15, -0.2]]])
    image = _blobs(q, size=128, sigma=0.03)
    moved = tps.transform_image(image)
    p, _ = moment_detector(moved)
    assert (tps.warp_coordinates(p) - q).abs().max().item() < 3e-3
    assert (p - q).abs().max().item() > 0.02  # the transform did move the blob


def test_gradients_flow_into_detector_outputs():
    tps = TPS(1, generator=torch.Generator().manual_seed(0))
    image = _image(1).requires_grad_(True)
    losses = equivariance_losses(moment_detector, image, tps)
    (losses["equivariance_value"] + losses["equivariance_jacobian"]).backward()
    assert image.grad is not None and torch.isfinite(image.grad).all()


def test_bad_coords_shape():
    with pytest.raises(ValueError):
        TPS(2).warp_coordinates(torch.zeros(3, 4, 2))
