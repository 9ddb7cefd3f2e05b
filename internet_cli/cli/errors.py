"""Turn known exceptions into one line on stderr and exit code 1.

Set ``INTERNET_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import os
import sys

from internet_cli.errors import InternetError


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def run_app(app) -> None:
    """Run the typer app; usage errors and Ctrl-C are typer's (exit 2 and 1), ours are mapped here."""
    debug = os.environ.get("INTERNET_DEBUG", "") not in ("", "0")
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print("internet: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the one place that maps errors to exit codes
        if debug:
            raise
        print(f"internet: {describe_error(exc)}", file=sys.stderr)
        sys.exit(1)


def describe_error(exc: Exception) -> str:
    """The one line a user sees for ``exc`` (the CLI prefixes it with ``internet: ``; the web page shows it)."""
    if isinstance(exc, InternetError):
        return f"error: {_one_line(exc)}"
    if isinstance(exc, MemoryError):
        return "error: out of memory (try a smaller --batch-size)"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"error: {exc.strerror or _one_line(exc)}{where}"
    return f"internal error: {type(exc).__name__}: {_one_line(exc)} (set INTERNET_DEBUG=1 for the traceback)"
