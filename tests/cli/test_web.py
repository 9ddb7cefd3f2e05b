"""`internet web`'s refusals before it serves: a missing Gradio and bad weights are one line each."""

from __future__ import annotations

import os
import subprocess
import sys


def _web(*args, env=None, tmp_path=None):
    return subprocess.run([sys.executable, "-m", "internet_cli", "web", *args], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=120, cwd=tmp_path)


def test_without_gradio_it_names_the_extra_to_install(tmp_path):
    shadow = tmp_path / "shadow" / "gradio"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'gradio'\")\n")
    run = _web(env={"PYTHONPATH": str(shadow.parent)}, tmp_path=tmp_path)
    assert run.returncode == 1
    assert run.stderr.strip() == "internet: error: internet web needs Gradio: pip install 'internet-cli[web]'"


def test_bad_weights_are_refused_in_one_line_before_serving_and_leave_no_folder(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not weights")
    temp = tmp_path / "temp"
    temp.mkdir()
    run = _web("-w", str(bad), env={"TMPDIR": str(temp)}, tmp_path=tmp_path)
    assert run.returncode == 1
    line = run.stderr.strip()
    assert "\n" not in line and line.startswith("internet: error:") and "bad.safetensors" in line, run.stderr
    assert list(temp.iterdir()) == [], "the folder of uploads and results is removed"
