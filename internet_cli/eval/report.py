"""The evaluation report rendered: table rows and headers, and the Markdown report.

The report itself (a JSON-ready dict) is made by :func:`internet_cli.eval.evaluate.evaluate`.
"""

from __future__ import annotations

from internet_cli.eval import metrics as M
from internet_cli.eval.evaluate import METRIC_INFO, METRICS
from internet_cli.eval.stage_one import STAGE_ONE_INFO, STAGE_ONE_METRICS


def _fmt(metric: str, value) -> str:
    if value is None:
        return "n/a"
    if metric in ("psnr", "interp_psnr"):
        return f"{value:.2f}"
    return f"{value:.4f}"


def table_rows(report: dict, scores: dict) -> list[list[str]]:
    """Rows ``[label, frames, metric...]`` for one ``{method key: means}`` mapping."""
    labels = {m["key"]: m["label"] for m in report["methods"]}
    rows = []
    for key, vals in scores.items():
        rows.append([labels.get(key, key), str(vals.get("frames", ""))] + [_fmt(k, vals.get(k)) for k in METRICS])
    return rows


SHORT_LABELS = {"l1": "L1", "psnr": "PSNR", "ssim": "SSIM", "ms_ssim": "MS-SSIM", "interp_psnr": "Interp-PSNR*",
                "warp_error": "WarpErr"}
"""Column titles; ``*``: Interp-PSNR (DIS midpoint), not the paper's Super SloMo (say so under tables)."""


TERMINAL_LABELS = {**SHORT_LABELS, "interp_psnr": "Interp*", "warp_error": "Warp"}
"""Narrower column titles for an 80-column terminal."""


def table_header(narrow: bool = False) -> list[str]:
    labels = TERMINAL_LABELS if narrow else SHORT_LABELS
    return ["method", "frames"] + [labels[k] + (" ↑" if METRIC_INFO[k]["better"] == "higher" else " ↓")
                                   for k in METRICS]


def stage_one_table(report: dict) -> list[str]:
    """Markdown lines of the Stage I scores (eval/stage_one.py) of the methods that have them."""
    labels = {m["key"]: m["label"] for m in report["methods"]}
    rows = [[labels.get(k, k)] + [_fmt(m, v.get(m)) for m in STAGE_ONE_METRICS]
            for k, v in report["overall"].items() if any(v.get(m) is not None for m in STAGE_ONE_METRICS)]
    if not rows:
        return []
    head = ["method"] + [STAGE_ONE_INFO[m]["label"] + " ↑" for m in STAGE_ONE_METRICS]
    return ["## Stage I on the synthetic ground truth", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(r) + " |" for r in rows), ""]


def to_markdown(report: dict) -> str:
    """The report as Markdown: protocol, overall table, per-video tables, what was not computed."""
    p = report["protocol"]
    lines = [
        "# Self-imitation evaluation",
        "",
        f"Data `{p['data']}` split `{p['split']}`, {len(report['videos'])} video(s), {p['size']}x{p['size']}; "
        f"source = frame 0, {p['motion']} motion; max frames per video: {p['max_frames'] or 'all'}. "
        f"MS-SSIM scales: {p['ms_ssim_scales']}.",
        "",
    ]

    def table(scores: dict) -> list[str]:
        head = table_header()
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in table_rows(report, scores)]
        return out

    note = (f"\\* {M.INTERP_NAME}: frame t predicted from outputs t-1 and t+1 with OpenCV DIS flows "
            "(the paper used Super SloMo), compared with the real frame t.")
    lines += ["## Overall (frame-weighted)", ""] + table(report["overall"]) + ["", note, ""]
    lines += stage_one_table(report)
    for v in report["videos"]:
        lines += [f"## {v['name']} ({v['frames']} frames; flow: {v['flow']})", ""] + table(v["methods"]) + [""]
    lines += ["## Methods", ""]
    for m in report["methods"]:
        extra = f" `{m['weights']}`" if "weights" in m else ""
        lines.append(f"- **{m['label']}** ({m['kind']}){extra}")
    lines += ["", "## Metrics", ""]
    for k in (*METRICS, *(k for k in STAGE_ONE_METRICS if k in report["metrics"])):
        info = report["metrics"][k]
        lines.append(f"- **{info['label']}** ({info['better']} is better, per {info['per']}): {info['text']}")
    lines += ["", "## Not computed", ""]
    for k, reason in report["unavailable"].items():
        lines.append(f"- {k}: {reason}")
    return "\n".join(lines) + "\n"
