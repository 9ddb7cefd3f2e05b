"""Stage I on the synthetic ground truth (internet_cli/eval/stage_one.py): anchor placement and
confidence fit, as `internet evaluate` reports them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from internet_cli.checkpoint import load_weights
from internet_cli.clips.layout import scan_split
from internet_cli.clips.synth import write_dataset
from internet_cli.eval.evaluate import CopySource, EvalOptions, ModelMethod, evaluate
from internet_cli.eval.report import to_markdown
from internet_cli.eval.stage_one import StageOneTruth, roc_auc
from internet_cli.runtime.animator import TorchAnimator

SIZE, FRAMES = 64, 6


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    write_dataset(root, videos=2, frames=FRAMES, size=SIZE, seed=5, test_fraction=0.5)
    return root


def _truth(data) -> StageOneTruth:
    truth = StageOneTruth(scan_split(data, "test")[0], FRAMES)
    assert truth.available
    return truth


def test_anchor_placement_reads_the_mask_at_the_anchor(data):
    truth = _truth(data)
    ys, xs = np.nonzero(truth.mask[3])
    on = np.array([xs[0], ys[0]]) * 2.0 / (SIZE - 1) - 1.0  # a person pixel, normalised
    anchors = np.array([on, [-1.0, -1.0], [5.0, 0.0]])  # on the body, a background corner, outside
    assert truth.anchors_on_body(3, anchors).tolist() == [1.0, 0.0, 0.0]


def test_confidence_fit_is_the_iou_with_the_body_the_source_shows(data):
    truth = _truth(data)
    body = truth.mask[4] & truth.seen[4]
    assert body.any()
    assert truth.confidence_iou(4, body.astype(np.float32)) == 1.0
    assert truth.confidence_iou(4, np.ones((SIZE // 2, SIZE // 2))) == pytest.approx(body.mean(), abs=1e-9)
    assert truth.confidence_iou(4, np.zeros((SIZE, SIZE))) == 0.0


def test_the_ranking_reads_an_m_that_never_crosses_one_half(data):
    """A saturated M that is still a little higher on the shown body ranks it perfectly, where the
    IoU at 0.5 sees only the body's share of the frame; an M that is the same everywhere says nothing."""
    truth = _truth(data)
    body = truth.mask[4] & truth.seen[4]
    saturated = 0.97 + 0.02 * body.astype(np.float32)
    assert truth.confidence_auc(4, saturated) == 1.0
    assert truth.confidence_iou(4, saturated) == pytest.approx(body.mean(), abs=1e-9)
    assert truth.confidence_auc(4, 0.3 - 0.2 * body.astype(np.float32)) == 0.0  # collapsed and inverted
    assert truth.confidence_auc(4, np.full((SIZE, SIZE), 0.4, np.float32)) == 0.5


def test_roc_auc_counts_pairs_and_ties_half():
    scores = np.array([0.1, 0.4, 0.4, 0.8])
    positive = np.array([False, True, False, True])
    # pairs (positive, negative): (0.4, 0.1) 1, (0.4, 0.4) 1/2, (0.8, 0.1) 1, (0.8, 0.4) 1
    assert roc_auc(scores, positive) == pytest.approx(3.5 / 4)
    assert np.isnan(roc_auc(scores, np.zeros(4, bool)))


class _Probe:
    """A torch-like animator that returns the driving frames, its anchors in a corner and M = 1."""

    backend, size = "torch", SIZE

    def encode_source(self, source):
        return "state"

    def reference(self, state, first_frame, relative, adapt_scale):
        return "ref"

    def animate(self, state, frames, ref, motion=False):
        b = len(frames)
        return frames.copy(), {"anchors": np.full((b, 4, 2), -1.0), "confidence": np.ones((b, 16, 16))}


def test_evaluate_reports_the_stage_one_scores_for_models_that_give_them(data):
    report = evaluate(data, [ModelMethod("model", "probe", _Probe()), CopySource()], SIZE, EvalOptions(batch_size=4))
    truth = _truth(data)
    expected = np.mean([(truth.mask[t] & truth.seen[t]).mean() for t in range(1, FRAMES)])
    model, copy = report["overall"]["model"], report["overall"]["copy-source"]
    assert model["anchors_on_body"] == 0.0
    assert model["confidence_iou"] == pytest.approx(expected, abs=1e-9)
    assert model["confidence_auc"] == 0.5  # M = 1 everywhere
    assert copy["anchors_on_body"] is None and copy["confidence_iou"] is None and copy["confidence_auc"] is None
    assert "## Stage I on the synthetic ground truth" in to_markdown(report)


def test_a_real_model_s_stage_one_is_scored(data, tiny512_weights):
    torch.manual_seed(0)
    method = ModelMethod("model", "tiny", TorchAnimator(load_weights(tiny512_weights), torch.device("cpu")))
    r = evaluate(data, [method], SIZE, EvalOptions(batch_size=4))["overall"]["model"]
    assert 0.0 <= r["anchors_on_body"] <= 1.0 and 0.0 <= r["confidence_iou"] <= 1.0
    assert 0.0 <= r["confidence_auc"] <= 1.0
    assert r["frames"] == FRAMES - 1
