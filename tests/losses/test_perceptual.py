import cv2
import pytest
import torch
import torch.nn.functional as F

from internet_cli.losses.perceptual import (
    PIX2PIXHD_LAYER_WEIGHTS,
    PerceptualStyleLoss,
    downsample,
    gram_matrix,
    style_distance,
)
from internet_cli.losses.vgg import VGG19Features, random_init_


@pytest.fixture(scope="module")
def vgg():
    return random_init_(VGG19Features()).freeze()


@pytest.fixture(scope="module")
def photo():
    skdata = pytest.importorskip("skimage.data")
    img = cv2.resize(skdata.astronaut()[:320, 96:416], (64, 64), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(img).permute(2, 0, 1).float().div(255).unsqueeze(0)


def _blur(x, k):
    return F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, stride=1)


class CallCounter:
    def __init__(self, module):
        self.calls = 0
        self.handle = module.register_forward_hook(self)

    def __call__(self, *args):
        self.calls += 1


def test_gram_matrix_by_hand():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # C=2, H=1, W=2
    g = gram_matrix(f)
    # sum_hw F_i F_j / (C H W) with CHW = 4
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / 4
    assert torch.allclose(g[0], expected)
    f2 = torch.tensor([[0.0, 0.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # Gram [[0, 0], [0, 6.25]]
    # diff [[1.25, 2.75], [2.75, 0]] -> squared Frobenius 1.5625 + 2 * 7.5625
    assert style_distance(f, f2).item() == pytest.approx(16.6875)
    assert style_distance(f, f).item() == 0.0


def test_downsample_is_area_average():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.allclose(downsample(x, 0.5), F.avg_pool2d(x, 2))
    assert downsample(x, 1.0) is x


def test_identical_images_give_zero(vgg, photo):
    loss = PerceptualStyleLoss(vgg, perceptual_weight=1.0, style_weight=1.0)
    out = loss(photo, photo.clone())
    assert set(out) == {"perceptual", "style"}
    assert out["perceptual"].item() == 0.0
    assert out["style"].item() == 0.0


def test_losses_grow_with_blur(vgg, photo):
    loss = PerceptualStyleLoss(vgg, perceptual_weight=1.0, style_weight=1.0)
    light = loss(_blur(photo, 3), photo)
    heavy = loss(_blur(photo, 7), photo)
    assert 0 < light["perceptual"].item() < heavy["perceptual"].item()
    assert 0 < light["style"].item() < heavy["style"].item()


def test_layer_weights_and_scales(vgg, photo):
    blurred = _blur(photo, 5)
    single = PerceptualStyleLoss(vgg, layer_weights=(1, 0, 0, 0, 0), scales=(1.0,))(blurred, photo)
    feats_p, feats_t = vgg(blurred, 1), vgg(photo, 1)
    assert single["perceptual"].item() == pytest.approx((feats_p[0] - feats_t[0]).abs().mean().item(), rel=1e-5)
    both = PerceptualStyleLoss(vgg, layer_weights=(1, 0, 0, 0, 0), scales=(1.0, 0.5))(blurred, photo)
    half = vgg(downsample(blurred, 0.5), 1)[0] - vgg(downsample(photo, 0.5), 1)[0]
    assert both["perceptual"].item() == pytest.approx(single["perceptual"].item() + half.abs().mean().item(), rel=1e-5)
    pix = PerceptualStyleLoss(vgg, layer_weights=PIX2PIXHD_LAYER_WEIGHTS, perceptual_weight=2.0)(blurred, photo)
    assert pix["perceptual"].item() > 0


def test_gradient_reaches_prediction_only(vgg, photo):
    pred = _blur(photo, 3).requires_grad_(True)
    target = photo.clone().requires_grad_(True)
    out = PerceptualStyleLoss(vgg, style_weight=1.0)(pred, target)
    (out["perceptual"] + out["style"]).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert target.grad is None


def test_zero_weight_skips_work(vgg, photo):
    blurred = _blur(photo, 3)
    counter = CallCounter(vgg)
    try:
        scales = (1.0, 0.5, 0.25)
        out = PerceptualStyleLoss(vgg, perceptual_weight=1.0, style_weight=0.0, scales=scales)(blurred, photo)
        assert set(out) == {"perceptual"} and counter.calls == 2 * len(scales)
        counter.calls = 0
        out = PerceptualStyleLoss(vgg, perceptual_weight=0.0, style_weight=1.0, scales=scales)(blurred, photo)
        assert set(out) == {"style"} and counter.calls == 2  # full resolution only
        counter.calls = 0
        out = PerceptualStyleLoss(vgg, perceptual_weight=0.0, style_weight=0.0)(blurred, photo)
        assert out == {} and counter.calls == 0
        out = PerceptualStyleLoss(vgg, layer_weights=(0,) * 5, style_weight=0.0)(blurred, photo)
        assert out == {} and counter.calls == 0
    finally:
        counter.handle.remove()


def test_small_levels_skip_deep_layers(vgg):
    # 32 px at scale 0.125 is 4 px: relu4_1/relu5_1 cannot run there and are skipped.
    torch.manual_seed(0)
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    out = PerceptualStyleLoss(vgg, style_weight=1.0)(a, b)
    assert torch.isfinite(out["perceptual"]) and out["perceptual"] > 0


def test_bad_config():
    module = VGG19Features()
    with pytest.raises(ValueError):
        PerceptualStyleLoss(module, layer_weights=(1, 1, 1))
    with pytest.raises(ValueError):
        PerceptualStyleLoss(module, scales=(2.0,))
    assert PerceptualStyleLoss(module).uses_style is False  # style is off by default
