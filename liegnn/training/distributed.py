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
        """Rank 0, the process that writes checkpoints, metrics and progress bars."""
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


#: environment variable with the seconds to wait for every process to join (default 60)
INIT_TIMEOUT_ENV = "LIEGNN_DIST_INIT_TIMEOUT"

_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _init_timeout(init_timeout_s: float | None) -> float:
    if init_timeout_s is None:
        raw = os.environ.get(INIT_TIMEOUT_ENV, "60")
        try:
            init_timeout_s = float(raw)
        except ValueError:
            raise ValueError(
                f"{INIT_TIMEOUT_ENV} must be a number of seconds, got {raw!r}"
            ) from None
    if not init_timeout_s > 0:
        raise ValueError(f"the init timeout must be positive, got {init_timeout_s!r}")
    return float(init_timeout_s)


class DistributedStartError(RuntimeError):
    """torchrun's variables are set, but the processes could not meet (a stale environment)."""


def _rendezvous_error(reason: str) -> DistributedStartError:
    found = ", ".join(f"{k}={os.environ[k]!r}" for k in _VARIABLES if k in os.environ)
    return DistributedStartError(
        f"torch.distributed could not start ({reason}). The environment sets {found}, so this "
        "process expects to be one of several started by torchrun. For a single-process run, "
        f"unset them (unset {' '.join(k for k in _VARIABLES if k in os.environ)}); under "
        f"torchrun, check that every process starts (or raise {INIT_TIMEOUT_ENV})."
    )


def init_distributed(
    device: str = "cpu",
    backend: str | None = None,
    timeout_s: float = 1800.0,
    init_timeout_s: float | None = None,
) -> DistributedContext:
    """Start the process group when launched by ``torchrun`` (idempotent); else a no-op.

    Args:
        device: ``"cpu"`` or ``"cuda"``: picks the default backend (gloo / NCCL) and, on CUDA,
            the process's GPU ``LOCAL_RANK``.
        backend: override the backend.
        timeout_s: collective timeout.
        init_timeout_s: seconds to wait for every process to join (default: the environment
            variable ``LIEGNN_DIST_INIT_TIMEOUT``, else 60). A stale ``WORLD_SIZE`` / ``RANK``
            left in the environment of a single process then ends in a RuntimeError naming
            them, not in a silent wait.
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
    wait = _init_timeout(init_timeout_s)
    # the rendezvous of init_process_group("env://"), with its own (short) timeout: the
    # process group's timeout is for collectives, which may wait long for a slow rank
    try:
        store, rank, world_size = next(
            dist.rendezvous("env://", timeout=datetime.timedelta(seconds=wait))
        )
    except (RuntimeError, ValueError) as err:  # DistStoreError is a RuntimeError
        first = str(err).strip().splitlines()
        reason = first[0] if first else type(err).__name__
        raise _rendezvous_error(f"rendezvous failed, waiting at most {wait:g} s: {reason}") from err
    timeout = datetime.timedelta(seconds=timeout_s)
    store.set_timeout(timeout)
    dist.init_process_group(backend, store=store, rank=rank, world_size=world_size, timeout=timeout)
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
    "INIT_TIMEOUT_ENV",
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
