"""`internet web`: the local page (internet_cli/web, docs/web.md)."""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from internet_cli.cli.common import DeviceOption, WeightsOption, console, warn


def web(
    host: Annotated[str, typer.Option("--host", help="Address to serve on. The default is this machine only; "
                                      "another address lets anyone who reaches it use the page (docs/web.md).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on.")] = 7860,
    weights: WeightsOption = None,
    device: DeviceOption = "auto",
    backend: Annotated[str, typer.Option("--backend", help="The page's default backend (as animate's --backend).",
                                         envvar="INTERNET_BACKEND")] = "auto",
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", min=0.1, help="Largest upload, each file.")] = 200.0,
    max_seconds: Annotated[float, typer.Option("--max-seconds", min=0.1, help="Longest driving video.")] = 120.0,
    max_disk_mb: Annotated[float, typer.Option("--max-disk-mb", min=1.0, help="Cap of the temporary folder of "
                                               "uploads and results (oldest files go first).")] = 4096.0,
) -> None:
    """Serve a local web page: drop a photo and a driving video, watch and download the result."""
    from internet_cli.errors import InputError
    from internet_cli.runtime.backends import BACKENDS

    if backend not in BACKENDS:
        raise typer.BadParameter(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    folder = Path(tempfile.mkdtemp(prefix="internet-web-"))
    signal.signal(signal.SIGTERM, _terminate)  # a service manager's stop cleans up too
    os.environ["GRADIO_TEMP_DIR"] = str(folder / "uploads")  # before gradio is imported: uploads land here
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        try:
            import gradio  # noqa: F401
        except ImportError:
            raise InputError("internet web needs Gradio: pip install 'internet-cli[web]'") from None
        from internet_cli.devices import configure_torch_threads
        from internet_cli.web.jobs import MB, Limits, Studio
        from internet_cli.web.page import build

        configure_torch_threads()
        studio = Studio(weights, folder, Limits(max_upload_mb, max_seconds, max_disk_mb), device,
                        log=lambda m: console.print(f"web: {m}"))
        if not _loopback(host):
            warn(f"serving on {host}: anyone who can reach it can upload files and run jobs on this machine "
                 "(there is no login); the default, 127.0.0.1, is this machine only")
        console.print(f"web: http://{host}:{port}/ (Ctrl-C stops); uploads and results in {folder}")
        build(studio, backend).launch(server_name=host, server_port=port, max_file_size=int(max_upload_mb * MB),
                                      ssr_mode=False, quiet=True, show_error=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _terminate(*_) -> None:
    """SIGTERM: exit through the clean-up (a second SIGTERM must not interrupt it)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(143)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def register(app: typer.Typer) -> None:
    app.command("web")(web)
