"""liegnn: discover the symmetries of data (LieGAN) and use them in equivariant graph networks."""

from . import algebra
from .metric import (
    MetricSolution,
    NoInvariantMetricError,
    NoInvariantMetricWarning,
    metric_similarity,
    solve_metric,
)

__version__ = "0.1.0"

__all__ = [
    "MetricSolution",
    "NoInvariantMetricError",
    "NoInvariantMetricWarning",
    "algebra",
    "metric_similarity",
    "solve_metric",
]
