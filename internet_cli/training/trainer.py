"""The training loop behind ``internet train`` (single process, or one rank of torchrun/DDP).

One step: reseed from (seed, step, rank); the generator objective (all generator-side terms in one
forward); a step skipped on every rank when any rank's loss is not finite; gradient clipping;
then the discriminator step. Only rank 0 logs and writes files.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, Sampler
from torch.utils.data.distributed import DistributedSampler

from internet_cli.atomic import write_text
from internet_cli.checkpoint import save_weights
from internet_cli.config import LossConfig, ModelConfig, TrainConfig
from internet_cli.clips.dataset import DataConfig, VideoPairDataset
from internet_cli.model import INTERnet
from internet_cli.training import distributed
from internet_cli.training.checkpoints import load_latest, save_checkpoint
from internet_cli.training.objective import DiscriminatorObjective, GeneratorObjective, build_discriminator


def _prior_start(state: dict, old, new) -> dict:
    """Weights trained without the part prior, loaded into a model with it: the composition head
    starts at zero, so the weights start as the prior's nearest part (the part prior adds no
    layers; the head's old logits, far outside the prior's bound, would only saturate it)."""
    if old.motion.part_prior > 0 or new.motion.part_prior == 0:
        return state
    state = dict(state)
    for name in ("dense_motion.weights.weight", "dense_motion.weights.bias"):
        state[name] = torch.zeros_like(state[name])
    return state


@dataclass
class RunSpec:
    """Everything a run is made of; saved in its checkpoints and its weights' metadata."""

    data: Path
    run: Path
    model: ModelConfig
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    init_weights: Path | None = None  # start from these weights instead of a random init
    anchors: str | None = None  # with init_weights of the other kind: convert them (learned <-> pose)
    part_prior: float | None = None  # pose mode: set motion.part_prior (None: the preset's or the weights')
    pass_through: str | None = None  # set generator.pass_through (None: the preset's or the weights')
    person_mask: bool | None = None  # pose mode: set motion.person_mask (None: the preset's or the weights')
    vgg_weights: Path | None = None
    device: str = "auto"

    def check_paths(self) -> None:
        """Outputs never replace inputs (:func:`internet_cli.paths.check_apart`): the run folder is not
        the dataset nor inside it, and what a run writes there (weights.safetensors, run.json,
        checkpoints/, tensorboard/, samples/) is not, and does not hold, the dataset, ``--weights``
        or ``--vgg-weights``. OutputError, one line naming both, before any work."""
        from internet_cli.paths import check_apart

        inputs = [("dataset folder", self.data), ("--weights file", self.init_weights),
                  ("--vgg-weights file", self.vgg_weights)]
        check_apart([("run folder", self.run)], inputs[:1])
        files = [("run's weights file", self.run / "weights.safetensors"), ("run's run.json", self.run / "run.json")]
        folders = [(f"run's {name} folder", self.run / name) for name in ("checkpoints", "tensorboard", "samples")]
        check_apart(files, inputs)
        check_apart(folders, inputs, kind="folder")

    def describe(self) -> dict:
        return {
            "data": str(self.data), "model": self.model.to_dict(), "loss": asdict(self.loss),
            "train": asdict(self.train), "init_weights": str(self.init_weights) if self.init_weights else None,
        }


def saved_backbone(spec: dict) -> str:
    """The perceptual backbone of a run's saved spec (``run.json``, a checkpoint's ``spec``); runs
    from before the choice existed used vgg19."""
    return spec.get("loss", {}).get("perceptual_backbone", "vgg19")


class _SkipSampler(Sampler):
    """Yields the wrapped sampler's indices, minus the first ``skip`` (resuming mid-epoch)."""

    def __init__(self, sampler: Sampler, skip: int = 0):
        self.sampler, self.skip = sampler, skip

    def __iter__(self) -> Iterator[int]:
        for i, index in enumerate(self.sampler):
            if i >= self.skip:
                yield index

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)


def lr_factor(epoch: int, cfg: TrainConfig) -> float:
    """x``lr_decay`` at each fraction in ``lr_decay_at`` of the epochs (paper: epochs 60 and 90)."""
    passed = sum(epoch >= round(f * cfg.epochs) for f in cfg.lr_decay_at)
    return cfg.lr_decay**passed


