"""User-facing errors: each one becomes a single line on stderr and exit code 1.

Raise these (never bare exceptions) for problems the user can fix: a bad input
file, a bad option, weights that do not fit. The CLI prints ``str(error)`` and,
when ``INTERNET_DEBUG=1``, the traceback too.
"""


class InternetError(Exception):
    """Base class: a problem with a one-line, actionable explanation."""


class InputError(InternetError):
    """A source image or driving video that cannot be used."""


class OutputError(InternetError):
    """An output path that cannot be written (exists, missing folder, read-only, disk full)."""


class WeightsError(InternetError):
    """A weights file that is missing, corrupt, unsafe or of an incompatible version."""


class BackendError(InternetError):
    """A requested device or inference backend that is not usable here."""
