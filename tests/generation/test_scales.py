"""`generator.scales`: the paper's multi-scale generator, or its single-scale SS4x ablation."""

import dataclasses

import pytest
import torch

from internet_cli.checkpoint import load_weights, save_weights
from internet_cli.config import GeneratorConfig, ModelConfig, preset, with_options
from internet_cli.generation.generator import Decoder
from internet_cli.model import INTERnet


def _single(name="tiny"):
    return with_options(preset(name), scales="single")


@torch.no_grad()
def test_the_single_scale_decoder_reads_only_the_base_features():
    cfg = _single().generator
    torch.manual_seed(0)
    decoder = Decoder(cfg).eval()
    assert decoder.fuse is None
    g = torch.Generator().manual_seed(1)
    base = torch.rand(1, cfg.channels[0], 8, 8, generator=g)
    warped = torch.rand(1, 3, 8 * 2 ** (len(cfg.channels) - 1), 8 * 2 ** (len(cfg.channels) - 1), generator=g)
    out = decoder([base], warped)
    assert out.shape == warped.shape
    assert not torch.allclose(decoder([base * 0.5], warped), out)  # the base features matter


def test_single_scale_has_fewer_decoder_weights_and_the_multi_scale_layers_are_unchanged():
    multi, single = INTERnet(preset("tiny")), INTERnet(_single())
    keys_m, keys_s = set(multi.state_dict()), set(single.state_dict())
    assert keys_s < keys_m and all(".fuse." in k for k in keys_m - keys_s)


def test_a_single_scale_model_trains_and_round_trips_through_a_weights_file(tmp_path):
    torch.manual_seed(0)
    model = INTERnet(_single())
    size = model.config.image_size
    source, driving = torch.rand(2, 3, size, size), torch.rand(2, 3, size, size)
    out = model(source, driving)["prediction"]
    out.mean().backward()
    assert model.encoder.stem[0][0].weight.grad is not None  # gradients reach the source encoder
    path = save_weights(tmp_path / "ss4x.safetensors", model, trained=False)
    loaded = load_weights(path)
    assert loaded.config.generator.scales == "single"
    again = INTERnet(loaded.config)
    again.load_state_dict(loaded.state_dict)
    with torch.no_grad():
        assert torch.equal(again.eval()(source, driving)["prediction"], model.eval()(source, driving)["prediction"])


def test_weights_saved_before_the_choice_are_multi_scale_and_bad_values_are_refused():
    data = dataclasses.asdict(ModelConfig())
    data["generator"].pop("scales")
    assert ModelConfig.from_dict(data).generator.scales == "multi"
    with pytest.raises(ValueError, match="generator.scales must be one of multi, single"):
        GeneratorConfig(scales="double")
