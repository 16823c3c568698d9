"""Models: LieGNN message passing with a metric J, EMLP, and graph construction."""

from .conv import LieGNNConv
from .emlp import EMLP
from .graphs import LorentzNetInputs, MoleculeGraph, complete_graph, complete_graph_from_batch
from .liegnn import LieGNN
from .metric_tensor import MetricTensor, resolve_metric
from .psi import psi

__all__ = [
    "EMLP",
    "LieGNN",
    "LieGNNConv",
    "LorentzNetInputs",
    "MetricTensor",
    "MoleculeGraph",
    "complete_graph",
    "complete_graph_from_batch",
    "psi",
    "resolve_metric",
]
