"""The shipped default weights (weights/internet-512.safetensors) and their model card."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import torch
from PIL import Image

from internet_cli.checkpoint import DEFAULT_WEIGHTS, load_weights
from internet_cli.config import preset
from internet_cli.runtime.animator import TorchAnimator

CARD = DEFAULT_WEIGHTS.parent / "README.md"
EXAMPLE_SOURCE = DEFAULT_WEIGHTS.parent.parent / "examples" / "source.png"


def test_the_card_describes_the_shipped_file():
    w = load_weights(DEFAULT_WEIGHTS)
    assert w.trained and w.config == preset("lite-512")
    assert DEFAULT_WEIGHTS.stat().st_size < 60 * 2**20
    card = CARD.read_text(encoding="utf-8")
    assert hashlib.sha256(DEFAULT_WEIGHTS.read_bytes()).hexdigest() in card
    steps = re.search(r"Steps: (\d+)", card)
    assert steps and int(steps.group(1)) == w.info["steps"] + w.info.get("steps_before", 0)


def test_driving_with_the_source_itself_gives_back_the_source():
    """Self-reconstruction of the example source at 512: a trained model returns it almost exactly
    (L1 0.0005 for the shipped weights, 0.0006 for the 22918-step ones before them, 0.0003 for the
    15571-step ones, 0.0004 for the 9081-step ones, 0.0002 for the 4081-step ones, 0.0009 for the
    first shipped ones, 0.0032 after 450 steps); freshly initialised lite-512 weights give 0.019."""
    source = np.asarray(Image.open(EXAMPLE_SOURCE).convert("RGB"))
    animator = TorchAnimator(load_weights(DEFAULT_WEIGHTS), torch.device("cpu"))
    state = animator.encode_source(source)
    out = animator.animate(state, source[None], animator.reference(state, source, relative=True, adapt_scale=False))
    assert out.shape == (1, 512, 512, 3)
    assert np.abs(out[0].astype(np.float64) - source).mean() / 255 < 0.008
