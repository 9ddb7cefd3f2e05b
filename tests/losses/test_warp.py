import dataclasses

import torch

from internet_cli.losses.warp import warped_source_loss
from internet_cli.motion.geometry import make_coordinate_grid, resize
from internet_cli.training.objective import GeneratorObjective
from tests.losses.objective_setup import ALL_OFF, tiny_model_and_batch

S = 32


def _blob(cx: float) -> torch.Tensor:
    """A smooth blob centred at ``(cx, 0)`` (normalised coordinates) on black, ``(1, 3, S, S)``
    (black, as the zeros padding of the warp outside the frame)."""
    g = make_coordinate_grid(S, S)
    d2 = (g[..., 0] - cx) ** 2 + g[..., 1] ** 2
    img = torch.exp(-d2 / 0.05)
    return torch.stack([img, 0.5 * img, img**2]).unsqueeze(0)


def _shifted_field(dx: torch.Tensor) -> torch.Tensor:
    """Sampling grid ``p - (dx, 0)``: the source moved right by ``dx``."""
    grid = make_coordinate_grid(S, S).unsqueeze(0)
    return grid - torch.stack([dx, torch.zeros_like(dx)])


def test_identity_motion_on_a_still_frame_is_zero():
    src = _blob(0.0)
    assert warped_source_loss(src, src, _shifted_field(torch.tensor(0.0))).item() < 1e-6


def test_the_true_motion_scores_far_below_no_motion():
    src, drv = _blob(-0.2), _blob(0.2)
    none = warped_source_loss(src, drv, _shifted_field(torch.tensor(0.0)))
    true = warped_source_loss(src, drv, _shifted_field(torch.tensor(0.4)))
    assert true < 0.1 * none


def test_gradient_pulls_the_field_towards_the_motion():
    # The coarse levels see a shift a single bilinear sample at full size would not.
    src, drv = _blob(-0.2), _blob(0.2)
    for start, sign in ((0.1, -1.0), (0.7, 1.0)):
        dx = torch.tensor(start, requires_grad=True)
        warped_source_loss(src, drv, _shifted_field(dx)).backward()
        assert sign * dx.grad.item() > 0, (start, dx.grad)


def test_field_at_base_resolution_compares_downsampled_frames():
    src, drv = _blob(-0.2), _blob(0.2)
    big_src = torch.nn.functional.interpolate(src, scale_factor=4, mode="bilinear", align_corners=True)
    big_drv = torch.nn.functional.interpolate(drv, scale_factor=4, mode="bilinear", align_corners=True)
    for dx in (0.0, 0.4):
        field = _shifted_field(torch.tensor(dx))
        torch.testing.assert_close(warped_source_loss(big_src, big_drv, field),
                                   warped_source_loss(resize(big_src, S), resize(big_drv, S), field))
    assert warped_source_loss(big_src, big_drv, _shifted_field(torch.tensor(0.4))) < 0.1 * warped_source_loss(
        big_src, big_drv, _shifted_field(torch.tensor(0.0)))


def test_objective_adds_the_term_only_when_weighted_and_it_trains_stage_one_alone():
    model, batch = tiny_model_and_batch()
    losses, _ = GeneratorObjective(model, None, None, ALL_OFF)(batch)
    assert "warp" not in losses

    losses, _ = GeneratorObjective(model, None, None, dataclasses.replace(ALL_OFF, warp=5.0))(batch)
    assert set(losses) == {"warp"}
    losses["warp"].backward()
    grads = {name: p.grad is not None and bool(p.grad.abs().sum() > 0) for name, p in model.named_parameters()}
    assert any(v for k, v in grads.items() if k.startswith("detector."))
    assert any(v for k, v in grads.items() if k.startswith("dense_motion."))
    assert not any(v for k, v in grads.items() if k.startswith(("encoder.", "decoder.")))
