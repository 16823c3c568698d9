"""Named discovery tasks and :func:`run_task`, the engine of ``liegnn discover TASK``.

A task (:class:`DiscoveryTask`) bundles data, a tuned LieGAN recipe and the known truth. Task
modules are imported only when one of their tasks is asked for, so ``liegnn discover su2`` does
not load the top-tagging or QM9 code.

Example::

    from liegnn.discovery.tasks import run_task

    summary = run_task("partial-permutation", out="results/perm")
    summary["truth"]["subspace_similarity"]      # 1.0 for the rotation by 2π/3 about (1, 1, 1)
"""

from __future__ import annotations

import importlib
import inspect
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from ...io import output_lock
from ._task import DiscoveryTask, TaskData

__all__ = [
    "DiscoveryTask",
    "TaskData",
    "discovery_task",
    "run_task",
    "task_names",
    "task_summaries",
]

#: task name -> module of ``liegnn.discovery.tasks`` that defines it in ``TASKS``
_REGISTRY = {
    "nbody": "nbody",
    "nbody3": "nbody",
    "discrete-rotation": "synthetic",
    "partial-permutation": "synthetic",
    "su2": "synthetic",
    "digits": "synthetic",
    "toptag": "toptag",
    "qm9": "qm9",
}

#: one line per task for ``liegnn discover --help`` (kept here so the help imports nothing)
_SUMMARIES = {
    "nbody": "2-body orbits (8 dims, 5 + 5 steps, polar split): the rotation of the plane",
    "nbody3": "3-body orbits (12 dims, 5 + 5 steps, polar split): the rotation of the plane",
    "discrete-rotation": "C7 regression (Sec. 6.3): the rotation by 2π/7 about z, integer grid",
    "partial-permutation": "f(x) on R^5 (App. C.3): the 3-cycle of x1..x3, integer grid",
    "su2": "superpotential of two complex doublets (App. C.3): su(2), 3 complex channels",
    "digits": "rotated 8x8 digits (App. C.4): rotation and translations, affine, 2 channels",
    "toptag": "so(1,3) + scaling from the two leading constituents of top / QCD jets",
    "qm9": "QM9 atoms in affine coordinates (x, y, z, 1), 6 channels: se(3)",
}


def task_names() -> list[str]:
    """The names of every registered task, in the order of ``liegnn discover --help``."""
    return list(_REGISTRY)


def task_summaries() -> dict[str, str]:
    """``{name: one-line description}`` of every registered task (imports no task module)."""
    return dict(_SUMMARIES)


def discovery_task(name: str) -> DiscoveryTask:
    """The registered task ``name`` (its module is imported now)."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown discovery task {name!r}; choose one of {', '.join(_REGISTRY)}")
    module = importlib.import_module(f"{__name__}.{_REGISTRY[name]}")
    tasks = getattr(module, "TASKS", {})
    if name not in tasks:
        raise ValueError(f"module {module.__name__} does not define the task {name!r}")
    return tasks[name]


def resolve_task(task: str | os.PathLike | DiscoveryTask, **file_options) -> DiscoveryTask:
    """A task from a name, a user's ``.npz`` / ``.pt`` file (see :mod:`.user`) or a task."""
    if isinstance(task, DiscoveryTask):
        return task
    if isinstance(task, str) and task in _REGISTRY:
        return discovery_task(task)
    path = Path(task) if isinstance(task, str | os.PathLike) else None
    if path is not None and (path.suffix in (".npz", ".pt") or path.exists()):
        from .user import file_task

        return file_task(path, **file_options)
    raise ValueError(
        f"unknown discovery task {task!r}; choose one of {', '.join(_REGISTRY)}, or give a "
        ".npz / .pt file with an array 'x'"
    )


def _recipe_keys() -> set[str]:
    from ..lie_gan import LieGAN
    from ..settings import FIELDS

    params = set(inspect.signature(LieGAN.__init__).parameters) | set(FIELDS)
    return params - {"self", "seed", "device", "overrides"}


