import torch

from internet_cli.config import preset, with_options
from internet_cli.model import INTERnet
from internet_cli.training.trainer import _prior_start


def _with_prior(cfg, p):
    return with_options(cfg, part_prior=p, person_mask=p > 0)


def test_weights_without_the_prior_start_it_from_the_nearest_part():
    old = _with_prior(preset("tiny", "pose"), 0.0)
    new = _with_prior(old, 8.0)
    torch.manual_seed(0)
    state = INTERnet(old).state_dict()
    start = _prior_start(state, old, new)
    model = INTERnet(new)
    model.load_state_dict(start)  # no layers added
    head = model.dense_motion.weights
    assert head.weight.abs().max() == 0 and head.bias.abs().max() == 0
    other = "dense_motion.confidence.weight"
    assert torch.equal(model.state_dict()[other], state[other])
    assert state["dense_motion.weights.weight"].abs().max() > 0  # the input is left alone


def test_weights_with_the_prior_keep_their_head():
    cfg = preset("tiny", "pose")
    state = INTERnet(cfg).state_dict()
    assert _prior_start(state, cfg, cfg) is state
