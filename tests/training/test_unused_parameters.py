"""DDP and loss weights that leave parameters without a gradient (issue 21, point 8).

DDP with ``find_unused_parameters=False`` stops at the second step when a parameter gets no
gradient; the trainer searches one forward's graph with ``unused_parameters`` and tells DDP. The
search itself runs here, in one process.
"""

from __future__ import annotations

import dataclasses

import torch

from internet_cli.training.distributed import unused_parameters
from internet_cli.training.objective import GeneratorObjective
from tests.losses.objective_setup import ALL_OFF, tiny_model_and_batch


def _unused(loss_cfg) -> list[str]:
    model, batch = tiny_model_and_batch()
    objective = GeneratorObjective(model, None, None, loss_cfg)
    losses, _ = objective(batch)
    found = unused_parameters(objective, list(losses.values()))
    total = sum(losses.values())
    total.backward()
    no_grad = [n for n, p in objective.named_parameters() if p.grad is None]
    assert found == no_grad  # exactly the parameters a backward leaves without a gradient
    return found


def test_terms_that_never_reach_the_prediction_leave_the_generator_unused():
    unused = _unused(dataclasses.replace(ALL_OFF, warp=1.0, equivariance_value=1.0))
    parts = {name.split(".")[1] for name in unused}
    assert {"encoder", "decoder"} <= parts
    assert "model.dense_motion.confidence.weight" in unused  # M^0 only matters for the prediction
    assert not any(name.startswith("model.detector.") for name in unused)


def test_a_term_on_the_prediction_uses_every_parameter():
    cfg = dataclasses.replace(ALL_OFF, warp=1.0, temporal=1.0, temporal_mode="extrinsic")
    model, batch = tiny_model_and_batch()
    size = model.config.image_size
    batch.update(previous=torch.rand(2, 3, size, size), flow=torch.zeros(2, 2, size, size))
    objective = GeneratorObjective(model, None, None, cfg)
    losses, _ = objective(batch)
    assert unused_parameters(objective, list(losses.values())) == []


def test_frozen_parameters_are_not_reported():
    model, batch = tiny_model_and_batch()
    model.encoder.requires_grad_(False)
    model.decoder.requires_grad_(False)
    model.dense_motion.confidence.requires_grad_(False)
    objective = GeneratorObjective(model, None, None, dataclasses.replace(ALL_OFF, warp=1.0))
    losses, _ = objective(batch)
    assert unused_parameters(objective, list(losses.values())) == []
