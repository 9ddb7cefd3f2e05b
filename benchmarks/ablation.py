"""The paper's temporal-regularization ablation (Table 2, rows a/b/c) at our scale.

Trains one preset three times with the same data, seed and step budget, with temporal
regularization `plain` (a, the flow-warp loss of eq. 2), `extrinsic` (b) and `intrinsic` (c); evaluates each with
`internet evaluate`; writes a Markdown table shaped like the paper's Table 2 (per-frame and
temporal columns) with the copy-source baseline, steps, seed and CPU time.

    python benchmarks/ablation.py --data data/synth --eval-data data/heldout --preset tiny --steps 600 \
        --out runs/ablation/table.md

The reading of a run goes in docs/ablation.md, with its table.

Runs go to --runs (default runs/ablation/<mode>); a run that already has checkpoints is resumed,
so an interrupted ablation continues where it stopped.
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

MODES = {"plain": "a) plain (eq. 2)", "extrinsic": "b) extrinsic", "intrinsic": "c) intrinsic (ours)"}
COLUMNS = [("ms_ssim", "MS-SSIM ↑"), ("ssim", "SSIM ↑"), ("psnr", "PSNR ↑"), ("l1", "L1 ↓"),
           ("interp_psnr", "Interp-PSNR* ↑"), ("warp_error", "Warp err ↓")]


def internet(*args: str) -> tuple[float, float]:
    """Run the CLI; return its (wall, CPU) seconds. Exits with its stderr tail on failure."""
    t, before = time.perf_counter(), os.times()
    proc = subprocess.run([sys.executable, "-m", "internet_cli", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"internet {' '.join(args[:2])} failed:\n{proc.stderr[-2000:]}")
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return time.perf_counter() - t, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="dataset with train/ and test/ (e.g. `internet synth`)")
    ap.add_argument("--eval-data", type=Path, default=None,
                    help="dataset whose test/ split is scored (default: --data); e.g. a held-out synth seed")
    ap.add_argument("--preset", default="small-256")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loss", action="append", default=[], metavar="NAME=VALUE",
                    help="loss weight override passed to every run (repeatable)")
    ap.add_argument("--runs", type=Path, default=Path("runs/ablation"))
    ap.add_argument("--max-frames", type=int, default=None, help="frames per test video to score")
    ap.add_argument("--out", type=Path, default=Path("runs/ablation/table.md"))
    args = ap.parse_args()
    eval_data = args.eval_data or args.data

    rows, train_seconds, copy_source = {}, {}, None
    for mode in MODES:
        run = args.runs / mode
        train = ["train", "--data", str(args.data), "--run-dir", str(run), "--preset", args.preset,
                 "--max-steps", str(args.steps), "--batch-size", str(args.batch_size), "--seed", str(args.seed),
                 "--temporal", mode, "--epochs", "100000", "--checkpoint-every", "100", "--workers", "1"]
        for override in args.loss:
            train += ["--loss", override]
        if (run / "checkpoints").is_dir():
            train.append("--resume")
        train_seconds[mode] = internet(*train)
        report = run / "eval.json"
        evaluate = ["evaluate", "--data", str(eval_data), "-w", str(run / "weights.safetensors"), "--out", str(report)]
        if args.max_frames:
            evaluate += ["--max-frames", str(args.max_frames)]
        internet(*evaluate)
        overall = json.loads(report.read_text())["overall"]
        rows[MODES[mode]] = overall["model"]
        copy_source = overall["copy-source"]  # the same in every report

    rows["copy source"] = copy_source
    header = "| method | " + " | ".join(name for _, name in COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 1)]
    for name, values in rows.items():
        cells = [f"{values[key]:.4f}" if values.get(key) is not None else "n/a" for key, _ in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([
        "# Temporal regularization ablation at our scale", "",
        f"{when}; preset {args.preset}, {args.steps} steps of batch {args.batch_size} per mode, seed {args.seed}, "
        f"data {args.data}, scored on {eval_data}/test"
        + (f", losses {', '.join(args.loss)}" if args.loss else "") + "; training wall time per mode: "
        + ", ".join(f"{m} {w / 60:.1f} min ({c / 60:.1f} CPU-min)" for m, (w, c) in train_seconds.items())
        + ".", "",
        *lines, "",
        "\\* Interp-PSNR (DIS midpoint), not the paper's Super SloMo. Self-imitation on the test split "
        "(`internet evaluate`, docs/evaluation.md).", "",
    ])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
