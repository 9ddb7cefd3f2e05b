"""The paper's Table 2 at our scale: five rows, the single-scale SS4x generator with a) plain,
b) extrinsic, c) intrinsic temporal regularization, and the multi-scale generator with b) and c).

Every row trains the same preset with the same data, seed and step budget (``--scales single`` or
``multi``, ``--temporal plain|extrinsic|intrinsic``); MS b) and MS c) train once per ``--seeds`` (the
paper's central comparison), the SS4x rows with the first seed. Each run is scored with
``internet evaluate`` on the held-out set: the paper's per-frame and temporal columns, plus the two
Stage I columns that the synthetic ground truth measures (anchors on the body, the fit of M;
docs/evaluation.md), and copy-source. Writes a Markdown table with steps, seeds and CPU time.

    python benchmarks/ablation.py --data data/synth --eval-data data/heldout --preset small-256 --steps 3000 \
        --seeds 3 --out runs/ablation/table.md

The reading of a run goes in docs/ablation.md, with its table.

Runs go to --runs (default runs/ablation/<scales>-<temporal>[-<pass-through>]-seed<N>); a run
that already has checkpoints is resumed, one already scored at this --steps is read back, and a
larger --steps trains the finished runs further: an interrupted ablation continues where it
stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from internet_cli.config import PASS_THROUGH

ROWS = {  # row -> (generator scales, temporal mode), the paper's Table 2 order
    "SS4x a) plain": ("single", "plain"),
    "SS4x b) extrinsic": ("single", "extrinsic"),
    "SS4x c) intrinsic": ("single", "intrinsic"),
    "MS b) extrinsic": ("multi", "extrinsic"),
    "MS c) intrinsic (ours)": ("multi", "intrinsic"),
}
SEEDED = ("MS b) extrinsic", "MS c) intrinsic (ours)")  # trained once per --seeds
COLUMNS = [("ms_ssim", "MS-SSIM ↑"), ("ssim", "SSIM ↑"), ("psnr", "PSNR ↑"), ("l1", "L1 ↓"),
           ("interp_psnr", "Interp-PSNR* ↑"), ("warp_error", "Warp err ↓"),
           ("anchors_on_body", "Anchors on body ↑"), ("confidence_iou", "M fit (IoU) ↑"),
           ("confidence_auc", "M ranking (AUC) ↑")]


def internet(*args: str) -> tuple[float, float]:
    """Run the CLI; return its (wall, CPU) seconds. Exits with its stderr tail on failure."""
    t, before = time.perf_counter(), os.times()
    proc = subprocess.run([sys.executable, "-m", "internet_cli", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"internet {' '.join(args[:2])} failed:\n{proc.stderr[-2000:]}")
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return time.perf_counter() - t, cpu


def train_and_score(args, eval_data: Path, run: Path, scales: str, mode: str, seed: int) -> tuple[dict, list]:
    """Train one run to ``args.steps`` (resumed if it has checkpoints) and score it; a run already
    scored at that budget is read back. Returns its report's ``overall`` and the training's
    ``[wall, CPU]`` seconds, summed over every time it was trained (``run/ablation.json``)."""
    report, record = run / "eval.json", run / "ablation.json"
    done = json.loads(record.read_text()) if record.is_file() else {"steps": 0, "seconds": [0.0, 0.0]}
    if done["steps"] == args.steps and report.is_file():
        return json.loads(report.read_text())["overall"], done["seconds"]
    train = ["train", "--data", str(args.data), "--run-dir", str(run), "--preset", args.preset,
             "--max-steps", str(args.steps), "--batch-size", str(args.batch_size), "--seed", str(seed),
             "--scales", scales, "--temporal", mode, "--epochs", "100000", "--checkpoint-every", "100",
             "--workers", "1"]
    for override in args.loss:
        train += ["--loss", override]
    if args.pass_through:
        train += ["--pass-through", args.pass_through]
    if (run / "checkpoints").is_dir():
        train.append("--resume")
    wall, cpu = internet(*train)
    evaluate = ["evaluate", "--data", str(eval_data), "-w", str(run / "weights.safetensors"), "--out", str(report)]
    if args.max_frames:
        evaluate += ["--max-frames", str(args.max_frames)]
    internet(*evaluate)
    seconds = [done["seconds"][0] + wall, done["seconds"][1] + cpu]
    record.write_text(json.dumps({"steps": args.steps, "seconds": seconds}))
    return json.loads(report.read_text())["overall"], seconds


def mean_scores(runs: list[dict]) -> dict:
    """The mean of each score over the runs (None where a run has none)."""
    keys = {k for r in runs for k in r}
    return {k: (sum(r[k] for r in runs) / len(runs) if all(r.get(k) is not None for r in runs) else None)
            for k in keys}


def render(args, eval_data: Path, rows: dict, train_seconds: dict) -> str:
    """The Markdown table of the rows, with steps, seeds, data and CPU time."""
    header = "| method | " + " | ".join(name for _, name in COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 1)]
    for name, values in rows.items():
        cells = [f"{values[key]:.4f}" if values.get(key) is not None else "n/a" for key, _ in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        "# Temporal regularization ablation at our scale", "",
        f"{when}; preset {args.preset}, {args.steps} steps of batch {args.batch_size} per run, seeds "
        f"{args.seed}..{args.seed + args.seeds - 1} for MS b) and c) (their mean), {args.seed} for SS4x; "
        f"data {args.data}, scored on {eval_data}/test"
        + (f", losses {', '.join(args.loss)}" if args.loss else "")
        + (f", pass-through {args.pass_through}" if args.pass_through else "") + "; training wall time per run: "
        + ", ".join(f"{m} {w / 60:.1f} min ({c / 60:.1f} CPU-min)" for m, (w, c) in train_seconds.items())
        + ".", "",
        *lines, "",
        "\\* Interp-PSNR (DIS midpoint), not the paper's Super SloMo. Self-imitation on the test split "
        "(`internet evaluate`, docs/evaluation.md).", "",
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="dataset with train/ and test/ (e.g. `internet synth`)")
    ap.add_argument("--eval-data", type=Path, default=None,
                    help="dataset whose test/ split is scored (default: --data); e.g. a held-out synth seed")
    ap.add_argument("--preset", default="small-256")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0, help="the first seed")
    ap.add_argument("--seeds", type=int, default=3, help="seeds of MS b) and MS c) (the SS4x rows: the first)")
    ap.add_argument("--loss", action="append", default=[], metavar="NAME=VALUE",
                    help="loss weight override passed to every run (repeatable)")
    ap.add_argument("--pass-through", choices=PASS_THROUGH, default=None,
                    help="the decoder's pass-through for every row (default: the preset's); named in the run folders")
    ap.add_argument("--runs", type=Path, default=Path("runs/ablation"))
    ap.add_argument("--max-frames", type=int, default=None, help="frames per test video to score")
    ap.add_argument("--out", type=Path, default=Path("runs/ablation/table.md"))
    args = ap.parse_args()
    eval_data = args.eval_data or args.data

    rows, train_seconds, copy_source = {}, {}, None
    for row, (scales, mode) in ROWS.items():
        for seed in range(args.seed, args.seed + (args.seeds if row in SEEDED else 1)):
            run = args.runs / "-".join(filter(None, (scales, mode, args.pass_through, f"seed{seed}")))
            overall, seconds = train_and_score(args, eval_data, run, scales, mode, seed)
            rows.setdefault(row, []).append(overall["model"])
            train_seconds[run.name] = seconds
            copy_source = overall["copy-source"]  # the same in every report
    rows = {f"{row} ({len(runs)} seeds)" if len(runs) > 1 else row: mean_scores(runs) for row, runs in rows.items()}
    rows["copy source"] = copy_source
    text = render(args, eval_data, rows, train_seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
