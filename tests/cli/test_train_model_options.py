"""`internet train --part-prior` and `--pass-through`: bad values are usage errors before any work."""

from __future__ import annotations

from tests.cli.test_train_precision import run_train


def test_an_unknown_pass_through_is_a_usage_error(tmp_path):
    r = run_train(tmp_path, "--pass-through", "sometimes")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "generator.pass_through must be one of ungated, gated, none" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_part_prior_on_learned_anchors_is_a_usage_error(tmp_path):
    r = run_train(tmp_path, "--part-prior", "4")  # the tiny preset has learned anchors
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "part_prior must be 0, or > 0 with anchors='pose'" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_help_offers_the_perceptual_backbones(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # rich wraps the help to the terminal's width
    r = run_train(tmp_path, "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "--perceptual-backbone" in text and "efficientnet-lite0 (ImageNet weights" in text and "vgg19 (the paper's" in text


def test_an_unknown_perceptual_backbone_is_a_usage_error(tmp_path):
    r = run_train(tmp_path, "--perceptual-backbone", "resnet50")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "perceptual backbone must be one of vgg19, efficientnet-lite0" in r.stderr
    r = run_train(tmp_path, "--perceptual-backbone", "efficientnet-lite0", "--vgg-weights", "vgg19.pth")
    assert r.returncode == 2 and "--vgg-weights is for the vgg19 backbone" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_scales_with_weights_and_unknown_scales_are_usage_errors(tmp_path, tiny512_weights):
    r = run_train(tmp_path, "--scales", "double")
    assert r.returncode == 2 and "generator.scales must be one of multi, single" in r.stderr
    r = run_train(tmp_path, "--scales", "single", "-w", str(tiny512_weights))
    assert r.returncode == 2 and "--scales changes the decoder's layers" in r.stderr
    assert "Traceback" not in r.stderr and list(tmp_path.iterdir()) == []
