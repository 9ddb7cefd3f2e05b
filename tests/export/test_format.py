"""The export format module: torch-free, and its graph I/O names agree with the model's."""

import subprocess
import sys

from internet_cli.export.format import STATE_NAMES
from internet_cli.model import SourceState


def test_state_names_are_the_source_state_fields_in_order():
    assert STATE_NAMES == tuple(f for f in SourceState._fields if f != "features")


def test_format_module_does_not_import_torch():
    code = "import sys, internet_cli.export.format; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
