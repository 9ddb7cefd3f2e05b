import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

from internet_cli.generation.discriminator import MultiScaleDiscriminator, PatchDiscriminator


def _conv_out(n: int, stride: int) -> int:
    # kernel 4, padding 2
    return (n + 2 * 2 - 4) // stride + 1


def _expected_sizes(n: int, num_layers: int) -> tuple[list[int], int]:
    sizes = []
    for _ in range(num_layers):
        n = _conv_out(n, 2)
        sizes.append(n)
    n = _conv_out(n, 1)
    sizes.append(n)
    return sizes, _conv_out(n, 1)


@pytest.mark.parametrize("norm", ["spectral", "instance", "none"])
def test_shapes_per_scale(norm):
    torch.manual_seed(0)
    disc = MultiScaleDiscriminator(num_scales=3, base_channels=8, max_channels=32, num_layers=3, norm=norm)
    x = torch.rand(2, 3, 64, 48)
    outputs = disc(x)
    assert len(outputs) == 3 == disc.num_scales
    h, w = 64, 48
    for scale, (logits, feats) in enumerate(outputs):
        if scale > 0:  # avg-pool 3x3 stride 2 padding 1
            h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
        sizes_h, logit_h = _expected_sizes(h, 3)
        sizes_w, logit_w = _expected_sizes(w, 3)
        assert logits.shape == (2, 1, logit_h, logit_w)
        assert [f.shape[1] for f in feats] == [8, 16, 32, 32]  # doubling, capped at 32
        assert [tuple(f.shape[2:]) for f in feats] == list(zip(sizes_h, sizes_w))


def test_scales_see_avg_pooled_input():
    torch.manual_seed(0)
    disc = MultiScaleDiscriminator(num_scales=2, base_channels=4, num_layers=2, norm="none")
    x = torch.rand(1, 3, 32, 32)
    logits_1, _ = disc(x)[1]
    direct, _ = disc.discriminators[1](F.avg_pool2d(x, 3, 2, 1, count_include_pad=False))
    assert torch.allclose(logits_1, direct)


def test_spectral_norm_and_tiny_inputs():
    disc = MultiScaleDiscriminator(num_scales=3, base_channels=4, num_layers=2, norm="spectral")
    convs = [m for m in disc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(parametrize.is_parametrized(c, "weight") for c in convs)
    # The coarsest scale of a 16 px crop is 4 px: spectral norm has no minimum map size.
    outputs = disc(torch.rand(1, 3, 16, 16))
    assert all(torch.isfinite(logits).all() for logits, _ in outputs)


def test_gradients_and_bad_config():
    disc = PatchDiscriminator(base_channels=4, num_layers=1)
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    logits, feats = disc(x)
    assert len(feats) == 2
    logits.mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        MultiScaleDiscriminator(norm="batch")
    with pytest.raises(ValueError):
        MultiScaleDiscriminator(num_scales=0)
