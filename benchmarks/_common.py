"""The discovery stage the benchmarks share: a task through ``run_task``, cached by its settings.

A benchmark discovers with :func:`liegnn.discovery.tasks.run_task` (the engine of
``liegnn discover TASK``: the task's recipe, seeds, ``select_best``, ``basis.pt``, heatmap,
``summary.json``, resume) and passes what it found downstream as a ``--symmetry`` value
(``discovered:<folder>/basis.pt``). :func:`discover` adds what a benchmark needs on top: a
folder that is reused only while the settings that determine the basis are the same, and a
digest of the basis that keys every row trained on it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from liegnn._atomic import atomic_write_json

__all__ = ["Discovery", "basis_digest", "digest", "discover"]

_SETTINGS = "settings.json"


def _plain(v):
    """``v`` in a form ``json.dumps`` accepts, tensors as lists (for hashing settings)."""
    if isinstance(v, torch.Tensor):
        return _plain(v.detach().cpu().tolist()) if not v.is_complex() else repr(v.tolist())
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v if v is None or isinstance(v, bool | int | float | str) else repr(v)


def digest(obj, length: int = 10) -> str:
    """A short hash of JSON-able settings (tensors allowed)."""
    text = json.dumps(_plain(obj), sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def basis_digest(path: str | os.PathLike) -> str:
    """A short hash of the generators in a basis file: rows trained on a basis keep it in their
    key, so a new discovery makes them stale."""
    from liegnn import Symmetry

    L = Symmetry.load(path).generators.detach().cpu().contiguous()
    return hashlib.sha1(L.numpy().tobytes()).hexdigest()[:10]


@dataclass(frozen=True)
class Discovery:
    """A finished ``run_task``: its folder, its ``summary.json`` and the settings' key."""

    folder: Path
    summary: dict
    key: str
    cached: bool

    @property
    def basis(self) -> Path:
        return self.folder / "basis.pt"

    @property
    def symmetry_spec(self) -> str:
        """The ``--symmetry`` value of the found basis for the training experiments."""
        return f"discovered:{self.basis}"

    @property
    def digest(self) -> str:
        return basis_digest(self.basis)

    def truth(self, key: str, default=None):
        """An entry of the comparison with the task's truth (None when there is no truth)."""
        return (self.summary.get("truth") or {}).get(key, default)

    def per_seed(self, key: str) -> list:
        """One entry of every run's row (``subspace_similarity``, ``mean_channel_cosine``, …)."""
        return [run.get(key) for run in self.summary["runs"]]


def _settings(task, recipe, seed: int, seeds, epochs, quick: bool, data) -> dict:
    """Everything that determines the basis: the task's merged recipe, LieGAN's full
    configuration (so that a change of its defaults counts too), run length, seeds, data."""
    from liegnn.discovery import LieGAN
    from liegnn.discovery.tasks import merged_recipe

    merged = merged_recipe(task, recipe)
    options = {k: v for k, v in merged.items() if k not in ("n", "n_channels")}
    config = LieGAN(merged["n"], merged.get("n_channels", 1), **options).config()
    config.pop("seed", None)
    return {
        "task": task.name,
        "recipe": _plain(merged),
        "config": _plain(config),
        # the run's length as asked (None: the task's, which are the next entry)
        "run": {"epochs": epochs, "seeds": seeds, "seed": seed, "quick": quick},
        "task_run": [task.epochs, task.quick_epochs, task.steps_per_epoch, task.seeds],
        "data": _plain(data),
    }


def discover(
    task,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    seeds: int | None = None,
    epochs: int | None = None,
    recipe: dict[str, Any] | None = None,
    quick: bool = False,
    data=None,
    workers: int = 1,
    device: str = "cpu",
    progress: bool = False,
) -> Discovery:
    """``run_task(task, out=out, ...)``, or its earlier summary when the settings are the same.

    Args:
        task: a registered task name or a :class:`~liegnn.discovery.tasks.DiscoveryTask` (e.g.
            a registered one with the benchmark's data: ``dataclasses.replace(task, load=...)``).
        out: the task's folder (``basis.pt``, ``generators.png``, ``summary.json``,
            ``checkpoints/``, and ``settings.json`` with the key). When the settings differ
            from the ones it holds, the discovery starts over.
        seeds, epochs: None: the task's own.
        recipe: LieGAN settings overriding the task's recipe (an ablation such as no mask).
        quick: the task's small version (smoke runs).
        data: JSON-able description of the data of a task whose ``load`` was replaced (a
            function has no value to compare).
    """
    from liegnn.discovery.tasks import resolve_task, run_task

    task = resolve_task(task)
    out = Path(out)
    settings = _settings(task, recipe, seed, seeds, epochs, quick, data)
    key = digest(settings)
    summary_path, settings_path = out / "summary.json", out / _SETTINGS
    old = json.loads(settings_path.read_text()).get("key") if settings_path.is_file() else None
    if old == key and summary_path.is_file() and (out / "basis.pt").is_file():
        return Discovery(out, json.loads(summary_path.read_text()), key, cached=True)
    if old != key:  # another discovery: nothing of the earlier one may be resumed or reused
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
        for name in ("summary.json", "basis.pt", "generators.png"):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json({"key": key, **settings}, settings_path)
    summary = run_task(
        task,
        out=out,
        seed=seed,
        seeds=seeds,
        epochs=epochs,
        recipe=recipe,
        quick=quick,
        device=device,
        progress=progress,
        workers=workers,
    )
    return Discovery(out, summary, key, cached=False)