def _step_seed(seed: int, step: int, rank: int) -> int:
    return (seed * 1_000_003 + step * 7_919 + rank * 104_729) % (2**63)


class Trainer:
    def __init__(self, spec: RunSpec, on_log: Callable[[int, int, dict], None] | None = None):
        from internet_cli.devices import autocast_dtype, select_device

        self.spec = spec
        self.cfg = spec.train
        self.dist = distributed.setup(select_device(spec.device))
        self.device = self.dist.device
        self.amp_dtype = autocast_dtype(self.cfg.precision, self.device)  # None: float32
        self.on_log = on_log
        torch.manual_seed(self.cfg.seed)  # identical initialisation on every rank
        self.steps_before = 0  # training steps already in the --weights this run starts from
        self.model = self._initial_model().to(self.device)
        self.discriminator = build_discriminator(spec.loss)
        if self.discriminator is not None:
            self.discriminator.to(self.device)
        backbone = None
        if spec.loss.perceptual > 0 or spec.loss.style > 0:
            from internet_cli.losses.backbones import load_backbone

            backbone, self.backbone_pretrained = load_backbone(spec.loss.perceptual_backbone, spec.vgg_weights)
            backbone = backbone.to(self.device)
        self.g_objective = GeneratorObjective(self.model, backbone, self.discriminator, spec.loss).to(self.device)
        self.d_objective = (
            DiscriminatorObjective(self.discriminator, spec.loss) if self.discriminator is not None else None
        )
        # Under torchrun both objectives are wrapped in DDP at the first step (_wrap_ddp).
        self.g_step_module, self.d_step_module = self.g_objective, self.d_objective
        self.ddp_ready = not self.dist.enabled
        betas = (0.5, 0.999)
        self.opt_g = torch.optim.RAdam(self.model.parameters(), lr=self.cfg.lr, betas=betas)
        self.opt_d = (
            torch.optim.RAdam(self.discriminator.parameters(), lr=self.cfg.lr, betas=betas)
            if self.discriminator is not None else None
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype is torch.float16)  # bf16 needs none
        from internet_cli.clips.layout import scan_split

        if self.model.pose_mode:
            self._ensure_poses()
        entries = scan_split(Path(spec.data), "train")
        data_cfg = DataConfig(size=self.cfg.image_size or spec.model.image_size, seed=self.cfg.seed,
                              flow="none" if spec.loss.temporal_mode == "none" else "dis",
                              pose=self.model.pose_mode, person_mask=self.model.config.motion.person_mask,
                              segmenter=self.model.config.motion.segmenter)
        self.dataset = VideoPairDataset(spec.data, "train", data_cfg, length=len(entries) * self.cfg.repeats,
                                        entries=entries)
        self.sampler = DistributedSampler(self.dataset, num_replicas=self.dist.world_size, rank=self.dist.rank,
                                          shuffle=True, seed=self.cfg.seed, drop_last=True)
        self.steps_per_epoch = len(self.sampler) // self.cfg.batch_size
        if self.steps_per_epoch < 1:
            from internet_cli.errors import InputError

            raise InputError(f"{spec.data}: too few training samples for batch size {self.cfg.batch_size} "
                             f"on {self.dist.world_size} process(es); raise --repeats or lower --batch-size")
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.skipped_steps = 0
        self.writer = None
        self.stop_signal: int | None = None  # SIGTERM seen: fit() ends after the current step and saves

    # ---- state -------------------------------------------------------------------------------
    def _initial_model(self) -> INTERnet:
        if self.spec.init_weights is not None:
            from internet_cli.checkpoint import load_weights

            weights = load_weights(self.spec.init_weights)
            self.steps_before = int(weights.info.get("steps", 0)) + int(weights.info.get("steps_before", 0))
            config = weights.config
            if self.spec.anchors is not None and self.spec.anchors != config.motion.anchors:
                return self._converted_model(weights)
            self.spec.model = self._with_overrides(config)
            model = INTERnet(self.spec.model)
            model.load_state_dict(_prior_start(weights.state_dict, config, self.spec.model))
            return model
        self.spec.model = self._with_overrides(self.spec.model)
        return INTERnet(self.spec.model)

    def _with_overrides(self, config):
        """``config`` with the spec's ``part_prior``, ``pass_through`` and ``person_mask``, where it gives them."""
        from internet_cli.config import with_options

        try:
            return with_options(config, self.spec.part_prior, self.spec.pass_through, self.spec.person_mask)
        except ValueError as exc:
            from internet_cli.errors import InputError

            raise InputError(str(exc)) from None

    def _ensure_poses(self) -> None:
        """Pose mode: MediaPipe landmarks for the training videos that lack them (rank 0 writes)."""
        if self.dist.is_main:
            from internet_cli.clips.prepare_pose import prepare_pose

            report = prepare_pose(self.spec.data, splits=("train",))
            if report.computed:
                print(f"landmarks: {len(report.computed)} NAME.pose.npz computed ({report.seconds:.1f} s)")
        distributed.barrier(self.dist)

    def _converted_model(self, weights) -> INTERnet:
        """Learned-anchor weights as the start of a pose-mode model (or the reverse): everything
        but the anchor detector is loaded; the detector is dropped (or starts untrained)."""
        from internet_cli.config import with_anchors

        self.spec.model = self._with_overrides(with_anchors(weights.config, self.spec.anchors))
        model = INTERnet(self.spec.model)
        state = {k: v for k, v in weights.state_dict.items() if not k.startswith("detector.")}
        own = model.state_dict()
        if any(k not in own or own[k].shape != v.shape for k, v in state.items()) or \
                any(k not in state for k in own if not k.startswith("detector.")):
            from internet_cli.errors import InputError

            raise InputError(f"{self.spec.init_weights}: its layers do not fit a {self.spec.anchors}-anchor "
                             f"{self.spec.model.name} model (pose mode has {self.spec.model.motion.num_anchors} "
                             f"anchors, these weights {weights.config.motion.num_anchors})")
        model.load_state_dict(_prior_start(state, weights.config, self.spec.model), strict=False)
        return model

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "discriminator": self.discriminator.state_dict() if self.discriminator is not None else {},
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict() if self.opt_d is not None else {},
            "scaler": self.scaler.state_dict(),
            "step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "skipped_steps": self.skipped_steps,
            "spec": json.dumps(self.spec.describe()),
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(state["discriminator"])
            self.opt_d.load_state_dict(state["opt_d"])
        self.opt_g.load_state_dict(state["opt_g"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batch_in_epoch, self.skipped_steps = int(state["batch_in_epoch"]), int(state["skipped_steps"])

    def resume(self) -> bool:
        state = load_latest(self.spec.run)
        if state is None:
            return False
        self._check_same_backbone(json.loads(state.get("spec") or "{}"))
        self.load_state_dict(state)
        return True

    def _check_same_backbone(self, saved: dict) -> None:
        """A resumed run keeps its perceptual backbone (runs from before the choice used vgg19)."""
        was = saved_backbone(saved)
        now = self.spec.loss.perceptual_backbone
        if was != now:
            from internet_cli.errors import InputError

            raise InputError(f"{self.spec.run} was trained with --perceptual-backbone {was}, not {now}: "
                             f"pass --perceptual-backbone {was} to resume it, or start a new --run-dir")

    def save(self) -> None:
        if not self.dist.is_main:
            return
        save_checkpoint(self.spec.run, self.step, self.state_dict(), self.cfg.keep_checkpoints)
        info = {"steps": self.step, "steps_before": self.steps_before, "epoch": self.epoch,
                "skipped_steps": self.skipped_steps, **self.spec.describe()}
        save_weights(self.spec.run / "weights.safetensors", self.model, trained=self.step > 0, info=info)

    # ---- the loop ----------------------------------------------------------------------------
    @property
    def total_steps(self) -> int:
        total = self.cfg.epochs * self.steps_per_epoch
        return min(total, self.cfg.max_steps) if self.cfg.max_steps is not None else total

    def _loader(self) -> DataLoader:
        self.sampler.set_epoch(self.epoch)
        self.dataset.set_epoch(self.epoch)
        sampler = _SkipSampler(self.sampler, self.batch_in_epoch * self.cfg.batch_size)
        return DataLoader(self.dataset, batch_size=self.cfg.batch_size, sampler=sampler, drop_last=True,
                          num_workers=self.cfg.workers, pin_memory=self.device.type == "cuda",
                          persistent_workers=False, worker_init_fn=_ignore_sigterm)

    def _autocast(self):
        """Mixed precision per ``--precision`` (Stage I's geometry stays float32 inside it)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _buffers(self) -> list[torch.Tensor]:
        return [b for m in (self.model, self.discriminator) if m is not None for b in m.buffers()]

    def _wrap_ddp(self, batch: dict[str, torch.Tensor]) -> None:
        """Wrap both objectives in DDP. With ``find_unused_parameters=False`` DDP fails at the second
        step when the loss weights leave generator parameters without a gradient (perceptual,
        adversarial, feature matching and temporal all 0: nothing reaches the decoder), so one
        forward's autograd graph is searched for them first; when there are any, on any rank, DDP
        is told, and rank 0 says so. The probe's BatchNorm statistics are put back."""
        saved = [b.detach().clone() for b in self._buffers()]
        with self._autocast():
            losses, _ = self.g_objective(batch)
        unused = distributed.unused_parameters(self.g_objective, list(losses.values()))
        del losses
        with torch.no_grad():
            for b, old in zip(self._buffers(), saved):
                b.copy_(old)
        find_unused = not distributed.all_true(not unused, self.dist)
        if find_unused and self.dist.is_main:
            parts = sorted({name.split(".")[1] for name in unused})  # model.<part>.…
            print(f"DDP: {len(unused)} generator parameters ({', '.join(parts)}) get no gradient with these loss "
                  "weights; running with find_unused_parameters=True")
        ids = [self.device.index] if self.device.type == "cuda" else None
        if self.discriminator is not None:
            self.discriminator.requires_grad_(True)  # DDP syncs only the parameters that need a gradient
        self.g_step_module = DDP(self.g_objective, device_ids=ids, find_unused_parameters=find_unused)
        self.d_step_module = DDP(self.d_objective, device_ids=ids) if self.d_objective is not None else None
        self.ddp_ready = True

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        batch = {k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
        self.model.train()
        if not self.ddp_ready:
            self._wrap_ddp(batch)
        if self.discriminator is not None:
            self.discriminator.requires_grad_(False)
        torch.manual_seed(_step_seed(self.cfg.seed, self.step, self.dist.rank))
        # BatchNorm running stats change in the forward pass: kept to be put back if the step is skipped.
        buffers = [b.detach().clone() for b in self._buffers()]
        with self._autocast():
            losses, out = self.g_step_module(batch)
        if not losses:
            from internet_cli.errors import InputError

            raise InputError("every loss weight is 0 for this model: nothing to train (see --loss NAME=VALUE)")
        total = sum(losses.values())
        logs = {k: float(v.detach()) for k, v in losses.items()}
        logs["total"] = float(total.detach())
        if not distributed.all_true(math.isfinite(logs["total"]), self.dist):
            self.skipped_steps += 1
            self.opt_g.zero_grad(set_to_none=True)
            with torch.no_grad():
                for b, saved in zip(self._buffers(), buffers):
                    b.copy_(saved)
            logs["skipped"] = 1.0
            return logs
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.unscale_(self.opt_g)
        logs["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip))
        self.scaler.step(self.opt_g)
        if self.d_step_module is not None:
            self.discriminator.requires_grad_(True)
            with self._autocast():
                d_loss = self.d_step_module(batch["driving"], out["prediction"].detach())
            logs["discriminator"] = float(d_loss.detach())
            if distributed.all_true(math.isfinite(logs["discriminator"]), self.dist):
                self.opt_d.zero_grad(set_to_none=True)
                self.scaler.scale(d_loss).backward()
                self.scaler.unscale_(self.opt_d)
                torch.nn.utils.clip_grad_norm_(self.discriminator.parameters(), self.cfg.grad_clip)
                self.scaler.step(self.opt_d)
        self.scaler.update()
        self._last = (batch, out)
        return logs

    def fit(self) -> Path:
        """Train until ``total_steps``; checkpoints every ``checkpoint_every`` steps and at the end."""
        if self.dist.is_main:
            self.spec.run.mkdir(parents=True, exist_ok=True)
            write_text(self.spec.run / "run.json", json.dumps(self.spec.describe(), indent=2))
            self.writer = _tensorboard(self.spec.run)
        sums: dict[str, float] = {}
        count = 0
        t0 = time.perf_counter()
        previous = _catch_sigterm(self)
        try:
            while self.step < self.total_steps and self.epoch < self.cfg.epochs:
                for group in self.opt_g.param_groups + (self.opt_d.param_groups if self.opt_d else []):
                    group["lr"] = self.cfg.lr * lr_factor(self.epoch, self.cfg)
                for batch in self._loader():
                    logs = self.train_step(batch)
                    self.step += 1
                    self.batch_in_epoch += 1
                    for k, v in logs.items():
                        sums[k] = sums.get(k, 0.0) + v
                    count += 1
                    if self.step % self.cfg.log_every == 0 or self.step == self.total_steps:
                        means = distributed.mean_over_ranks({k: v / count for k, v in sums.items()}, self.dist)
                        means["sec_per_step"] = (time.perf_counter() - t0) / count
                        means["skipped_steps_total"] = float(self.skipped_steps)
                        self._log(means)
                        sums, count, t0 = {}, 0, time.perf_counter()
                    if self.step % self.cfg.sample_every == 0 and self.dist.is_main:
                        self._log_samples()
                    if self.step % self.cfg.checkpoint_every == 0:
                        self.save()
                    if self.step >= self.total_steps or self._stop_requested():
                        break
                else:
                    self.epoch += 1
                    self.batch_in_epoch = 0
                    continue
                break
            for module in (self.model, self.discriminator):
                if module is not None:
                    distributed.broadcast_buffers(module, self.dist)
            self.save()
            self.checksums = distributed.parameter_checksums(self.model, self.dist)
            if len(set(self.checksums)) > 1:
                raise RuntimeError(f"DDP ranks ended with different weights: checksums {self.checksums}")
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            if self.writer is not None:
                self.writer.close()
        return self.spec.run / "weights.safetensors"

    def _stop_requested(self) -> bool:
        """True on every rank once any rank got SIGTERM (the checkpoint below is then written by all)."""
        return not distributed.all_true(self.stop_signal is None, self.dist)

    def _log(self, means: dict[str, float]) -> None:
        if not self.dist.is_main:
            return
        if self.writer is not None:
            for k, v in means.items():
                self.writer.add_scalar(f"train/{k}", v, self.step)
            self.writer.add_scalar("train/lr", self.opt_g.param_groups[0]["lr"], self.step)
        if self.on_log:
            self.on_log(self.step, self.total_steps, means)

    def _log_samples(self) -> None:
        from internet_cli.training.samples import sample_grid

        batch, out = getattr(self, "_last", (None, None))
        if batch is None:
            return
        grid = sample_grid(batch, out)
        if self.writer is not None:
            self.writer.add_image("samples", grid, self.step, dataformats="HWC")
        from PIL import Image

        (self.spec.run / "samples").mkdir(exist_ok=True)
        Image.fromarray(grid).save(self.spec.run / "samples" / f"step-{self.step:08d}.png")


def _catch_sigterm(trainer: Trainer):
    """SIGTERM (cluster pre-emption, ``kill``) only sets ``trainer.stop_signal``: the step in flight
    finishes, ``fit`` saves a checkpoint and the weights and returns. Returns the previous handler
    (None when not on the main thread, where signals cannot be caught)."""

    def handler(signum, frame):
        trainer.stop_signal = signum

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:
        return None


def _ignore_sigterm(worker_id: int) -> None:
    """DataLoader workers ignore SIGTERM. A scheduler or ``kill -- -PGID`` signals the whole process
    group; a worker killed by it would make the loader raise before the main process could save.
    The main process stops them itself when it returns from ``fit``."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _tensorboard(run: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is a dependency, but keep training alive without it
        return None
    return SummaryWriter(str(run / "tensorboard"))
