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
    debug = os.environ.get("INTERNET_DEBUG", "") not in ("", "0")
    try:
        app(standalone_mode=False)
    except SystemExit as exc:  # typer.Exit and explicit exits
        raise
    except KeyboardInterrupt:
        print("internet: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the one place that maps errors to exit codes
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            print("internet: aborted", file=sys.stderr)
            sys.exit(130)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if debug:
            raise
        if isinstance(exc, InternetError):
            print(f"internet: error: {_one_line(exc)}", file=sys.stderr)
        elif isinstance(exc, MemoryError):
            print("internet: error: out of memory (try a smaller --batch-size)", file=sys.stderr)
        elif isinstance(exc, OSError):
            print(f"internet: error: {exc.strerror or _one_line(exc)}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        else:
            print(f"internet: internal error: {type(exc).__name__}: {_one_line(exc)} "
                  "(set INTERNET_DEBUG=1 for the traceback)", file=sys.stderr)
        sys.exit(1)
