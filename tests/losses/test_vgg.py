import warnings

import pytest
import torch
import torch.nn as nn

from internet_cli.errors import InternetError, WeightsError
from internet_cli.losses import vgg as vgg_mod
from internet_cli.losses.vgg import RandomVGGWarning, VGG19Features, load_vgg19, random_init_

# torchvision's vgg19().features: conv indices and their output channels.
TORCHVISION_CONVS = {
    0: 64, 2: 64, 5: 128, 7: 128, 10: 256, 12: 256, 14: 256, 16: 256,
    19: 512, 21: 512, 23: 512, 25: 512, 28: 512, 30: 512, 32: 512, 34: 512,
}
TORCHVISION_POOLS = (4, 9, 18, 27, 36)


@pytest.fixture()
def empty_hub(tmp_path, monkeypatch):
    """Point torch's hub cache at an empty folder so the real cache never matters."""
    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    return hub


def _torchvision_state_dict(seed: int) -> dict:
    module = random_init_(VGG19Features(), seed=seed)
    state = {k: v.clone() for k, v in module.state_dict().items()}
    # A real torchvision file also holds the classifier; it must be ignored.
    state["classifier.0.weight"] = torch.zeros(4096, 25088 // 64)
    state["classifier.0.bias"] = torch.zeros(4096)
    return state


def test_layout_matches_torchvision():
    features = VGG19Features().features
    assert len(features) == 37
    for idx, layer in enumerate(features):
        if idx in TORCHVISION_CONVS:
            assert isinstance(layer, nn.Conv2d) and layer.out_channels == TORCHVISION_CONVS[idx]
            assert layer.kernel_size == (3, 3) and layer.padding == (1, 1)
        elif idx in TORCHVISION_POOLS:
            assert isinstance(layer, nn.MaxPool2d)
        else:
            assert isinstance(layer, nn.ReLU)
    keys = set(VGG19Features().state_dict())
    assert keys == {f"features.{i}.{p}" for i in TORCHVISION_CONVS for p in ("weight", "bias")}


def test_outputs_are_relu_x_1_and_frozen(empty_hub):
    with pytest.warns(RandomVGGWarning):
        module, pretrained = load_vgg19()
    assert pretrained is False
    assert all(not p.requires_grad for p in module.parameters())
    module.train()
    assert module.training is False
    x = torch.rand(1, 3, 32, 48, requires_grad=True)
    feats = module(x)
    assert [tuple(f.shape) for f in feats] == [
        (1, 64, 32, 48), (1, 128, 16, 24), (1, 256, 8, 12), (1, 512, 4, 6), (1, 512, 2, 3)
    ]
    assert all((f >= 0).all() for f in feats)  # after a ReLU
    # relu1_1 by hand: normalise, conv 0, relu.
    conv = module.features[0]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    assert torch.allclose(feats[0], torch.relu(conv((x - mean) / std)), atol=1e-5)
    # Frozen weights, but the gradient reaches the input; truncated forward.
    feats[-1].mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert len(module(x, num_layers=2)) == 2


def test_random_init_is_deterministic_and_warns(empty_hub):
    with pytest.warns(RandomVGGWarning, match="--vgg-weights"):
        a, _ = load_vgg19()
    with pytest.warns(RandomVGGWarning):
        b, _ = load_vgg19()
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    # He init: weight std ~ sqrt(2 / fan_in).
    w = a.features[10].weight
    assert abs(w.std().item() - (2 / (128 * 9)) ** 0.5) < 0.005


def test_torchvision_state_dict_loads(tmp_path, empty_hub):
    state = _torchvision_state_dict(seed=3)
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no random-weights warning
        module, pretrained = load_vgg19(path)
    assert pretrained is True
    for key, value in module.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert all(not p.requires_grad for p in module.parameters())


def test_hub_cache_is_used(empty_hub):
    (empty_hub / "checkpoints").mkdir()
    state = _torchvision_state_dict(seed=5)
    torch.save(state, empty_hub / "checkpoints" / "vgg19-dcbb9e9d.pth")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module, pretrained = load_vgg19(None)
    assert pretrained is True
    assert torch.equal(module.features[0].weight, state["features.0.weight"])


@pytest.mark.parametrize("content", ["garbage", "wrong_keys", "wrong_shape", "missing"])
def test_bad_weights_give_one_line_error(tmp_path, empty_hub, content):
    path = tmp_path / "bad.pth"
    if content == "garbage":
        path.write_bytes(b"this is not a checkpoint\n" * 10)
    elif content == "wrong_keys":
        torch.save({"conv.weight": torch.zeros(3)}, path)
    elif content == "wrong_shape":
        state = _torchvision_state_dict(seed=1)
        state["features.5.weight"] = torch.zeros(128, 32, 3, 3)
        torch.save(state, path)
    with pytest.raises(WeightsError) as info:
        load_vgg19(path)
    assert isinstance(info.value, InternetError)
    message = str(info.value)
    assert message and "\n" not in message
    assert str(path) in message


def test_never_downloads(empty_hub, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("load_vgg19 tried to download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", forbidden)
    monkeypatch.setattr(torch.hub, "download_url_to_file", forbidden)
    with pytest.warns(RandomVGGWarning):
        load_vgg19()
    assert vgg_mod.hub_checkpoint_path().parent.parent == empty_hub
