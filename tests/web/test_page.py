"""`internet web` in a real browser: Playwright driving Debian's chromium against the real server
(the shipped weights, PyTorch on CPU), real uploads, real downloads decoded with PyAV.

Set ``INTERNET_WEB_SCREENSHOT=docs/web.png`` to write the README's screenshot of a finished job.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import av
import pytest

pytest.importorskip("gradio")
playwright = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
DRIVING = ROOT / "examples" / "driving.mp4"  # 3 s with audio
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")


class Server:
    def __init__(self, tmp: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = tmp / "server.log"
        env = dict(os.environ, COLUMNS="250", INTERNET_BACKEND="torch")
        self.proc = subprocess.Popen([sys.executable, "-m", "internet_cli", "web", "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=self.log_path.open("w"), env=env)
        deadline = time.time() + 120
        while not self.answers():
            assert self.proc.poll() is None, self.log()
            assert time.time() < deadline, "the server did not start: " + self.log()
            time.sleep(0.5)

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text()

    def folder(self) -> Path:
        return Path(re.search(r"uploads and results in (\S+)", self.log()).group(1))

    def stop(self) -> None:
        self.proc.terminate()  # SIGTERM, as a service manager stops it (Ctrl-C ends in the same clean-up)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("web"))
    yield s
    folder = s.folder()
    s.stop()
    assert not folder.exists(), "the server removes its folder of uploads and results when it stops"
    assert s.proc.returncode == 143


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _open(browser, server, width=1200):
    page = browser.new_context(viewport={"width": width, "height": 1400}, accept_downloads=True).new_page()
    page.goto(server.url)
    page.wait_for_selector("#animate")
    return page


def _submit(page, photo: Path, video: Path, max_frames: int | None = 6, side_by_side: bool = False) -> None:
    page.locator("#source input[type=file]").set_input_files(str(photo))
    page.locator("#driving input[type=file]").set_input_files(str(video))
    page.locator("#source").get_by_text(photo.stem, exact=True).wait_for()  # both uploads have landed
    page.locator("#driving").get_by_text(video.stem, exact=True).wait_for()
    if max_frames is not None:
        page.locator("#max-frames input").fill(str(max_frames))
    if side_by_side:
        page.locator("#side-by-side input").check()
    page.locator("#max-frames input").blur()
    page.click("#animate")


def _download(page, dest: Path) -> Path:
    page.wait_for_selector("#result video", timeout=180_000)
    with page.expect_download() as d:
        page.click("#download")
    d.value.save_as(dest)
    return dest


def _video(path: Path) -> tuple[tuple[int, int], int, bool]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return (s.width, s.height), sum(1 for _ in c.decode(video=0)), bool(c.streams.audio)


def test_a_photo_and_a_video_give_a_downloadable_result_with_audio(server, browser, astronaut_jpg, tmp_path):
    shot = os.environ.get("INTERNET_WEB_SCREENSHOT")
    frames = 40 if shot else 6  # the screenshot shows frame 30, where the driver spreads its arms
    page = _open(browser, server)
    _submit(page, astronaut_jpg, DRIVING, max_frames=frames, side_by_side=True)
    out = _download(page, tmp_path / "out.mp4")
    assert _video(out) == ((1536, 512), frames, True)
    if shot:
        page.locator("#result video").evaluate(  # frame 30 shown
            "v => new Promise(done => { v.pause(); v.onseeked = done; v.currentTime = 30.5 / 30; })")
        page.screenshot(path=shot, full_page=True, type="jpeg", quality=80)


def test_a_text_file_as_the_video_shows_the_cli_s_one_line_error_and_the_server_goes_on(
        server, browser, astronaut_jpg, tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("these are notes, not a video\n")
    cli = subprocess.run([sys.executable, "-m", "internet_cli", "animate", str(astronaut_jpg), notes.name,
                          "-o", "out.mp4"], cwd=tmp_path, capture_output=True, text=True)
    expected = cli.stderr.strip().removeprefix("internet: ")
    assert cli.returncode == 1 and "\n" not in expected and "not a readable video" in expected
    page = _open(browser, server)
    _submit(page, astronaut_jpg, notes)
    page.get_by_text(expected).wait_for(timeout=60_000)
    assert server.answers() and server.proc.poll() is None
    assert "Traceback" not in server.log()


def test_a_driving_video_without_a_person_gives_the_video_and_the_cli_s_warning(server, browser, astronaut_jpg,
                                                                             tmp_path):
    from tests.media import make_video

    empty = make_video(tmp_path / "empty.mp4", frames=4, size=(128, 96))  # a moving square, no person
    page = _open(browser, server)
    _submit(page, astronaut_jpg, empty)
    page.get_by_text("no person found in 4 of 4 driving frames").wait_for(timeout=120_000)
    assert _video(_download(page, tmp_path / "out.mp4"))[:2] == ((512, 512), 4)


def test_two_visitors_are_served_one_after_the_other(server, browser, astronaut_jpg, tmp_path):
    first, second = _open(browser, server), _open(browser, server)
    _submit(first, astronaut_jpg, DRIVING, max_frames=10)
    _submit(second, astronaut_jpg, DRIVING, max_frames=4)
    second.get_by_text(re.compile(r"queue: ?\d+/\d+")).first.wait_for(timeout=30_000)  # the place in the queue
    a, b = _download(first, tmp_path / "a.mp4"), _download(second, tmp_path / "b.mp4")
    assert _video(a)[1:] == (10, True) and _video(b)[1:] == (4, True)
    events = re.findall(r"job (\d+): (started|done)", server.log())[-4:]
    assert [e[1] for e in events] == ["started", "done", "started", "done"], events
    assert events[0][0] == events[1][0] and events[2][0] == events[3][0]


def test_cancel_stops_the_running_job_and_leaves_no_file(server, browser, astronaut_jpg):
    results = server.folder() / "results"
    before = set(results.iterdir())
    page = _open(browser, server)
    _submit(page, astronaut_jpg, DRIVING, max_frames=None)  # all 90 frames: long enough to cancel
    page.get_by_text(re.compile(r"\d+/90 frames")).first.wait_for(timeout=120_000)
    page.click("#cancel")
    deadline = time.time() + 60
    while "cancelled, nothing written" not in server.log():
        assert time.time() < deadline, server.log()
        time.sleep(0.5)
    assert set(results.iterdir()) == before
    assert page.locator("#result video").count() == 0
