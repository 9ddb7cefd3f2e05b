"""`internet export --onnx [-w WEIGHTS] [-o DIR] [--fp16] [--opset N] [--tensorrt]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from internet_cli.cli.common import WeightsOption, console


def export(
    onnx: Annotated[bool, typer.Option("--onnx", help="Export ONNX graphs (source encoder, detector, frame).")] = False,
    weights: WeightsOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Folder to write, named NAME.onnx (default: "
                                                "WEIGHTS without its suffix, plus .onnx).", show_default=False)] = None,
    fp16: Annotated[bool, typer.Option("--fp16", help="Run Stage II in float16 inside the graphs (Stage I stays "
                                                      "float32); the parity error is reported.")] = False,
    opset: Annotated[int, typer.Option("--opset", min=16, help="ONNX opset (grid_sample needs 16+).")] = 18,
    tensorrt: Annotated[bool, typer.Option("--tensorrt", help="Also build the TensorRT engines (GRAPH.plan) that "
                                                              "`animate --backend tensorrt` runs (needs TensorRT and "
                                                              "an NVIDIA GPU; build them on the GPU they run on).")] = False,
) -> None:
    """Export weights to ONNX graphs (checked against PyTorch), optionally TensorRT engines.

    The folder can be given to `internet animate -w DIR` (backends onnx and tensorrt)."""
    from internet_cli.checkpoint import DEFAULT_WEIGHTS
    from internet_cli.devices import configure_torch_threads
    from internet_cli.export.onnx import check_export_folder, export_onnx

    if not onnx and not tensorrt:
        raise typer.BadParameter("choose what to export: --onnx (and/or --tensorrt)")
    if tensorrt:  # fail before the (slow) ONNX export when TensorRT cannot run here
        from internet_cli.export.tensorrt import require_tensorrt

        require_tensorrt()
    weights = weights or DEFAULT_WEIGHTS
    folder = output or weights.with_name(weights.stem + (".fp16" if fp16 else "") + ".onnx")
    check_export_folder(folder, weights)  # before the weights are even read
    configure_torch_threads()
    result = export_onnx(weights, folder, fp16=fp16, opset=opset, log=console.print)
    parity = ", ".join(f"{k} {v:.2e}" for k, v in result.parity.items())
    console.print(f"wrote {folder}: {', '.join(result.info['graphs'].values())}, export.json "
                  f"(max abs error vs PyTorch: {parity})")
    if tensorrt:
        from internet_cli.export.tensorrt import build_engines

        for path in build_engines(folder, log=console.print):
            console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
