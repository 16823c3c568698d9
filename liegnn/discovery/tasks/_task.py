"""A discovery task: data, a LieGAN recipe, and the known truth to compare with.

``liegnn discover TASK`` and the benchmarks run tasks through
:func:`~liegnn.discovery.tasks.run_task`; each task module (``synthetic``, ``nbody``,
``toptag``, ``qm9``) defines :class:`DiscoveryTask` objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class TaskData:
    """What ``LieGAN.fit`` needs for one task, plus the truth.

    Attributes:
        x: data (N, n), (N, T, n), (N, P, n) or images (N, C, H, W).
        y: targets / labels (N, ...) or None.
        fit_kwargs: further ``fit`` arguments (``point_mask``, ``features``, ``steps``).
        truth: known generators (c', n, n) of the symmetry, or None when there is none.
        info: facts about the data for the JSON summary (sizes, sources).
    """

    x: torch.Tensor
    y: torch.Tensor | None = None
    fit_kwargs: dict[str, Any] = field(default_factory=dict)
    truth: torch.Tensor | None = None
    info: dict[str, Any] = field(default_factory=dict)


#: the overrides that keep a recipe tuned before LieGAN's general defaults on its tuned course:
#: the paper code's Adam β for D (PyTorch's default), no moving average, and every one of the
#: task's epochs (no stopping rule: the span rule ignores the scale a discrete group needs), and
#: no retries (the tasks train several seeds and pick one with select_best)
AS_TUNED = dict(betas_d=(0.9, 0.999), ema=0.0, stop_tol=None, retries=0)


@dataclass
class DiscoveryTask:
    """A named discovery task.

    Attributes:
        name: the CLI name (``"nbody"``, ``"discrete-rotation"``, ...).
        description: one line for ``liegnn discover --help`` and the summary.
        load: ``load(seed, quick) -> TaskData``; ``quick`` gives a small, fast version for tests.
        recipe: ``LieGAN`` keyword arguments (``n`` and ``n_channels`` included): the
            defaults plus the task's overrides.
        epochs: ``fit`` epochs of the default run; ``quick_epochs`` for ``quick``.
        steps_per_epoch: ``fit``'s cap on batches per epoch (None: whole data).
        seeds: how many seeds the default run trains; ``select_best`` picks one (no truth used).
        check: optional ``check(result, data) -> dict`` of task-specific findings (e.g. that the
            exponentials are permutations, the metric's cosine with Minkowski).
        select: ``select(results) -> result``, how the default run picks one of its seeds
            without the truth; None: :func:`~liegnn.discovery.select_best` (the GAN's own
            losses). A task whose consumer needs more (top tagging: a metric for LieGNN) may
            judge the runs by that.
    """

    name: str
    description: str
    load: Callable[[int, bool], TaskData]
    recipe: dict[str, Any]
    epochs: int
    quick_epochs: int = 2
    steps_per_epoch: int | None = None
    seeds: int = 1
    check: Callable[[Any, TaskData], dict] | None = None
    select: Callable[[list], Any] | None = None
