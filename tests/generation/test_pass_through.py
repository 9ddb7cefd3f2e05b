import dataclasses

import pytest
import torch

from internet_cli.config import GeneratorConfig, ModelConfig, preset
from internet_cli.generation.generator import Decoder


def _decoder(mode: str) -> Decoder:
    torch.manual_seed(0)
    cfg = dataclasses.replace(preset("tiny").generator, pass_through=mode)
    return Decoder(cfg).eval()


def _inputs(cfg: GeneratorConfig, base: int = 8):
    g = torch.Generator().manual_seed(1)
    feats = [torch.rand(1, c, base * 2**i, base * 2**i, generator=g) for i, c in enumerate(cfg.channels)]
    size = base * 2 ** (len(cfg.channels) - 1)
    return feats, torch.rand(1, 3, size, size, generator=g)


@torch.no_grad()
def test_gated_pass_through_shows_the_warped_source_only_where_m_does():
    ungated, gated, none = (_decoder(m) for m in ("ungated", "gated", "none"))
    gated.load_state_dict(ungated.state_dict())
    none.load_state_dict(ungated.state_dict())
    feats, warped = _inputs(preset("tiny").generator)
    ones = torch.ones(1, 1, 8, 8)
    assert torch.allclose(gated(feats, warped, ones), ungated(feats, warped))  # M = 1: as before
    painted = none(feats, warped)
    assert torch.allclose(gated(feats, warped, torch.zeros(1, 1, 8, 8)), painted)  # M = 0: the decoder paints
    assert torch.equal(none(feats, torch.zeros_like(warped)), painted)  # "none" never reads the source
    assert not torch.allclose(ungated(feats, warped), painted)


@torch.no_grad()
def test_a_floor_raises_the_pass_through_weight_and_nothing_else():
    ungated = _decoder("ungated")
    feats, warped = _inputs(preset("tiny").generator)
    plain = ungated(feats, warped)
    assert torch.equal(ungated(feats, warped, floor=torch.zeros(1, 1, 32, 32)), plain)
    assert torch.equal(ungated(feats, warped, floor=torch.ones(1, 1, 32, 32)), warped)  # the source alone
    half = torch.zeros(1, 1, 32, 32)
    half[..., :16] = 1.0
    out = ungated(feats, warped, floor=half)
    assert torch.equal(out[..., :16], warped[..., :16]) and torch.equal(out[..., 16:], plain[..., 16:])


def test_weights_saved_before_the_choice_keep_the_ungated_path():
    data = dataclasses.asdict(ModelConfig())
    data["generator"].pop("pass_through")
    assert ModelConfig.from_dict(data).generator.pass_through == "ungated"
    assert preset("tiny", "pose").generator.pass_through == "gated"


def test_an_unknown_pass_through_is_refused():
    with pytest.raises(ValueError, match="pass_through"):
        GeneratorConfig(pass_through="sometimes")
