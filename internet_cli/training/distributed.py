"""Process-group set-up: torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK) or one process.

NCCL on CUDA, gloo on CPU; the same training code runs either way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device: torch.device) -> Dist:
    """Join the process group when launched by torchrun; pick this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(device=device)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(rank, world, local, device)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(d: Dist) -> None:
    """Wait for every rank (a no-op in a single process)."""
    if d.enabled:
        torch.distributed.barrier()


def all_true(flag: bool, d: Dist) -> bool:
    """True only if ``flag`` is true on every rank (so all ranks take the same branch)."""
    if not d.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=d.device if d.device.type == "cuda" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item() > 0.5)


def mean_over_ranks(values: dict[str, float], d: Dist) -> dict[str, float]:
    if not d.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64,
                     device=d.device if d.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return {k: float(v) / d.world_size for k, v in zip(keys, t.tolist())}


def broadcast_buffers(module: torch.nn.Module, d: Dist) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics, spectral-norm vectors).

    DDP does this at the start of every forward; after the last step each rank has updated its
    own copy, so this makes the final state identical everywhere (and equal to what rank 0 saves).
    """
    if not d.enabled:
        return
    for buf in module.buffers():
        dist.broadcast(buf.data, src=0)


def parameter_checksums(model: torch.nn.Module, d: Dist) -> list[float]:
    """One checksum of all parameters and buffers per rank (rank order): equal when in sync."""
    total = torch.zeros(1, dtype=torch.float64)
    for i, t in enumerate(list(model.state_dict().values())):
        if t.is_floating_point():
            total += (t.detach().double().cpu().flatten() * (1.0 + 1e-3 * i)).sum()
    if not d.enabled:
        return [float(total)]
    dev = d.device if d.device.type == "cuda" else torch.device("cpu")
    gathered = [torch.zeros(1, dtype=torch.float64, device=dev) for _ in range(d.world_size)]
    dist.all_gather(gathered, total.to(dev))
    return [float(g) for g in gathered]


def unused_parameters(module: torch.nn.Module, losses: list[torch.Tensor]) -> list[str]:
    """Names of ``module``'s trainable parameters that no loss in ``losses`` reaches through its
    autograd graph: what DDP's ``find_unused_parameters`` would search for at every step, found once."""
    reached, seen = set(), set()
    stack = [t.grad_fn for t in losses if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        leaf = getattr(node, "variable", None)  # an AccumulateGrad node: the parameter it fills
        if leaf is not None:
            reached.add(id(leaf))
        stack.extend(child for child, _ in node.next_functions if child is not None)
    return [name for name, p in module.named_parameters() if p.requires_grad and id(p) not in reached]
