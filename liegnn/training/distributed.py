"""Data-parallel training across processes with ``torchrun`` and DistributedDataParallel.

Launch any training entry point with ``torchrun --nproc_per_node=K ...`` (and ``--nnodes``,
``--rdzv-endpoint`` for several machines). torchrun sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed` reads them and
starts the process group: NCCL when training on CUDA (each process on GPU ``LOCAL_RANK``), gloo
on CPU. Without those variables everything here is a no-op for a single process.

The :class:`~liegnn.training.trainer.Trainer` then shards every epoch's shuffled order across
ranks (``DistributedSampler``: rank r takes positions r, r + K, …), splits the global batch
evenly, averages gradients (DDP), reduces losses and gathers predictions so that the metrics
are those of the whole validation set, and writes files from rank 0 only.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: its rank among ``world_size`` processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes checkpoints, metrics and progress bars."""
        return self.rank == 0


def _launched() -> bool:
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def context() -> DistributedContext:
    """The context of the running process group, or a single process when none is running."""
    if dist.is_available() and dist.is_initialized():
        return DistributedContext(
            dist.get_rank(),
            dist.get_world_size(),
            int(os.environ.get("LOCAL_RANK", dist.get_rank())),
            dist.get_backend(),
        )
    return DistributedContext()


def init_distributed(
    device: str = "cpu", backend: str | None = None, timeout_s: float = 1800.0
) -> DistributedContext:
    """Start the process group when launched by ``torchrun`` (idempotent); else a no-op.

    Args:
        device: ``"cpu"`` or ``"cuda"``: picks the default backend (gloo / NCCL) and, on CUDA,
            the process's GPU ``LOCAL_RANK``.
        backend: override the backend.
        timeout_s: collective timeout.
    """
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if dist.is_available() and dist.is_initialized():
        return context()
    if not _launched():
        return DistributedContext()
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE is set but this torch build has no torch.distributed")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device='cuda' was asked for, but CUDA is not available")
        torch.cuda.set_device(local_rank)
    backend = backend or ("nccl" if device == "cuda" else "gloo")
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return context()


def shutdown() -> None:
    """Destroy the process group, if one is running."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def process_device(device: str, ctx: DistributedContext | None = None) -> torch.device:
    """The torch device of this process: ``cpu``, or ``cuda:LOCAL_RANK`` for ``"cuda"``
    (``"auto"`` picks CUDA when available)."""
    ctx = ctx or context()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was asked for, but CUDA is not available")
        if device == "cuda":
            return torch.device("cuda", ctx.local_rank if ctx.is_distributed else 0)
        return torch.device(device)
    raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}")


def wrap_model(model: nn.Module, device: torch.device, ctx: DistributedContext) -> nn.Module:
    """``DistributedDataParallel(model)`` in a process group, the model itself otherwise.

    DDP broadcasts rank 0's parameters and buffers at construction, so every rank starts from
    the same weights whatever its seed.
    """
    if not ctx.is_distributed:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Σ over ranks of ``values`` (returned; the input is not modified)."""
    out = values.clone()
    if context().is_distributed:
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def all_gather_concat(t: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's ``t`` along dim 0 (sizes may differ between ranks), rank order."""
    if not context().is_distributed:
        return t
    world = dist.get_world_size()
    size = torch.tensor([t.shape[0]], device=t.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    sizes = [int(s) for s in sizes]
    padded = t.new_zeros((max(sizes), *t.shape[1:]))
    padded[: t.shape[0]] = t
    parts = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[:n] for p, n in zip(parts, sizes, strict=True)])


def all_gather_objects(obj) -> list:
    """Every rank's ``obj`` (any picklable value, kept in memory), in rank order."""
    if not context().is_distributed:
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_buffers(module: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (e.g. BatchNorm running statistics) to every rank."""
    if not context().is_distributed:
        return
    for buf in module.buffers():
        dist.broadcast(buf, src)


def barrier() -> None:
    """Wait for every rank (no-op for one process)."""
    if context().is_distributed:
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()


__all__ = [
    "DistributedContext",
    "all_gather_concat",
    "all_gather_objects",
    "all_reduce_sum",
    "barrier",
    "broadcast_buffers",
    "context",
    "init_distributed",
    "process_device",
    "shutdown",
    "wrap_model",
]
