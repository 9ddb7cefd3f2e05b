import math

import pytest
import torch

from internet_cli.generation.discriminator import MultiScaleDiscriminator
from internet_cli.losses.adversarial import discriminator_loss, feature_matching_loss, generator_loss


def _outputs(*values, feats=None):
    return [(torch.full((2, 1, 3, 3), float(v)), feats or []) for v in values]


@pytest.mark.parametrize("mode", ["bce", "lsgan"])
def test_discriminator_loss_direction(mode):
    good = discriminator_loss(_outputs(4.0, 3.0), _outputs(-4.0, -3.0), mode)  # real high, fake low
    bad = discriminator_loss(_outputs(-4.0, -3.0), _outputs(4.0, 3.0), mode)
    assert good.item() < bad.item()
    if mode == "lsgan":
        assert discriminator_loss(_outputs(1.0), _outputs(0.0), mode).item() == 0.0


def test_bce_values_match_eq8():
    # D = sigmoid(logit); loss = -(log D(I) + log(1 - D(O))) summed over scales.
    real, fake = 0.7, -0.2
    expected = -(math.log(1 / (1 + math.exp(-real))) + math.log(1 - 1 / (1 + math.exp(-fake))))
    loss = discriminator_loss(_outputs(real, real), _outputs(fake, fake), "bce")
    assert loss.item() == pytest.approx(2 * expected, rel=1e-5)
    # at logits 0 every term is log 2
    assert discriminator_loss(_outputs(0.0), _outputs(0.0)).item() == pytest.approx(2 * math.log(2), rel=1e-6)
    g = generator_loss(_outputs(fake, fake), "bce")
    assert g.item() == pytest.approx(-2 * math.log(1 / (1 + math.exp(-fake))), rel=1e-5)


@pytest.mark.parametrize("mode", ["bce", "lsgan"])
def test_generator_loss_pushes_fake_logits_up(mode):
    fake = torch.full((2, 1, 4, 4), -1.0, requires_grad=True)
    loss = generator_loss([(fake, [])], mode)
    loss.backward()
    assert (fake.grad < 0).all()  # gradient descent raises D(fake)
    assert generator_loss(_outputs(3.0), mode).item() < generator_loss(_outputs(-3.0), mode).item()
    # bare logits are accepted too
    assert generator_loss([torch.zeros(1, 1, 2, 2)], "bce").item() == pytest.approx(math.log(2))


def test_bad_mode():
    with pytest.raises(ValueError):
        generator_loss(_outputs(0.0), "wgan")


def test_feature_matching():
    torch.manual_seed(0)
    # eval: spectral norm's power iteration would otherwise update the weights on every call
    disc = MultiScaleDiscriminator(num_scales=2, base_channels=4, num_layers=2).eval()
    real = torch.rand(1, 3, 32, 32, requires_grad=True)
    fake = torch.rand(1, 3, 32, 32, requires_grad=True)
    real_out = disc(real)
    assert feature_matching_loss(real_out, disc(real.detach().clone())).item() == pytest.approx(0.0, abs=1e-7)
    loss = feature_matching_loss(real_out, disc(fake))
    assert loss.item() > 0
    loss.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert real.grad is None  # real features are detached
    # exact value on hand-made features: mean over (scale, layer) of L1 means
    a = [(torch.zeros(1), [torch.zeros(2), torch.zeros(3)])]
    b = [(torch.zeros(1), [torch.ones(2), torch.full((3,), 3.0)])]
    assert feature_matching_loss(a, b).item() == pytest.approx(2.0)
