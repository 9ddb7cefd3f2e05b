import dataclasses
import math
import subprocess
import sys

import pytest
import torch

from internet_cli.config import LossConfig
from internet_cli.losses.ownership import ownership_loss
from internet_cli.training.objective import GeneratorObjective
from tests.losses.objective_setup import ALL_OFF, tiny_model_and_batch

S = 32
VAR = 0.01


def _weights(share_of_anchor_2: float) -> torch.Tensor:
    """Background + 2 anchors: anchor 1 owns everything but ``share_of_anchor_2`` of each pixel."""
    w = torch.zeros(1, 3, S, S)
    w[:, 1] = 1.0 - share_of_anchor_2
    w[:, 2] = share_of_anchor_2
    return w


def test_anchors_at_or_above_the_floor_cost_nothing_and_a_dead_one_costs_its_log_shortfall():
    kp = torch.tensor([[[-0.5, 0.0], [0.5, 0.0]]])
    assert ownership_loss(_weights(0.5), kp, VAR, floor=0.25).item() == 0.0
    # Anchor 2 owns 1% where the floor asks 25%: log(0.25 / 0.01), averaged over the 2 anchors.
    loss = ownership_loss(_weights(0.01), kp, VAR, floor=0.25).item()
    assert loss == pytest.approx(math.log(25) / 2, rel=1e-3)


def test_only_the_share_at_the_anchor_counts():
    """Anchor 2 owns the left half only: alive when it sits there, dead when it sits right."""
    w = _weights(0.0)
    w[:, 2, :, : S // 2], w[:, 1, :, : S // 2] = 1.0, 0.0
    left = torch.tensor([[[0.5, 0.0], [-0.6, 0.0]]])
    right = torch.tensor([[[0.5, 0.0], [0.6, 0.0]]])
    assert ownership_loss(w, left, VAR, 0.25).item() == 0.0
    assert ownership_loss(w, right, VAR, 0.25).item() > 4.0


def test_the_gradient_revives_a_dead_anchor_and_never_moves_the_anchors():
    logits = torch.zeros(1, 3, S, S)
    logits[:, 2] = -8.0  # anchor 2 is dead: softmax weight ~3e-4 everywhere
    logits.requires_grad_(True)
    kp = torch.tensor([[[-0.5, 0.0], [0.5, 0.0]]], requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.5)
    for _ in range(40):
        opt.zero_grad()
        ownership_loss(torch.softmax(logits, 1), kp, VAR, 0.25).backward()
        assert kp.grad is None
        opt.step()
    assert ownership_loss(torch.softmax(logits, 1), kp, VAR, 0.25).item() < 0.05


def test_objective_adds_the_term_only_when_weighted():
    model, batch = tiny_model_and_batch()
    losses, _ = GeneratorObjective(model, None, None, ALL_OFF)(batch)
    assert "ownership" not in losses
    on = dataclasses.replace(ALL_OFF, ownership=10.0, ownership_floor=0.9)  # a floor no fresh model meets
    losses, _ = GeneratorObjective(model, None, None, on)(batch)
    assert set(losses) == {"ownership"} and losses["ownership"] > 0
    losses["ownership"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.dense_motion.weights.parameters())


@pytest.mark.parametrize("floor", [0.0, 1.0, -0.5])
def test_a_floor_outside_0_1_is_refused(floor):
    with pytest.raises(ValueError, match="ownership_floor"):
        LossConfig(ownership_floor=floor)


def test_bad_floor_on_the_command_line_gets_one_line_and_exit_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "internet_cli", "train", "--data", str(tmp_path), "--preset", "lite-512",
                        "--run-dir", str(tmp_path / "run"), "--loss", "ownership_floor=1.5"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "ownership_floor must be in (0, 1)" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "run").exists()
