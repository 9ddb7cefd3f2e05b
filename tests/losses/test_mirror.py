import dataclasses
import subprocess
import sys

import pytest
import torch

from internet_cli.config import preset
from internet_cli.losses.mirror import mirror_loss, mirror_pairs
from internet_cli.model import INTERnet
from internet_cli.motion.geometry import make_coordinate_grid
from internet_cli.training.objective import GeneratorObjective
from tests.losses.objective_setup import ALL_OFF, tiny_model_and_batch

S = 48
SHEAR = 0.3


def _two_blobs(left: tuple[float, float], right: tuple[float, float]) -> torch.Tensor:
    g = make_coordinate_grid(S, S)
    img = sum(torch.exp(-((g[..., 0] - x) ** 2 + (g[..., 1] - y) ** 2) / 0.01) for x, y in (left, right))
    return img.expand(1, 3, S, S).clone()


def _centroid(img: torch.Tensor, half: str) -> torch.Tensor:
    g = make_coordinate_grid(S, S)
    w = img[0, 0] * ((g[..., 0] < 0) if half == "left" else (g[..., 0] > 0))
    return (w.unsqueeze(-1) * g).sum((0, 1)) / w.sum()


def _detector(student_half: str):
    """Anchor 0 (teacher): the blob in the left half, affine sheared along x. Anchor 1 (student):
    the blob in ``student_half``, affine sheared the other way (the mirror image of the teacher's)."""
    def detect(img: torch.Tensor):
        kp = torch.stack([_centroid(img, "left"), _centroid(img, student_half)]).unsqueeze(0)
        jac = torch.tensor([[[1.0, SHEAR], [0.0, 1.0]], [[1.0, -SHEAR], [0.0, 1.0]]]).unsqueeze(0)
        return kp, jac
    return detect


def test_a_true_mirror_pair_scores_zero_and_a_duplicate_scores_its_offset():
    img = _two_blobs((-0.5, 0.2), (0.4, -0.1))
    mirrored = _detector("right")
    kp, jac = mirrored(img)
    assert mirror_loss(mirrored, img, kp, jac, [(0, 1)]).item() < 1e-4

    # A student that copies the teacher (the left blob) is off by the two blobs' mirror distance.
    duplicate = _detector("left")
    kp, jac = duplicate(img)
    expected = (abs(-0.4 - 0.5) + abs(-0.1 - 0.2)) / 2
    assert mirror_loss(duplicate, img, kp, jac, [(0, 1)]).item() == pytest.approx(expected, abs=2e-3)


def test_only_the_student_is_trained():
    torch.manual_seed(0)
    model = INTERnet(preset("tiny"))
    img = torch.rand(2, 3, 64, 64)
    kp, jac = model.detector(img)
    kp.retain_grad(), jac.retain_grad()
    mirror_loss(model.detector, img, kp, jac, [(0, 3)]).backward()
    assert kp.grad is None and jac.grad is None  # the teacher's side is a fixed target
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.detector.parameters())


def test_a_few_steps_move_the_student_onto_the_mirror_of_the_teacher():
    """The teacher says anchor 1 is at the left blob; the student 3 learns to find it, mirrored."""
    torch.manual_seed(0)
    model = INTERnet(preset("tiny"))
    img = _two_blobs((-0.5, 0.2), (0.4, -0.1))
    kp = torch.zeros(1, 4, 2)
    kp[0, 1] = torch.tensor([-0.5, 0.2])
    jac = torch.eye(2).expand(1, 4, 2, 2)
    opt = torch.optim.Adam(model.detector.parameters(), lr=3e-3)

    def student_error() -> float:
        return (model.detector(torch.flip(img, dims=[-1]))[0][0, 3] - torch.tensor([0.5, 0.2])).norm().item()

    before = student_error()
    for _ in range(60):
        opt.zero_grad()
        mirror_loss(model.detector, img, kp, jac, [(1, 3)]).backward()
        opt.step()
    assert before > 0.3 and student_error() < 0.1


def test_pairs_are_checked():
    assert mirror_pairs(10.0, (1, 8, 2, 6), 10) == [(1, 8), (2, 6)]
    assert mirror_pairs(0.0, (), 10) == []
    for bad, message in [((1,), "two by two"), ((1, 10), "0..9"), ((3, 3), "two different"),
                         ((1, 8, 2, 8), "one mirror pair"), ((), "no mirror pairs")]:
        with pytest.raises(ValueError, match=message):
            mirror_pairs(10.0, bad, 10)


def test_objective_adds_the_term_only_when_weighted():
    model, batch = tiny_model_and_batch()
    off = dataclasses.replace(ALL_OFF, mirror_pairs=(0, 1))
    losses, _ = GeneratorObjective(model, None, None, off)(batch)
    assert "mirror" not in losses
    losses, _ = GeneratorObjective(model, None, None, dataclasses.replace(off, mirror=10.0))(batch)
    assert set(losses) == {"mirror"} and losses["mirror"] > 0
    losses["mirror"].backward()
    assert not any(p.grad is not None for n, p in model.named_parameters() if not n.startswith("detector."))


@pytest.mark.parametrize("args, message", [(["--mirror", "1-8"], "TEACHER:STUDENT"),
                                           (["--mirror", "1:99"], "0..9"),
                                           (["--loss", "mirror=10"], "no mirror pairs")])
def test_bad_mirror_options_get_one_line_and_exit_2(tmp_path, args, message):
    r = subprocess.run([sys.executable, "-m", "internet_cli", "train", "--data", str(tmp_path), "--preset", "lite-512",
                        "--run-dir", str(tmp_path / "run"), *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "run").exists()
