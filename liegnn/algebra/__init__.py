"""Lie algebras as (c, n, n) tensors: known bases, brackets, comparisons, canonical forms."""

from .bases import (
    affine,
    direct_sum,
    gl,
    lorentz,
    minkowski_metric,
    replicate,
    scaling,
    se,
    so,
    so_pq,
    sp,
    su2,
    symplectic_form,
    translations,
)

__all__ = [
    "affine",
    "direct_sum",
    "gl",
    "lorentz",
    "minkowski_metric",
    "replicate",
    "scaling",
    "se",
    "so",
    "so_pq",
    "sp",
    "su2",
    "symplectic_form",
    "translations",
]
