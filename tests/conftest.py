"""Shared fixtures: real media files and tiny weights, made once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")

# Tests must not be slowed by oversubscription on the 2-core CI machine.
os.environ.setdefault("INTERNET_THREADS", "2")
# `animate --backend auto` (the default) exports each new weights file to ONNX once (about a minute):
# the suite's CLI tests run PyTorch unless they ask for a backend (tests/runtime/test_onnx_backend.py).
os.environ.setdefault("INTERNET_BACKEND", "torch")


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Exports go to a temporary cache, never to the user's ~/.cache/internet."""
    if "INTERNET_CACHE_DIR" not in os.environ:
        os.environ["INTERNET_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def tiny512_weights(tmp_path_factory) -> Path:
    """Random weights of the tiny-512 preset (512x512 output, cheap) as a real weights file."""
    import torch

    from internet_cli.checkpoint import save_weights
    from internet_cli.config import preset
    from internet_cli.model import INTERnet

    torch.manual_seed(0)
    return save_weights(tmp_path_factory.mktemp("weights") / "tiny512.safetensors", INTERnet(preset("tiny-512")),
                        trained=False)


@pytest.fixture(scope="session")
def tiny512_pose_weights(tmp_path_factory) -> Path:
    """Random weights of the tiny-512 preset with pose anchors (10 body parts, no detector)."""
    import torch

    from internet_cli.checkpoint import save_weights
    from internet_cli.config import preset
    from internet_cli.model import INTERnet

    torch.manual_seed(0)
    return save_weights(tmp_path_factory.mktemp("weights") / "tiny512-pose.safetensors",
                        INTERnet(preset("tiny-512", anchors="pose")), trained=False)


@pytest.fixture(scope="session")
def astronaut_jpg(tmp_path_factory) -> Path:
    """A real photo of a person (scikit-image's astronaut), as a JPEG file."""
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image

    path = tmp_path_factory.mktemp("photos") / "astronaut.jpg"
    Image.fromarray(skimage_data.astronaut()).save(path, quality=92)
    return path


@pytest.fixture(scope="session")
def real_video() -> Path:
    """A real video from outside the project (OpenCV's sample data, installed by .ci/run)."""
    path = OPENCV_DATA / "vtest.avi"
    if not path.exists():
        pytest.skip("opencv-doc sample videos are not installed (apt-get install opencv-doc)")
    return path


@pytest.fixture(scope="session")
def tiny512_onnx(tiny512_weights, tmp_path_factory) -> Path:
    """``tiny512_weights`` exported with ``internet export --onnx`` (once per session: ~1 min)."""
    from internet_cli.export.onnx import export_onnx

    folder = tmp_path_factory.mktemp("onnx") / "tiny512.onnx"
    export_onnx(tiny512_weights, folder, log=lambda _msg: None)
    return folder


@pytest.fixture(scope="session")
def tiny512_pose_onnx(tiny512_pose_weights, tmp_path_factory) -> Path:
    """``tiny512_pose_weights`` exported to ONNX (two graphs: no detector)."""
    from internet_cli.export.onnx import export_onnx

    folder = tmp_path_factory.mktemp("onnx") / "tiny512-pose.onnx"
    export_onnx(tiny512_pose_weights, folder, log=lambda _msg: None)
    return folder
