"""Training plumbing shared by LieGAN and the baselines: seeding, batches, checkpoints, history."""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from ..io import atomic_torch_save, check_resume_config, safe_torch_load


@contextlib.contextmanager
def seeded(seed: int):
    """Run a block (module initialisation) with the global CPU RNG seeded, then restore it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def as_device(device) -> torch.device:
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}; use cpu, cuda or cuda:K ({err})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available")
    return device


def batch_indices(
    n_samples: int, batch_size: int, rng: torch.Generator, steps: int | None = None
) -> Iterator[torch.Tensor]:
    """Shuffled index batches of one epoch (the last may be smaller); at most ``steps`` of them."""
    perm = torch.randperm(n_samples, generator=rng)
    starts = range(0, n_samples, batch_size)
    if steps is not None:
        starts = list(starts)[:steps]
    for s in starts:
        yield perm[s : s + batch_size]


class Checkpointer:
    """Every-epoch checkpoints written atomically and loaded with ``weights_only=True``
    (:mod:`liegnn.io`).

    A checkpoint holds the state dicts of the modules and optimisers, the RNG states, the epoch,
    the history, the run's configuration and a fingerprint of the data, so resuming continues
    exactly where the interrupted run stopped.
    """

    def __init__(self, path: str | os.PathLike | None):
        self.path = None if path is None else Path(path)

    def save(
        self, *, epoch: int, modules: dict, rngs: dict, history: dict, config: dict, data
    ) -> None:
        if self.path is None:
            return
        state = {
            "epoch": epoch,
            "modules": {k: v.state_dict() for k, v in modules.items()},
            "rngs": {k: g.get_state() for k, g in rngs.items()},
            "history": json.dumps(history),
            "config": json.dumps(config, sort_keys=True),
            "data": data,
        }
        atomic_torch_save(state, self.path)

    @staticmethod
    def restore(path, *, modules: dict, rngs: dict, config: dict, data) -> tuple[int, dict]:
        """Load a checkpoint into ``modules`` and ``rngs``; returns (epoch, history)."""
        state = safe_torch_load(path, what="checkpoint to resume from")
        if not isinstance(state, dict) or "modules" not in state:
            raise ValueError(f"{path} is not a discovery checkpoint")
        check_resume_config(path, json.loads(state["config"]), config)
        saved_data = list(state["data"])
        same = len(saved_data) == len(data) and all(
            math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
            for a, b in zip(saved_data, data, strict=True)
        )
        if not same:
            raise ValueError(f"checkpoint {path} was written for different training data")
        for k, m in modules.items():
            m.load_state_dict(state["modules"][k])
        for k, g in rngs.items():
            g.set_state(state["rngs"][k])
        return int(state["epoch"]), json.loads(state["history"])


class History:
    """Per-epoch means of step metrics plus extra per-epoch values; JSON-serialisable."""

    def __init__(self, data: dict | None = None):
        self.data: dict[str, list] = {k: list(v) for k, v in (data or {}).items()}
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}

    def step(self, **values: torch.Tensor) -> None:
        for k, v in values.items():
            v = v.detach()
            self._sums[k] = self._sums[k] + v if k in self._sums else v
            self._counts[k] = self._counts.get(k, 0) + 1

    def end_epoch(self, **extra) -> dict:
        row = {k: float(v) / self._counts[k] for k, v in self._sums.items()}
        row.update(extra)
        for k, v in row.items():
            self.data.setdefault(k, []).append(v)
        self._sums, self._counts = {}, {}
        return row


class Clock:
    """Wall time of training, continued across a resume."""

    def __init__(self, offset: float = 0.0):
        self.offset, self.start = offset, time.perf_counter()

    def __call__(self) -> float:
        return self.offset + time.perf_counter() - self.start


def progress_bar(total: int, initial: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, desc=desc, unit="epoch")


def call_back(callback: Callable | None, epoch: int, row: dict) -> bool:
    """Run the user's callback(epoch, row); a truthy return value stops training."""
    return bool(callback(epoch, row)) if callback is not None else False