def merged_recipe(task: DiscoveryTask, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The task's LieGAN recipe with ``overrides`` on top (unknown keys are refused).

    Overriding ``coefficients`` drops the recipe's ``coefficient_options`` (they belong to the
    old distribution) unless new options are given too.
    """
    recipe = dict(task.recipe)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - _recipe_keys())
    if unknown:
        raise ValueError(
            f"unknown LieGAN setting(s) {unknown}; valid ones: {', '.join(sorted(_recipe_keys()))}"
        )
    if "coefficients" in overrides and "coefficient_options" not in overrides:
        recipe.pop("coefficient_options", None)
    recipe.update(overrides)
    if "n" not in recipe:
        raise ValueError(f"the recipe of task {task.name!r} does not set n")
    return recipe


def _jsonable(v):
    """Tensors and other values in a form ``json.dumps`` accepts (complex: Re and Im)."""
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu()
        if v.is_complex():
            return {"real": v.real.tolist(), "imag": v.imag.tolist()}
        return v.tolist()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return repr(v)


def _recipe_for_json(recipe: dict) -> dict:
    out = {}
    for k, v in recipe.items():
        if isinstance(v, torch.Tensor) and v.numel() > 16:
            out[k] = f"tensor{tuple(v.shape)}"
        else:
            out[k] = _jsonable(v)
    return out


def _fit_one(recipe, data, *, seed, epochs, steps_per_epoch, device, ckpt, resume, progress):
    from ..lie_gan import LieGAN

    settings = {k: v for k, v in recipe.items() if k not in ("n", "n_channels")}
    gan = LieGAN(recipe["n"], recipe.get("n_channels", 1), **settings, seed=seed, device=device)
    previous = ckpt if resume and ckpt.exists() else None
    try:
        return gan.fit(
            data.x,
            data.y,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            truth=data.truth,
            checkpoint=ckpt,
            resume=previous,
            progress=progress,
            **data.fit_kwargs,
        )
    except ValueError as err:
        if previous is not None and "checkpoint" in str(err):
            raise ValueError(_another_run(ckpt, err)) from None
        raise


def _another_run(ckpt: Path, err: Exception) -> str:
    return (
        f"{ckpt} belongs to another run ({err}); choose another out folder or start over "
        "with resume=False (liegnn discover --no-resume)"
    )


def run_task(
    task: str | os.PathLike | DiscoveryTask,
    *,
    out: str | os.PathLike,
    seed: int = 0,
    seeds: int | None = None,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
    quick: bool = False,
    device: str = "cpu",
    progress: bool = True,
    recipe: dict[str, Any] | None = None,
    resume: bool = True,
    file_options: dict[str, Any] | None = None,
    workers: int = 1,
    discrete: bool | dict[str, Any] = False,
) -> dict:
    """Discover the symmetry of a task and write ``basis.pt``, ``generators.png``, ``summary.json``.

    Trains ``seeds`` LieGAN runs (seeds ``seed, seed + 1, …``; default ``task.seeds``, 1 with
    ``quick``) with the task's recipe updated by ``recipe``, and keeps the one
    :func:`~liegnn.discovery.select_best` picks without looking at the truth. Every run writes a
    checkpoint to ``out/checkpoints/`` after each epoch; calling again with the same settings
    resumes an interrupted run (``resume=False`` starts over). ``out`` is locked while the task
    runs (:func:`liegnn.io.output_lock`): a second run on the same folder raises
    :class:`~liegnn.io.FolderInUseError`; a resume with other settings raises a ValueError
    naming them.

    Args:
        task: a registered name (:func:`task_names`), a :class:`DiscoveryTask`, or a user's
            ``.npz`` / ``.pt`` file (see :mod:`liegnn.discovery.tasks.user`).
        out: output folder.
        seed: the first training seed; also the seed of the task's data.
        seeds: number of runs to choose from.
        epochs, steps_per_epoch: override the task's training length.
        quick: the task's small version (tests, smoke runs).
        recipe: LieGAN settings overriding the task's recipe (e.g. ``{"n_channels": 2}``).
        file_options: options of :func:`~liegnn.discovery.tasks.user.file_task` for a file.
        workers: seeds trained at once in worker processes
            (:func:`~liegnn.discovery.fit_seeds`); 1 trains them one after the other here.
        discrete: also search the finite group (:class:`~liegnn.discovery.DiscreteSearch`, a
            dict of its settings or True for the defaults) on the same data: ``summary.json``
            gets a ``"discrete"`` part, the figure the group's generators, and
            ``symmetry.pt`` the whole :class:`~liegnn.Symmetry` (LieGAN's generators unless its
            run collapsed to g ≈ I, and the discrete generators).

    Returns:
        The summary written to ``out/summary.json``: the chosen generators and their canonical
        form, similarity to the truth (when known), the task's check, and every run's score.
    """
    task = resolve_task(task, **(file_options or {}))
    recipe = merged_recipe(task, recipe)
    n_seeds = seeds if seeds is not None else (1 if quick else task.seeds)
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {n_seeds!r}")
    epochs = epochs if epochs is not None else (task.quick_epochs if quick else task.epochs)
    steps_per_epoch = steps_per_epoch if steps_per_epoch is not None else task.steps_per_epoch
    out = Path(out)
    with output_lock(out, what="discovery run"):
        return _run_locked(
            task,
            recipe,
            out,
            seed=seed,
            n_seeds=n_seeds,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            quick=quick,
            device=device,
            progress=progress,
            resume=resume,
            workers=workers,
            discrete=discrete,
        )


def _discrete_part(task: DiscoveryTask, recipe: dict, data: TaskData, best, seed: int, options):
    """Run :class:`~liegnn.discovery.DiscreteSearch` on a task's data (vectors or trajectories
    acted on by the standard action), carrying LieGAN's generators unless the run collapsed to
    g ≈ I or they are all zero."""
    from ..discrete import DiscreteSearch

    rep_x = str(recipe.get("rep_x", "standard"))
    if rep_x != "standard" or data.fit_kwargs:
        raise ValueError(
            f"the discrete search needs vectors x (N, n) or (N, T, n) under the standard action; "
            f"task {task.name!r} has rep_x={rep_x!r} and {sorted(data.fit_kwargs) or 'no'} extras"
        )
    if data.x.is_complex():
        raise ValueError(f"the discrete search needs real data; task {task.name!r} is complex")
    rep_y = "standard" if str(recipe.get("rep_y", "trivial")) == "standard" else "invariant"
    settings = {"seed": seed, **(options if isinstance(options, dict) else {})}
    from ..evaluation import collapsed

    # a run that collapsed to g ≈ I (the partial-permutation task) found no identity component
    continuous = None if collapsed(best) or not best.generators.any() else best.generators
    return DiscreteSearch(**settings).fit(data.x, data.y, rep_y=rep_y, symmetry=continuous)


def _run_locked(
    task: DiscoveryTask,
    recipe: dict,
    out: Path,
    *,
    seed: int,
    n_seeds: int,
    epochs: int,
    steps_per_epoch: int,
    quick: bool,
    device: str,
    progress: bool,
    resume: bool,
    workers: int,
    discrete: bool | dict = False,
) -> dict:
    """:func:`run_task` once it holds ``out``."""
    from ..._atomic import atomic_write_json
    from ..evaluation import select_best

    start = time.perf_counter()
    data = task.load(int(seed), bool(quick))
    load_time = time.perf_counter() - start
    runs = []
    seed_list = list(range(int(seed), int(seed) + n_seeds))
    if workers > 1 and n_seeds > 1:
        from ..seeds import fit_seeds

        ckpt = out / "checkpoints" / "run.ckpt"  # fit_seeds names them run-seed<s>.ckpt
        options = {k: v for k, v in recipe.items() if k != "n_channels"}
        options["n_channels"] = recipe.get("n_channels", 1)
        try:
            runs = fit_seeds(
                data.x,
                data.y,
                seeds=seed_list,
                options={**options, "device": device},
                workers=workers,
                progress=progress,
                epochs=epochs,
                steps_per_epoch=steps_per_epoch,
                truth=data.truth,
                checkpoint=ckpt,
                resume=ckpt if resume else None,
                **data.fit_kwargs,
            )
        except ValueError as err:
            if resume and "different settings" in str(err):
                raise ValueError(_another_run(ckpt.parent, err)) from None
            raise
    for s in seed_list if not runs else []:
        ckpt = out / "checkpoints" / f"run-seed{s}.ckpt"
        runs.append(
            _fit_one(
                recipe,
                data,
                seed=s,
                epochs=epochs,
                steps_per_epoch=steps_per_epoch,
                device=device,
                ckpt=ckpt,
                resume=resume,
                progress=progress,
            )
        )
    select = task.select or select_best
    best = select(runs) if len(runs) > 1 else runs[0]
    chosen = int(best.config.get("seed", seed))

    best.save(out / "basis.pt")
    found = None
    if discrete:
        found = _discrete_part(task, recipe, data, best, chosen, discrete)
        found.symmetry.save(out / "symmetry.pt")
    import matplotlib.pyplot as plt

    # a basis of several channels has no scale per channel: show each at the same norm
    plt.close(
        best.plot(
            out / "generators.png",
            normalize=best.n_channels > 1,
            discrete=None if found is None else found.generators,
            discrete_titles=None if found is None else found.generator_names,
        )
    )

    def last(r, key):
        v = r.history.get(key) or [float("nan")]
        return v[-1]

    per_run = []
    for r in runs:
        row = {
            "seed": r.config.get("seed"),
            "loss_d": last(r, "loss_d"),
            "identity_reg": last(r, "identity_reg"),
            "train_time_s": last(r, "time"),
        }
        if data.truth is not None and bool(r.generators.any()):
            row.update({k: v for k, v in r.compare(data.truth).items() if k != "channel_cosine"})
        per_run.append(row)

    summary: dict[str, Any] = {
        "task": task.name,
        "description": task.description,
        "data": data.info,
        "recipe": _recipe_for_json(recipe),
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "quick": bool(quick),
        "seeds": [r["seed"] for r in per_run],
        "chosen_seed": chosen,
        "selection": getattr(select, "__name__", repr(select)),
        "runs": per_run,
        "generators": best.generators,
        "canonical": best.canonical(sparsify=True) if bool(best.generators.any()) else None,
        "truth": None,
        "check": None,
        "files": {"basis": "basis.pt", "figure": "generators.png"},
        "wall_time_s": None,
        "load_time_s": load_time,
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }
    if data.truth is not None and bool(best.generators.any()):  # an all-zero basis has no span
        summary["truth"] = best.compare(data.truth)
    if task.check is not None:
        summary["check"] = task.check(best, data)
    if found is not None:
        summary["discrete"] = found.to_dict()
        summary["files"]["symmetry"] = "symmetry.pt"
    summary["wall_time_s"] = time.perf_counter() - start
    summary = _jsonable(summary)
    atomic_write_json(summary, out / "summary.json")
    return summary
