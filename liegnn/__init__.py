"""liegnn: discover the symmetries of data (LieGAN) and use them in equivariant graph networks."""

from . import algebra, discovery
from .discovery import DiscoveryResult, LieGAN
from .metric import (
    MetricSolution,
    NoInvariantMetricError,
    NoInvariantMetricWarning,
    metric_similarity,
    solve_metric,
)
from .nn.conv import LieGNNConv
from .nn.emlp import EMLP
from .nn.graphs import LorentzNetInputs, MoleculeGraph, complete_graph
from .nn.liegnn import LieGNN
from .nullspace import BasisInfo, SpectrumWarning, clear_cache, equivariant_basis
from .reps import Scalar, V
from .symmetry import Group, Symmetry, as_symmetry

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("liegnn")  # one source: pyproject.toml
except PackageNotFoundError:  # a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "DiscoveryResult",
    "LieGAN",
    "discovery",
    "LieGNN",
    "LieGNNConv",
    "LorentzNetInputs",
    "MoleculeGraph",
    "complete_graph",
    "EMLP",
    "BasisInfo",
    "Group",
    "Scalar",
    "SpectrumWarning",
    "Symmetry",
    "as_symmetry",
    "V",
    "clear_cache",
    "equivariant_basis",
    "MetricSolution",
    "NoInvariantMetricError",
    "NoInvariantMetricWarning",
    "algebra",
    "metric_similarity",
    "solve_metric",
]
