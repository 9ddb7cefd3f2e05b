"""Batch mode: the jobs file, sharding, one encode per source, resume markers, failures; CLI end to end."""

from __future__ import annotations

import json
import os

import av
import pytest

from internet_cli.errors import InputError, OutputError
from internet_cli.runtime.batch import (
    PairJob,
    is_complete,
    marker_path,
    parse_shard,
    read_jobs,
    run_batch,
    shard,
)
from internet_cli.runtime.pipeline import AnimateOptions
from tests.media import make_image, make_video


class EchoAnimator:
    """Stands in for the model (64x64, returns the driving frames): batch logic at codec speed."""

    backend = "echo"
    size = 64

    def __init__(self):
        self.encodes = 0

    def encode_source(self, source):
        self.encodes += 1
        return source

    def reference(self, state, first, relative, adapt_scale):
        return None

    def animate(self, state, frames, ref):
        return frames


def frame_count(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def write_csv(path, rows, header="source,driving,output"):
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def media(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    make_image(d / "anna.png", size=(48, 64))
    make_image(d / "ben.jpg", size=(64, 40))
    make_video(d / "walk.mp4", frames=3, size=(64, 64))
    make_video(d / "jump.mp4", frames=2, size=(48, 32))
    return d


# ---- the jobs file -------------------------------------------------------------------------
def test_read_jobs_resolves_paths_and_default_names(tmp_path, media):
    csv_path = tmp_path / "in" / "jobs.csv"
    csv_path.write_text("\ufeffSource , Driving,OUTPUT\n"  # BOM, spaces and case in the header
                        "anna.png,walk.mp4,\n\n"
                        f"{media / 'ben.jpg'},jump.mp4,sub/x.mp4\n"
                        "anna.png,jump.mp4\n", encoding="utf-8")
    out = tmp_path / "out"
    jobs = read_jobs(csv_path, out)
    assert [j.row for j in jobs] == [1, 2, 3]
    assert jobs[0] == PairJob(1, media / "anna.png", media / "walk.mp4", out / "anna__walk.mp4")
    assert jobs[1].source == media / "ben.jpg" and jobs[1].output == out / "sub" / "x.mp4"
    assert jobs[2].output == out / "anna__jump.mp4"  # short row: no output cell


@pytest.mark.parametrize("text, match", [
    ("", "empty"),
    ("source,output\na.png,b.mp4\n", "no 'driving' column"),
    ("source,driving\n", "no rows"),
    ("source,driving\na.png,\n", "row 1 has no driving"),
    ("source,driving\na.png,b.mp4\nx/a.png,b.mp4\n", "rows 1 and 2 both write"),
    ("source,driving,output\na.png,b.mp4,o.mp4\nc.png,d.mp4,o.mp4\n", "rows 1 and 2 both write"),
    ("source,driving,output\na.png,b.mp4,o.txt\n", r"row 1: .*o.txt: cannot write a .txt video; end the output name "
                                                  r"with one of .mp4, .mov, .mkv, .webm"),
    ("source,driving,output\na.png,b.mp4,clip\n", "row 1: .*clip: the output name has no extension"),
])
def test_read_jobs_refuses_bad_files(tmp_path, text, match):
    p = tmp_path / "jobs.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=match):
        read_jobs(p, tmp_path / "out")


def test_a_row_whose_output_is_any_rows_input_is_refused(tmp_path, media):
    """Every row's output against every row's source and driving, the jobs file and the weights:
    by path, through a symlink, through a hard link; nothing is touched."""
    (media / "anna.mp4").symlink_to(media / "anna.png")
    os.link(media / "walk.mp4", media / "walk copy.mp4")
    cases = [
        (["anna.png,walk.mp4,", f"ben.jpg,jump.mp4,{media / 'walk.mp4'}"],
         "output of row 2 would write over the driving video of row 1"),
        (["anna.png,walk.mp4,", f"ben.jpg,jump.mp4,{media / 'anna.mp4'}"],  # a symlink to row 1's source
         "output of row 2 would write over the source photo of row 1"),
        ([f"ben.jpg,jump.mp4,{media / 'walk copy.mp4'}", "anna.png,walk.mp4,"],  # a hard link to row 2's driving
         "output of row 1 would write over the driving video of row 2"),
        ([f"ben.jpg,jump.mp4,{media / 'jobs.csv'}"], "output of row 1 would write over the jobs file"),
    ]
    before = {p.name: p.read_bytes() for p in media.iterdir() if p.name != "jobs.csv"}
    for rows, match in cases:
        csv_path = write_csv(media / "jobs.csv", rows)
        with pytest.raises(OutputError, match=match) as info:
            read_jobs(csv_path, tmp_path / "out")
        assert "\n" not in str(info.value)
    weights = media / "w.mp4"
    weights.write_bytes(b"weights")
    with pytest.raises(OutputError, match="output of row 1 would write over the weights"):
        read_jobs(write_csv(media / "jobs.csv", ["ben.jpg,jump.mp4,w.mp4"]), media, weights=weights)
    assert {p.name: p.read_bytes() for p in media.iterdir() if p.name not in ("jobs.csv", "w.mp4")} == before


def test_cli_batch_output_on_another_pairs_source_stops_before_the_first_pair(tmp_path, media, tiny512_weights):
    """Row 2 would write over row 1's source photo (given as a video name through a hard link):
    the whole batch is refused before row 1 starts: exit 1, one line naming both, no output folder."""
    from tests.cli.test_animate import run_cli

    os.link(media / "anna.png", media / "anna.mp4")
    csv_path = write_csv(media / "jobs.csv", ["anna.png,walk.mp4,", f"ben.jpg,jump.mp4,{media / 'anna.mp4'}"])
    photo = (media / "anna.png").read_bytes()
    out = tmp_path / "out"
    r = run_cli("animate", "--jobs", str(csv_path), "--out-dir", str(out), "-w", str(tiny512_weights),
                "--overwrite", "--crop", "none")
    assert r.returncode == 1, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("internet: error")]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert str(media / "anna.mp4") in lines[0] and str(media / "anna.png") in lines[0], lines[0]
    assert "output of row 2 would write over the source photo of row 1" in lines[0]
    assert "done [" not in r.stderr and not out.exists()
    assert (media / "anna.png").read_bytes() == photo and (media / "anna.mp4").read_bytes() == photo


def test_read_jobs_missing_and_binary(tmp_path):
    with pytest.raises(InputError, match="jobs file not found"):
        read_jobs(tmp_path / "nope.csv", tmp_path)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(InputError, match="UTF-8"):
        read_jobs(tmp_path / "bin.csv", tmp_path)


def test_shards_are_disjoint_and_cover_everything():
    jobs = list(range(23))
    for n in (1, 2, 3, 7, 30):
        parts = [shard(jobs, i, n) for i in range(n)]
        assert sorted(x for part in parts for x in part) == jobs
    assert shard(jobs, 1, 4) == [1, 5, 9, 13, 17, 21]
    assert parse_shard("3/8") == (3, 8) and parse_shard(" 0/1 ") == (0, 1)
    for bad in ("8/8", "-1/4", "1/0", "1", "a/b", "1/2/3"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


# ---- running -------------------------------------------------------------------------------
def test_groups_by_source_reports_failures_and_goes_on(tmp_path, media):
    (media / "notes.mp4").write_text("not a video")
    csv_path = write_csv(media / "jobs.csv", [
        "anna.png,walk.mp4,", "ben.jpg,walk.mp4,", "missing.png,walk.mp4,", "anna.png,jump.mp4,",
        "ben.jpg,notes.mp4,", "ben.jpg,jump.mp4,", "missing.png,jump.mp4,",
    ])
    out = tmp_path / "out"
    jobs = read_jobs(csv_path, out)
    animator = EchoAnimator()
    seen = []
    result = run_batch(jobs, animator, AnimateOptions(audio=False), on_result=seen.append)
    assert animator.encodes == 2 and result.sources_encoded == 2  # once per usable source
    # processed grouped by source, in order of first appearance
    assert [r.job.row for r in seen] == [1, 4, 2, 5, 6, 3, 7]
    status = {r.job.row: r.status for r in result.results}
    assert status == {1: "done", 2: "done", 3: "failed", 4: "done", 5: "failed", 6: "done", 7: "failed"}
    msg = {r.job.row: r.message for r in result.results}
    assert "missing.png: image not found" in msg[3] and msg[3] == msg[7]
    assert "notes.mp4" in msg[5] and "\n" not in msg[5]
    assert result.failed == 3
    assert frame_count(out / "anna__walk.mp4") == 3 and frame_count(out / "ben__jump.mp4") == 2
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["anna__walk.mp4", "ben__walk.mp4", "anna__jump.mp4", "ben__jump.mp4",
                            ".anna__walk.mp4.done", ".ben__walk.mp4.done", ".anna__jump.mp4.done",
                            ".ben__jump.mp4.done"])  # nothing for the failures, no temporary files
    record = json.loads(marker_path(out / "anna__walk.mp4").read_text())
    assert record["frames"] == 3


def test_rerun_resumes_and_detects_stale_outputs(tmp_path, media):
    csv_path = write_csv(media / "jobs.csv", ["anna.png,walk.mp4,", "anna.png,jump.mp4,", "ben.jpg,walk.mp4,",
                                              "ben.jpg,jump.mp4,"])
    out = tmp_path / "out"
    jobs = read_jobs(csv_path, out)
    opts = AnimateOptions(audio=False)
    fp = {"weights": "w1"}
    first = run_batch(jobs, EchoAnimator(), opts, fingerprint=fp)
    assert first.count("done") == 4

    animator = EchoAnimator()
    again = run_batch(jobs, animator, opts, fingerprint=fp)
    assert again.count("skipped") == 4 and animator.encodes == 0  # nothing loaded, nothing encoded

    # What makes a row incomplete again: its output gone; an output without its marker (killed
    # between the rename and the marker); an output changed after its marker; a changed input;
    # other settings.
    (out / "anna__walk.mp4").unlink()
    marker_path(out / "anna__jump.mp4").unlink()
    with open(out / "ben__walk.mp4", "ab") as f:
        f.write(b"x")
    st = (media / "jump.mp4").stat()
    os.utime(media / "jump.mp4", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    animator = EchoAnimator()
    third = run_batch(jobs, animator, opts, fingerprint=fp)
    assert [r.status for r in third.results] == ["done", "done", "done", "done"]
    assert animator.encodes == 2
    assert all(is_complete(j, {**fp, "options": _opts_fp(opts)}) for j in jobs)
    fourth = run_batch(jobs, EchoAnimator(), opts, fingerprint={"weights": "w2"})
    assert fourth.count("done") == 4
    fifth = run_batch(jobs, EchoAnimator(), AnimateOptions(audio=False, max_frames=1), fingerprint={"weights": "w2"})
    assert fifth.count("done") == 4 and frame_count(out / "anna__walk.mp4") == 1
    forced = run_batch(jobs, EchoAnimator(), AnimateOptions(audio=False, max_frames=1), fingerprint={"weights": "w2"},
                       force=True)
    assert forced.count("done") == 4


def _opts_fp(opts):
    from internet_cli.runtime.batch import _options_fingerprint

    return _options_fingerprint(opts)


def test_interrupted_batch_keeps_finished_pairs_and_resumes(tmp_path, media):
    csv_path = write_csv(media / "jobs.csv", ["anna.png,walk.mp4,", "anna.png,jump.mp4,", "ben.jpg,walk.mp4,"])
    out = tmp_path / "out"
    jobs = read_jobs(csv_path, out)

    class Interrupting(EchoAnimator):
        calls = 0

        def animate(self, state, frames, ref):
            Interrupting.calls += 1
            if Interrupting.calls == 5:  # the 3rd driving frame of row 2: mid-video
                raise KeyboardInterrupt
            return frames

    with pytest.raises(KeyboardInterrupt):
        run_batch(jobs, Interrupting(), AnimateOptions(audio=False))
    assert sorted(p.name for p in out.iterdir()) == [".anna__walk.mp4.done", "anna__walk.mp4"]
    resumed = run_batch(jobs, EchoAnimator(), AnimateOptions(audio=False))
    assert [r.status for r in resumed.results] == ["skipped", "done", "done"]


def test_cli_batch_end_to_end(tmp_path, tiny512_weights):
    """Real model, real subprocess: non-ASCII and space-containing paths, one bad row, a shard."""
    from tests.cli.test_animate import run_cli

    d = tmp_path / "vidéos d'été"
    d.mkdir()
    make_image(d / "Zoë photo.png", size=(40, 56))
    make_video(d / "tänz 1.mp4", frames=2, size=(48, 48))
    (d / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 40)
    write_csv(d / "jobs.csv", ["Zoë photo.png,tänz 1.mp4,", "Zoë photo.png,broken.mp4,"])
    out = tmp_path / "résultats 1"
    w = str(tiny512_weights)
    r = run_cli("animate", "--jobs", str(d / "jobs.csv"), "--out-dir", str(out), "-w", w, "--backend", "torch",
                "--crop", "none")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    failed = [line for line in r.stderr.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and "broken.mp4" in failed[0], r.stderr
    assert "1 done, 0 skipped (already complete), 1 failed; 1 source(s) encoded" in " ".join(r.stderr.split())
    made = out / "Zoë photo__tänz 1.mp4"
    assert frame_count(made) == 2
    # Rerun only the good row as shard 0/2: it is already complete, exit 0.
    r = run_cli("animate", "--jobs", str(d / "jobs.csv"), "--out-dir", str(out), "-w", w, "--shard", "0/2",
                "--backend", "torch", "--crop", "none")
    assert r.returncode == 0, r.stderr
    assert "0 done, 1 skipped" in " ".join(r.stderr.split())


def cli(*args: str):
    """The CLI in-process (usage errors only: cheap, no model is loaded)."""
    from typer.testing import CliRunner

    from internet_cli.cli.app import app

    r = CliRunner().invoke(app, list(args))
    text = r.output + (getattr(r, "stderr", "") or "") + (str(r.exception) if r.exception else "")
    return r.exit_code, " ".join(text.replace("│", " ").split())


@pytest.mark.parametrize("args, match", [
    (["SRC.png", "DRV.mp4", "--jobs", "J", "--out-dir", "O"], "do not also give SOURCE, DRIVING"),
    (["--jobs", "J", "--out-dir", "O", "-o", "x.mp4"], "do not also give -o"),
    (["--jobs", "J", "--out-dir", "O", "--shard", "2/2"], "0 <= I < N"),
    (["--jobs", "J"], "needs --out-dir"),
    (["--out-dir", "O"], "add --jobs"),
    (["a.png"], "-o OUT.mp4"),
    (["--jobs", "J", "--out-dir", "O", "--backend", "nope"], "unknown backend"),
])
def test_cli_batch_refuses_mixed_or_bad_options(tmp_path, args, match):
    (tmp_path / "jobs.csv").write_text("source,driving\na.png,b.mp4\n")
    args = [{"J": str(tmp_path / "jobs.csv"), "O": str(tmp_path / "o")}.get(a, a) for a in args]
    code, text = cli("animate", *args)
    assert code == (1 if "nope" in args else 2), text
    assert match in text, text
    assert not (tmp_path / "o").exists()


def test_nothing_left_loads_no_model_and_a_bad_model_stops_the_batch(tmp_path, media):
    from internet_cli.errors import WeightsError
    from internet_cli.runtime.batch import BatchAborted, LazyAnimator

    csv_path = write_csv(media / "jobs.csv", ["anna.png,walk.mp4,", "ben.jpg,walk.mp4,"])
    jobs = read_jobs(csv_path, tmp_path / "out")
    opts = AnimateOptions(audio=False)
    run_batch(jobs, EchoAnimator(), opts)
    lazy = LazyAnimator(EchoAnimator)
    assert run_batch(jobs, lazy, opts).count("skipped") == 2 and not lazy.loaded

    calls = []

    def broken():
        calls.append(1)
        raise WeightsError("weights file is truncated or corrupt: w.safetensors")

    with pytest.raises(BatchAborted, match="truncated or corrupt"):
        run_batch(jobs, LazyAnimator(broken), opts, force=True)
    assert calls == [1]  # tried once, not once per pair


def test_cli_sigterm_stops_like_ctrl_c_and_leaves_no_partial_file(tmp_path, media, monkeypatch):
    """Pre-emption of a batch task: finished outputs kept, no temporary file, exit 130; a rerun resumes."""
    import signal
    from types import SimpleNamespace

    from internet_cli.runtime import backends

    class Preempted(EchoAnimator):
        frames = 0

        def animate(self, state, frames, ref):
            Preempted.frames += 1
            if Preempted.frames == 4:  # row 2, second frame: mid-video
                os.kill(os.getpid(), signal.SIGTERM)
            return frames

    monkeypatch.setattr(backends, "resolve_model", lambda w, warn=None: SimpleNamespace(config=SimpleNamespace(name="echo")))
    monkeypatch.setattr(backends, "open_animator", lambda *a, **k: Preempted())
    csv_path = write_csv(media / "jobs.csv", ["anna.png,walk.mp4,", "anna.png,jump.mp4,", "ben.jpg,walk.mp4,"])
    out = tmp_path / "out"
    args = ["animate", "--jobs", str(csv_path), "--out-dir", str(out), "--no-audio"]
    before = signal.getsignal(signal.SIGTERM)
    code, text = cli(*args)
    assert signal.getsignal(signal.SIGTERM) is before  # handler restored
    assert code == 130, text  # as Ctrl-C
    assert "interrupted: finished outputs are kept, the pair in flight was not written" in text
    assert sorted(p.name for p in out.iterdir()) == [".anna__walk.mp4.done", "anna__walk.mp4"]
    monkeypatch.setattr(backends, "open_animator", lambda *a, **k: EchoAnimator())
    code, text = cli(*args)
    assert code == 0, text
    assert "1 skipped" in text and "2 done" in text


def test_crop_auto_frames_each_source_once_and_reports_its_note(tmp_path, media):
    """--crop auto (the CLI default): the source framing is computed once per source, each pair gets
    its own copy; a photo without a person is framed whole, and the pair says so."""
    csv_path = write_csv(media / "jobs.csv", ["anna.png,walk.mp4,", "anna.png,jump.mp4,"])
    result = run_batch(read_jobs(csv_path, tmp_path / "out"), EchoAnimator(), AnimateOptions(audio=False, crop="auto"))
    assert [r.status for r in result.results] == ["done", "done"], [r.message for r in result.results]
    assert all("no person found" in r.message for r in result.results)
    assert frame_count(tmp_path / "out" / "anna__jump.mp4") == 2


def test_pose_mode_finds_the_source_pose_once_per_source(tmp_path, astronaut_jpg, tiny512_pose_weights, monkeypatch):
    import torch

    from internet_cli.checkpoint import load_weights
    from internet_cli.runtime import pose_motion
    from internet_cli.runtime.animator import TorchAnimator

    calls = []
    real = pose_motion.detect_source
    monkeypatch.setattr(pose_motion, "detect_source", lambda image, name="source": calls.append(name) or real(image, name))
    drivers = [make_video(tmp_path / f"d{i}.mp4", frames=3, size=(96, 96)) for i in range(2)]
    jobs = [PairJob(i + 1, astronaut_jpg, d, tmp_path / "out" / f"o{i}.mp4") for i, d in enumerate(drivers)]
    animator = TorchAnimator(load_weights(tiny512_pose_weights), torch.device("cpu"))
    result = run_batch(jobs, animator, AnimateOptions(crop="none"))
    assert [r.status for r in result.results] == ["done", "done"], [r.message for r in result.results]
    assert calls == [str(astronaut_jpg)] and result.sources_encoded == 1
    # the drivers show no person: each row says so, as the single animate warns
    assert all("no person found in 3 of 3 driving frames" in r.message for r in result.results)
