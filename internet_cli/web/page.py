"""The Gradio page of ``internet web``: drop a photo and a driving video, watch the result.

One queue runs the jobs one at a time (a second visitor sees their place in it); Cancel stops the
running job after its current frame and leaves no file. Errors are the CLI's one-line messages
(:func:`internet_cli.cli.errors.describe_error`), shown on the page; the server keeps serving.
"""

# No `from __future__ import annotations`: Gradio finds the gr.Request parameter by its annotation.
import os
import traceback
from pathlib import Path

from internet_cli.runtime.backends import BACKENDS
from internet_cli.web.jobs import Cancelled, Request, Studio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
"""The repository's bundled examples (absent from an installed wheel: the page then offers none)."""


def _number(value) -> float | None:
    """A page number: empty or 0 (Gradio sends 0 for an empty field) means "not given"."""
    return float(value) if value not in (None, "") and float(value) != 0 else None


def handler(studio: Studio):
    """The Animate button's function: inputs of the page -> (result video, download button)."""
    import gradio as gr

    def animate(source, driving, crop, motion, side_by_side, start, end, max_frames, backend,
                request: gr.Request, progress=gr.Progress()):
        req = Request(source=source, driving=driving, crop=crop, motion=motion, side_by_side=bool(side_by_side),
                      start=_number(start), end=_number(end),
                      max_frames=None if _number(max_frames) is None else int(max_frames), backend=backend)

        def report(done: int, total: int | None) -> None:
            progress((done, total) if total else None, desc=f"{done} frames" if not total else None, unit="frames")

        try:
            out = studio.animate(req, request.session_hash, report, warn=lambda m: gr.Warning(m, duration=None))
        except Cancelled:
            raise gr.Error("cancelled: nothing written", duration=None, print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - shown on the page; the server keeps serving
            from internet_cli.cli.errors import describe_error

            if os.environ.get("INTERNET_DEBUG", "") not in ("", "0"):
                traceback.print_exc()
            raise gr.Error(studio.public(describe_error(exc)), duration=None, print_exception=False) from None
        return str(out), gr.DownloadButton(value=str(out), visible=True)

    return animate


def build(studio: Studio, default_backend: str = "auto"):
    """The page (a ``gradio.Blocks``), its queue set to one job at a time."""
    import gradio as gr

    motions = ["retarget", "relative", "absolute"] if studio.pose_mode else ["relative", "absolute"]
    with gr.Blocks(title="internet", delete_cache=(600, 3600)) as page:
        gr.Markdown("## internet: one photo of a person + a driving video -> a 512x512 video of them dancing")
        with gr.Row():
            source = gr.File(label="Source photo (one person)", type="filepath", elem_id="source")
            driving = gr.File(label="Driving video", type="filepath", elem_id="driving")
        with gr.Row():
            crop = gr.Radio(["auto", "none"], value="auto", label="Crop around the person")
            motion = gr.Radio(motions, value=motions[0], label="Motion")
            side_by_side = gr.Checkbox(label="Side by side (source | driving | output)", elem_id="side-by-side")
            backend = gr.Dropdown(list(BACKENDS), value=default_backend, label="Backend")
        with gr.Row():
            start = gr.Number(label="Start (s)", value=0, minimum=0, elem_id="start")
            end = gr.Number(label="End (s, 0: the video's end)", value=0, minimum=0, elem_id="end")
            max_frames = gr.Number(label="Max frames (0: all)", value=0, minimum=0, precision=0, elem_id="max-frames")
        with gr.Row():
            go = gr.Button("Animate", variant="primary", elem_id="animate")
            stop = gr.Button("Cancel", variant="stop", elem_id="cancel")
        result = gr.Video(label="Result", interactive=False, height=512, elem_id="result")
        download = gr.DownloadButton("Download the video", visible=False, elem_id="download")
        if (EXAMPLES / "source.png").is_file() and (EXAMPLES / "driving.mp4").is_file():
            gr.Examples([[str(EXAMPLES / "source.png"), str(EXAMPLES / "driving.mp4"), "none"]],
                        inputs=[source, driving, crop], label="Bundled example (a synthetic dancer: crop none)")
        inputs = [source, driving, crop, motion, side_by_side, start, end, max_frames, backend]
        job = go.click(handler(studio), inputs, [result, download], concurrency_limit=1, concurrency_id="jobs")

        def cancel(request: gr.Request):
            if studio.cancel(request.session_hash):
                gr.Info("cancelling after the current frame")

        stop.click(cancel, None, None, cancels=[job], queue=False)
    page.queue(default_concurrency_limit=1)
    return page
