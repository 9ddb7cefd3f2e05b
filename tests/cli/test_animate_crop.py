"""`internet animate --crop auto|none` end to end (tiny model, real photo, a video of a real photo moving)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

pytest.importorskip("mediapipe")

from internet_cli.cli.app import app  # noqa: E402
from tests.person_media import person_frames, write_video  # noqa: E402


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    photo = pytest.importorskip("skimage.data").astronaut()
    return write_video(tmp_path_factory.mktemp("walk") / "walk.mp4", person_frames(photo, frames=8))


def test_animate_crop_auto_reports_its_framing(tmp_path, astronaut_jpg, walk, tiny512_weights):
    out = tmp_path / "out.mp4"
    r = CliRunner().invoke(app, ["animate", str(astronaut_jpg), str(walk), "-o", str(out), "-w", str(tiny512_weights),
                                 "--backend", "torch", "--max-frames", "3", "--adapt-scale", "--find-best-frame"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "crop: around the person" in text and "reference: driving frame" in text and "from shoulders/hips" in text
    assert out.is_file()


def test_animate_source_without_person_warns_and_frames_whole(tmp_path, walk, tiny512_weights):
    src = tmp_path / "wall.png"
    Image.fromarray(np.full((300, 200, 3), 140, np.uint8)).save(src)
    out = tmp_path / "out.mp4"
    r = CliRunner().invoke(app, ["animate", str(src), str(walk), "-o", str(out), "-w", str(tiny512_weights),
                                 "--backend", "torch", "--max-frames", "2"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "warning: no person found in" in text and "as --crop none" in text
    r = CliRunner().invoke(app, ["animate", str(src), str(walk), "-o", str(out), "-w", str(tiny512_weights),
                                 "--backend", "torch", "--max-frames", "2", "--crop", "none", "--overwrite"])
    assert r.exit_code == 0 and "no person" not in r.output and "crop:" not in r.output


def test_animate_rejects_an_unknown_crop(tmp_path, astronaut_jpg, walk, tiny512_weights):
    r = CliRunner().invoke(app, ["animate", str(astronaut_jpg), str(walk), "-o", str(tmp_path / "o.mp4"),
                                 "-w", str(tiny512_weights), "--crop", "face"])
    assert r.exit_code != 0 and "--crop" in r.output
