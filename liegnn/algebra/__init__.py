"""Lie algebras as (c, n, n) tensors: known bases, brackets, comparisons, canonical forms."""

from .bases import (
    affine,
    by_name,
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
from .canonical import canonicalize, span_pivots
from .compare import (
    channel_cosine,
    generator_mae,
    match_channels,
    principal_cosines,
    subspace_similarity,
)
from .e3nn import irreps_generators, irreps_parity
from .elements import group_elements, normalize_channels, sample_coefficients
from .structure import (
    bracket,
    closure_error,
    gl_killing_form,
    killing_cosine,
    killing_form,
    structure_constants,
)

__all__ = [
    # known bases
    "affine",
    "by_name",
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
    # structure
    "bracket",
    "closure_error",
    "gl_killing_form",
    "killing_cosine",
    "killing_form",
    "structure_constants",
    # comparisons
    "channel_cosine",
    "generator_mae",
    "match_channels",
    "principal_cosines",
    "subspace_similarity",
    # canonical forms
    "canonicalize",
    "span_pivots",
    # group elements
    "group_elements",
    "normalize_channels",
    "sample_coefficients",
    # e3nn interop
    "irreps_generators",
    "irreps_parity",
]
