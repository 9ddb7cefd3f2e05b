"""tests/gpu: the CUDA, AMP, NCCL, onnxruntime-CUDA and TensorRT paths, on a machine that has them.

Every test here is marked ``gpu`` and skips with its reason where its hardware or package is
absent (``pytest -ra`` lists the reasons), so the CPU suite collects them and moves on. Run them
with ``pytest -m gpu tests/gpu`` (benchmarks/gpu_check.sh does, after installing what they need).
"""

from __future__ import annotations

import pytest
import torch


def cuda_reason() -> str | None:
    """Why the CUDA tests cannot run here, or None when they can."""
    from internet_cli.devices import cuda_usable

    if not torch.cuda.is_available():
        return f"no usable CUDA GPU (torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'})"
    if not cuda_usable(0):
        return "CUDA is compiled in and a GPU is listed, but a tensor op on it fails"
    return None


def tensorrt_reason() -> str | None:
    reason = cuda_reason()
    if reason:
        return reason
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return "TensorRT is not installed (pip install 'internet-cli[tensorrt]')"
    return None


def ort_cuda_reason() -> str | None:
    from internet_cli.devices import CUDA_PROVIDER, ort_provider_usable

    reason = cuda_reason()
    if reason:
        return reason
    if not ort_provider_usable(CUDA_PROVIDER, 0):
        return "onnxruntime's CUDA provider does not start here (onnxruntime-gpu and its CUDA libraries)"
    return None


def needs(reason: str | None):
    """A skip mark with ``reason``, or no-op mark when there is none."""
    return pytest.mark.skipif(reason is not None, reason=reason or "")
