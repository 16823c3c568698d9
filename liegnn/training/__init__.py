"""Training: AdamW with warm-up + cosine, checkpoints that resume exactly, metrics, torchrun DDP,
augmentation by a Lie group (Eq. 11), the peer top taggers (PELICAN, L-GATr, LLoCa; the
``[peers]`` extra), and the end-to-end experiments behind ``liegnn train``.

Submodules load on first use (``liegnn.training.experiments`` pulls in the data sets and models).
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "WarmupCosine": "schedule",
    "adamw": "schedule",
    "warmup_cosine": "schedule",
    "accuracy": "metrics",
    "background_rejection": "metrics",
    "classification_metrics": "metrics",
    "mean_absolute_error": "metrics",
    "regression_metrics": "metrics",
    "roc_auc": "metrics",
    "roc_curve": "metrics",
    "TrainConfig": "config",
    "Trainer": "trainer",
    "fit": "trainer",
    "load_checkpoint": "checkpoint",
    "load_weights": "checkpoint",
    "init_distributed": "distributed",
    "SymmetryAugmentation": "augmentation",
    "DeepSets": "baselines",
    "MLP": "baselines",
    "parse_symmetry": "symmetry",
    "load_metric": "symmetry",
    "peer_model": "peers",
    "run": "experiments",
    "train_toptag": "experiments",
    "train_qm9": "experiments",
    "train_nbody": "experiments",
    "PRESETS": "experiments",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
