"""Data-parallel training over processes started by ``torchrun`` (gloo on CPU, NCCL on GPU).

Why gradients are averaged here rather than by ``DistributedDataParallel``: a step computes
only what the loss terms ask for, calling the trunk and single heads lazily, and one backward
may run several forwards of the same network (real, fake, gradient-penalty mixes). DDP's
wrapper expects one forward per backward through its own ``forward``. Averaging every gradient
with one coalesced all-reduce after each phase's backward is the same synchronous data
parallelism, with no constraint on how losses use the networks.

Buffers, deliberately:

* spectral-norm vectors ``u``/``v`` stay per replica: the power iteration depends only on the
  weights, which are identical on every replica, so the vectors stay identical too;
* batch-norm running statistics depend on each replica's data; they are averaged across
  replicas before anything is saved (checkpoints, samples), so a checkpoint holds statistics
  of all the data, while training steps use each replica's own batch statistics as usual;
* counters (``num_batches_tracked``) advance identically everywhere.

Each rank draws from its own random stream (seed + rank) for noise, targets and dropout.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

BATCH_NORM_STATISTICS = ("running_mean", "running_var")


@dataclass
class Distributed:
    """This process's place among the replicas (``world_size`` 1: not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    control: Any = None  # a gloo group for small host-side agreements

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_environment() -> Distributed:
    """The replica layout ``torchrun`` put in the environment (none: a single process)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    return Distributed(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", 0)))


def initialize(layout: Distributed, device: torch.device) -> Distributed:
    """Join the process group (NCCL for CUDA, gloo for CPU) with a gloo group for control."""
    if not layout.enabled or dist.is_initialized():
        return layout
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, rank=layout.rank, world_size=layout.world_size)
    layout.control = dist.new_group(backend="gloo") if backend != "gloo" else dist.group.WORLD
    return layout


def shutdown(layout: Distributed) -> None:
    if layout.enabled and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_state(module: nn.Module, layout: Distributed) -> None:
    """Make every replica start from rank 0's parameters and buffers."""
    if not layout.enabled:
        return
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor, src=0)


def average_gradients(params: list[nn.Parameter], layout: Distributed) -> None:
    """Replace each gradient by its mean over the replicas (missing gradients count as zero)."""
    if not layout.enabled or not params:
        return
    grads = []
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        grads.append(p.grad)
    flat = torch._utils._flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat.div_(layout.world_size)
    for grad, synced in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads), strict=True):
        grad.copy_(synced)


def average_batch_norm_statistics(module: nn.Module, layout: Distributed) -> None:
    if not layout.enabled:
        return
    with torch.no_grad():
        for name, buffer in module.named_buffers():
            if name.rsplit(".", 1)[-1] in BATCH_NORM_STATISTICS:
                dist.all_reduce(buffer)
                buffer.div_(layout.world_size)


def any_replica(flag: bool, layout: Distributed) -> bool:
    """True when ``flag`` is True on any replica (e.g. a stop signal reached one of them)."""
    if not layout.enabled:
        return flag
    value = torch.tensor([int(flag)])
    dist.all_reduce(value, op=dist.ReduceOp.MAX, group=layout.control)
    return bool(value.item())


def state_digest(module: nn.Module) -> str:
    """A sha256 of every parameter and buffer, in name order: equal digests, equal weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(
            tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        )
    return digest.hexdigest()


def replica_digests(module: nn.Module, layout: Distributed) -> list[str]:
    """Every replica's :func:`state_digest` (one entry when not distributed)."""
    mine = state_digest(module)
    if not layout.enabled:
        return [mine]
    local = torch.tensor(list(bytes.fromhex(mine)), dtype=torch.uint8)
    gathered = [torch.empty_like(local) for _ in range(layout.world_size)]
    dist.all_gather(gathered, local, group=layout.control)
    return [bytes(t.tolist()).hex() for t in gathered]
