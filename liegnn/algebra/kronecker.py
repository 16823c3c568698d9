"""Kronecker products and Kronecker sums: a Lie algebra and its group acting on a tensor product.

For factors of dimensions d_1, …, d_m (N = Π_j d_j), the matrix A (d_j, d_j) at factor j is

    A^{(j)} = I_{d_1⋯d_{j−1}} ⊗ A ⊗ I_{d_{j+1}⋯d_m},

so the Lie algebra acts by the Kronecker sum dρ(L) = Σ_j (L_j)^{(j)} and the group by the
Kronecker product ρ(h) = ⊗_j h_j = Π_j (h_j)^{(j)}. One index rule (:func:`factor_position`)
gives three forms of the same operators: matrix-free application to vectors (:func:`at_factor`,
:func:`kron_sum_apply`, :func:`kron_product_apply`: never an N × N matrix), dense tensors
(:func:`kron_sum`, the sum applied to the identity) and sparse scipy matrices
(:func:`kron_sum_sparse`); the solver's sparse operator in a Kronecker eigenbasis uses the same
rule for its strides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = [
    "at_factor",
    "factor_position",
    "kron",
    "kron_product_apply",
    "kron_sum",
    "kron_sum_apply",
    "kron_sum_sparse",
]


def factor_position(dims: Sequence[int], j: int) -> tuple[int, int, int]:
    """(Π_{i<j} d_i, d_j, Π_{i>j} d_i): A^{(j)} = I_left ⊗ A ⊗ I_right."""
    return math.prod(dims[:j]), dims[j], math.prod(dims[j + 1 :])


def at_factor(A: torch.Tensor, v: torch.Tensor, dims: Sequence[int], j: int) -> torch.Tensor:
    """A^{(j)} v = (I ⊗ A ⊗ I) v for v (..., N, p), without forming the N × N matrix.

    ``A``: (d_j, d_j), or a batch (b, d_j, d_j), which gives (b, N, p) for v (N, p). Rows of v
    are in the row-major (Kronecker) order of the factors ``dims``.
    """
    left, d, right = factor_position(dims, j)
    p = v.shape[-1]
    w = v.reshape(*v.shape[:-2], left, d, right * p)
    out = torch.matmul(A.unsqueeze(-3), w)
    return out.reshape(*out.shape[:-3], left * d * right, p)


def kron_sum_apply(mats: Sequence[torch.Tensor], v: torch.Tensor) -> torch.Tensor:
    """(Σ_j mats[j]^{(j)}) v: the Kronecker sum applied to v (..., N, p), matrix-free."""
    dims = [A.shape[-1] for A in mats]
    out = at_factor(mats[0], v, dims, 0)
    for j in range(1, len(mats)):
        out = out + at_factor(mats[j], v, dims, j)
    return out


def kron_product_apply(mats: Sequence[torch.Tensor], v: torch.Tensor) -> torch.Tensor:
    """(⊗_j mats[j]) v = Π_j mats[j]^{(j)} v for v (..., N, p), matrix-free.

    The factors act on different axes, so they commute and the order of the product is free.
    """
    dims = [A.shape[-1] for A in mats]
    for j, A in enumerate(mats):
        v = at_factor(A, v, dims, j)
    return v


def kron_sum(mats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Σ_j I ⊗ … ⊗ A_j ⊗ … ⊗ I as a dense (c, N, N) tensor, for a list of (c, d_j, d_j).

    The matrix-free sum applied to the identity, so every entry is an entry of some A_j (or 0).
    """
    N = math.prod(A.shape[-1] for A in mats)
    eye = torch.eye(N, dtype=mats[0].dtype, device=mats[0].device)
    return kron_sum_apply(mats, eye)


def kron_sum_sparse(mats: Sequence):
    """Σ_j I ⊗ … ⊗ mats[j] ⊗ … ⊗ I as a scipy CSR matrix, for 2-D arrays mats[j] (d_j, d_j).

    At most Σ_j d_j non-zeros per row; used where a sparse operator is wanted (Lanczos).
    """
    import scipy.sparse

    dims = [A.shape[-1] for A in mats]
    out = None
    for j, A in enumerate(mats):
        left, _, right = factor_position(dims, j)
        term = scipy.sparse.kron(
            scipy.sparse.identity(left), scipy.sparse.kron(A, scipy.sparse.identity(right))
        )
        out = term if out is None else out + term
    return out.tocsr()


def kron(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched Kronecker product: (k, p, q), (k, r, s) → (k, p·r, q·s)."""
    k, p, q = a.shape
    _, r, s = b.shape
    return torch.einsum("kij,kab->kiajb", a, b).reshape(k, p * r, q * s)
