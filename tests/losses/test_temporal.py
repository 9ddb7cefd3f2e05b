import pytest
import torch

from internet_cli.losses.temporal import (
    extrinsic_confidence,
    resize_flow,
    temporal_loss,
    valid_mask,
)

H, W = 24, 32
DX, DY = 2, 1


def _constant_flow(dx, dy, b=1, h=H, w=W):
    flow = torch.zeros(b, 2, h, w)
    flow[:, 0], flow[:, 1] = dx, dy
    return flow


def _pair():
    """I_{t-1}, and O_t = I_{t-1} moved by (DX, DY) px: O_t(p + f) = I_{t-1}(p) for f = (DX, DY)."""
    torch.manual_seed(0)
    prev = torch.rand(2, 3, H, W)
    output = torch.roll(prev, shifts=(DY, DX), dims=(2, 3))
    return prev, output, _constant_flow(DX, DY, b=2)


def test_valid_mask_of_integer_translation():
    valid = valid_mask(_constant_flow(DX, DY))
    expected = torch.zeros(1, 1, H, W)
    expected[..., : H - DY, : W - DX] = 1
    assert torch.equal(valid, expected)


@pytest.mark.parametrize("mode", ["plain", "extrinsic", "intrinsic"])
def test_exact_warp_gives_zero(mode):
    prev, output, flow = _pair()
    conf = torch.rand(2, 1, H // 2, W // 2)
    loss = temporal_loss(mode, output, prev, flow, confidence=conf, flow_back=-flow)
    assert loss.item() < 1e-6
    # ... and the same output without the motion is penalised: the check is not vacuous.
    wrong = temporal_loss(mode, prev, prev, flow, confidence=torch.ones(2, 1, H, W), flow_back=-flow)
    assert wrong.item() > 0.1


def test_none_mode_computes_nothing():
    output = torch.rand(1, 3, 8, 8, requires_grad=True)
    loss = temporal_loss("none", output, None, None)
    assert loss.item() == 0.0 and loss.grad_fn is None
    with pytest.raises(ValueError):
        temporal_loss("bogus", output, output, torch.zeros(1, 2, 8, 8))


def test_intrinsic_formula_and_confidence_backwarp():
    torch.manual_seed(1)
    prev, output = torch.rand(1, 3, H, W), torch.rand(1, 3, H, W)
    conf = torch.zeros(1, 1, H, W)
    conf[..., 20:] = 1.0  # confident on frame t's columns >= 20
    flow = _constant_flow(2, 0)
    loss = temporal_loss("intrinsic", output, prev, flow, confidence=conf)
    # On frame t-1's grid: warped(p) = O_t(p + 2), M(p) = M_t(p + 2) -> 1 for columns 18..29.
    warped = torch.zeros_like(output)
    warped[..., : W - 2] = output[..., 2:]
    err = (warped - prev).abs()[..., 18 : W - 2].sum()
    expected = err / (3 * H * (W - 2))  # L1 mean over channels and valid pixels
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_intrinsic_gradient_reaches_confidence():
    prev, output, flow = _pair()
    output = (output + 0.1 * torch.rand_like(output)).requires_grad_(True)
    conf = torch.full((2, 1, H // 4, W // 4), 0.7, requires_grad=True)  # low-res M_t
    loss = temporal_loss("intrinsic", output, prev, flow, confidence=conf)
    loss.backward()
    assert conf.grad is not None and conf.grad.abs().sum() > 0
    assert (conf.grad >= 0).all()  # more confidence, more penalised error
    assert output.grad is not None and output.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        temporal_loss("intrinsic", output, prev, flow)


def test_extrinsic_gradient_only_into_output():
    prev, output, flow = _pair()
    output = (output + 0.1 * torch.rand_like(output)).requires_grad_(True)
    conf = torch.full((2, 1, H, W), 0.7, requires_grad=True)
    flow = flow.clone().requires_grad_(True)
    loss = temporal_loss("extrinsic", output, prev, flow, confidence=conf, flow_back=-flow.detach())
    loss.backward()
    assert conf.grad is None
    assert flow.grad is None
    assert output.grad is not None and output.grad.abs().sum() > 0
    mask = extrinsic_confidence(flow, -flow.detach())
    assert not mask.requires_grad


def test_extrinsic_marks_occlusions():
    h, w = 12, 16
    flow = _constant_flow(2, 0, h=h, w=w)
    back = _constant_flow(-2, 0, h=h, w=w)
    back[..., 8:12] = 0.0  # frame t's columns 8..11: the backward flow disagrees (occluded)
    mask = extrinsic_confidence(flow, back)
    expected = torch.ones(1, 1, h, w)
    expected[..., 6:10] = 0.0  # p + 2 lands in columns 8..11
    valid = valid_mask(flow).bool()
    assert torch.equal(mask[valid], expected[valid])
    # without the backward flow only motion boundaries count: a constant flow has none
    assert torch.equal(extrinsic_confidence(flow), torch.ones(1, 1, h, w))


def test_extrinsic_marks_motion_boundaries():
    h, w = 10, 16
    flow = torch.zeros(1, 2, h, w)
    flow[:, 0, :, 8:] = 3.0
    mask = extrinsic_confidence(flow)
    expected = torch.ones(1, 1, h, w)
    expected[..., 7:9] = 0.0  # central differences of the step
    assert torch.equal(mask, expected)


def test_resize_flow_keeps_affine_motion():
    h, w = 9, 13
    xs = torch.arange(w, dtype=torch.float32).view(1, w).expand(h, w)
    ys = torch.arange(h, dtype=torch.float32).view(h, 1).expand(h, w)
    flow = torch.stack([0.1 * xs + 1.0, -0.05 * ys]).unsqueeze(0)  # zoom-like pixel flow
    big = resize_flow(flow, 2 * h - 1, 2 * w - 1)  # every pixel centre maps to a half-pixel
    xb = torch.arange(2 * w - 1, dtype=torch.float32).view(1, -1)
    yb = torch.arange(2 * h - 1, dtype=torch.float32).view(-1, 1)
    assert torch.allclose(big[0, 0], (0.1 * xb + 2.0).expand(2 * h - 1, -1), atol=1e-5)
    assert torch.allclose(big[0, 1], (-0.05 * yb).expand(-1, 2 * w - 1), atol=1e-5)


def test_low_resolution_flow_is_rescaled():
    prev, output, flow = _pair()
    # A flow of (1, 0.5) px on a (H/2, W/2) grid whose corners align with the full one.
    small = _constant_flow(DX * (W // 2 - 1) / (W - 1), DY * (H // 2 - 1) / (H - 1), b=2, h=H // 2, w=W // 2)
    loss = temporal_loss("plain", output, prev, small)
    assert loss.item() < 1e-5


def test_the_plain_warp_loss_is_a_training_mode():
    """Row a) of the paper's Table 2 is eq. 2 itself: the objective adds it with M = 1, and `none`
    stays an extra row that adds nothing."""
    import dataclasses

    from internet_cli.training.objective import GeneratorObjective
    from tests.losses.objective_setup import ALL_OFF, tiny_model_and_batch

    model, batch = tiny_model_and_batch()
    size = model.config.image_size
    batch.update(previous=torch.rand(2, 3, size, size), flow=torch.zeros(2, 2, size, size))
    plain = dataclasses.replace(ALL_OFF, temporal=1.0, temporal_mode="plain")
    losses, out = GeneratorObjective(model, None, None, plain)(batch)
    pred, prev, flow = out["prediction"], batch["previous"], batch["flow"]
    assert losses["temporal"].item() > 0
    assert torch.allclose(losses["temporal"], temporal_loss("plain", pred, prev, flow))
    intrinsic = temporal_loss("intrinsic", pred, prev, flow, confidence=out["confidence"])
    assert not torch.allclose(losses["temporal"], intrinsic)  # M is not involved
    assert "temporal" not in GeneratorObjective(model, None, None, dataclasses.replace(plain, temporal_mode="none"))(batch)[0]
