"""End-to-end experiments: data + model + training + evaluation, one call each.

``train_toptag``, ``train_qm9`` and ``train_nbody`` (and :func:`run`, which dispatches on the task
name) are what ``liegnn train {toptag,qm9,nbody} --symmetry ...`` calls. Each builds the data
set and the model the symmetry asks for, trains with :class:`~liegnn.training.trainer.Trainer`
(resuming from ``out/last.pt`` when present), evaluates the best-validation weights on the test
split and writes ``out/metrics.json``; the same dict is returned. Under ``torchrun`` they train
data-parallel (see :mod:`~liegnn.training.distributed`).

Every experiment has two presets (:data:`PRESETS`): ``"cpu"`` (minutes on a laptop) and
``"full"`` (the published scale); keyword overrides win over the preset.
"""

from __future__ import annotations

from ._common import PRESETS, TASKS
from .nbody import nbody_model, train_nbody
from .qm9 import SelectTarget, TargetScale, train_qm9
from .toptag import MODELS, NODE_SCALARS, MassScalars, toptag_model, toptag_splits, train_toptag


def run(task: str, symmetry: str = "none", **kwargs) -> dict:
    """Dispatch to :func:`train_toptag`, :func:`train_qm9` or :func:`train_nbody`."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return {"toptag": train_toptag, "qm9": train_qm9, "nbody": train_nbody}[task](
        symmetry, **kwargs
    )


__all__ = [
    "MODELS",
    "NODE_SCALARS",
    "PRESETS",
    "MassScalars",
    "TASKS",
    "SelectTarget",
    "TargetScale",
    "nbody_model",
    "run",
    "toptag_model",
    "toptag_splits",
    "train_nbody",
    "train_qm9",
    "train_toptag",
]
