"""Datasets: top-quark tagging, QM9, N-body orbits and the paper's synthetic tasks.

Submodules are imported on first use, so ``import liegnn.datasets`` stays light and optional
dependencies (h5py, pandas, pythia8mc, fastjet, qm9pack, scikit-learn) load only when needed.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "NBodySplit": "nbody",
    "generate_trajectories": "nbody",
    "load_nbody": "nbody",
    "discrete_rotation": "synthetic",
    "partial_permutation": "synthetic",
    "su2_superpotential": "synthetic",
    "rotated_digits": "synthetic",
    "Jets": "toptag_files",
    "read_jets": "toptag_files",
    "TopTagging": "toptag",
    "generated_toptag": "toptag",
    "generate_toptag": "toptag_generate",
    "QM9": "qm9",
    "qm9_split": "qm9",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
