"""Shared pieces of the experiments: presets, settings, splits, output folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .. import distributed as ddp
from ..config import TrainConfig
from ..symmetry import Symmetry

TASKS = ("toptag", "qm9", "nbody")

#: Per task: ``"cpu"`` (CPU-sized default) and ``"full"`` (published scale) settings. Keys are
#: data, model and :class:`TrainConfig` fields.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "toptag": {
        # LorentzNet's blocks, slimmed for a CPU: the 30 leading constituents (edges grow as
        # n²), 4 × 32 instead of 6 × 72; ~10 s per epoch of 1600 jets on 2 busy CPU cores
        "cpu": dict(
            n_jets=2000,
            n_train=None,  # None: the whole training split; N: its first N jets
            max_constituents=30,
            hidden=32,
            n_layers=4,
            dropout=0.2,
            epochs=10,
            batch_size=32,
            lr=1e-3,
            weight_decay=0.01,
            warmup_epochs=1,
        ),
        # LorentzNet / LieGAN paper: 1.2M / 400k / 400k reference jets, 6 × 72, dropout 0.2,
        # AdamW lr 1e-3 wd 0.01, 35 epochs, global batch 128 (4 GPUs × 32), warm-up + cosine
        "full": dict(
            n_jets=None,
            n_train=None,
            max_constituents=200,
            hidden=72,
            n_layers=6,
            dropout=0.2,
            epochs=35,
            batch_size=128,
            lr=1e-3,
            weight_decay=0.01,
            warmup_epochs=4,
        ),
    },
    "qm9": {
        "cpu": dict(
            subset=2000,
            hidden=64,
            n_layers=4,
            epochs=30,
            batch_size=32,
            lr=1e-3,
            weight_decay=1e-16,
            warmup_epochs=1,
            charge_power=2,
        ),
        # EGNN's QM9 recipe: 100k training molecules, 7 × 128, L1, Adam(W) lr 5e-4, batch 96,
        # 1000 epochs, cosine decay
        "full": dict(
            subset=None,
            hidden=128,
            n_layers=7,
            epochs=1000,
            batch_size=96,
            lr=5e-4,
            weight_decay=1e-16,
            warmup_epochs=0,
            charge_power=2,
        ),
    },
    "nbody": {
        "cpu": dict(
            n_trajectories=200,
            hidden=128,
            n_layers=3,
            epochs=100,
            batch_size=64,
            lr=1e-3,
            weight_decay=0.0,
            warmup_epochs=1,
        ),
        # LieGAN paper, App. B.1 / C.1: 1000 trajectories, 3 hidden layers, lr 1e-4 (EMLP),
        # 5000 epochs
        "full": dict(
            n_trajectories=1000,
            hidden=128,
            n_layers=3,
            epochs=5000,
            batch_size=256,
            lr=1e-4,
            weight_decay=0.0,
            warmup_epochs=0,
        ),
    },
}

_TRAIN_FIELDS = set(TrainConfig.__dataclass_fields__)


def settings(task: str, preset: str, overrides: dict) -> dict:
    if preset not in PRESETS[task]:
        raise ValueError(f"preset must be one of {tuple(PRESETS[task])}, got {preset!r}")
    settings = dict(PRESETS[task][preset])
    given = {k for k, v in overrides.items() if v is not None}  # None: "not given" (CLI)
    unknown = sorted(given - set(settings) - _TRAIN_FIELDS)
    if unknown:
        raise ValueError(
            f"unknown setting(s) {unknown} for {task}; use preset keys {sorted(settings)} or "
            "TrainConfig fields"
        )
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


def train_config(settings: dict, **fields) -> TrainConfig:
    picked = {k: v for k, v in settings.items() if k in _TRAIN_FIELDS}
    picked.update(fields)
    return TrainConfig(**picked)


def main_first(make):
    """Run ``make()`` on rank 0 first (it may generate and cache data), then on the others."""
    ctx = ddp.context()
    if ctx.is_main:
        out = make()
    ddp.barrier()
    if not ctx.is_main:
        out = make()
    ddp.barrier()
    return out


def out_dir(out, task: str, symmetry: Symmetry | str, seed: int, augment: bool) -> Path:
    """``out``, else ``runs/<task>-<tag>[-augmented]-seed<seed>`` with the symmetry's tag (or
    a given tag string)."""
    if out is not None:
        return Path(out)
    aug = "-augmented" if augment else ""
    tag = symmetry if isinstance(symmetry, str) else symmetry.tag
    return Path("runs") / f"{task}-{tag}{aug}-seed{seed}"


def random_split(dataset, fractions, seed: int):
    """Train / val / test subsets of sizes ⌊f₀N⌋, ⌊f₁N⌋ and the rest: ``torch.utils.data.
    random_split`` with a generator seeded by ``seed`` (one ``randperm`` of N, cut in order)."""
    n = len(dataset)
    n_train, n_val = int(fractions[0] * n), int(fractions[1] * n)
    if min(n_train, n_val, n - n_train - n_val) < 1:
        raise ValueError(f"{n} examples are too few to split into train / val / test")
    return tuple(
        torch.utils.data.random_split(
            dataset,
            [n_train, n_val, n - n_train - n_val],
            generator=torch.Generator().manual_seed(seed),
        )
    )
