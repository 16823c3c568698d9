"""Canonical, readable bases of a span of matrices.

A discovered basis is only defined up to an invertible recombination of its channels (and noise).
:func:`canonicalize` maps every basis of the same span to the same output, chosen to be easy to
read, in three steps that depend only on the span:

1. **Orthonormalise.** Q: Frobenius-orthonormal basis of the span; rank by singular-value cut.
2. **Pivot.** Greedy pivoted Gram–Schmidt on the matrix units E_kl projected on the span: the
   first pivot is the entry (k, l) whose unit E_kl has the largest projection on the span, the
   next maximises the part orthogonal to the projections already chosen, and so on. Near ties
   (within ``tie_rtol`` of the best) go to the first entry in row-major order, so small noise
   does not change the pivots. The projections do not depend on the basis of the span.
3. **Sort.** The elements are ordered by the position of their pivot (row-major).
4. **Basis.** ``sparsify=False``: the Gram–Schmidt orthonormal basis of those projections, in
   that order (element m is the normalised part of E_{k_m l_m} orthogonal to the earlier ones;
   its pivot entry is positive). ``sparsify=True``: the reduced row echelon form relative to the
   pivots — element m has a 1 at its own pivot and 0 at every other pivot. For an algebra with a
   basis of matrix units combinations (so(n), so(1, 3), sp(2n), se(n)) this returns those sparse
   generators (e.g. E_ij − E_ji) from any recombination of them.

Complex matrices are treated as real vectors (Re, Im) (spans over ℝ); a pivot may then sit on an
imaginary part.
"""

from __future__ import annotations

import torch

from .._validation import as_generators

__all__ = ["canonicalize", "span_pivots"]


def _to_real(L: torch.Tensor) -> torch.Tensor:
    v = L.flatten(1)
    return torch.cat([v.real, v.imag], dim=1) if v.is_complex() else v


def _from_real(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    n = like.shape[-1]
    if like.is_complex():
        return torch.complex(v[:, : n * n], v[:, n * n :]).reshape(-1, n, n).to(like.dtype)
    return v.reshape(-1, n, n)


def _orthonormal_basis(v: torch.Tensor, rtol: float | None) -> torch.Tensor:
    """Orthonormal rows spanning the rows of v (c, N); shape (r, N)."""
    _, S, Vh = torch.linalg.svd(v, full_matrices=False)
    if S.numel() == 0 or S[0] == 0:
        raise ValueError("cannot canonicalise an all-zero set of matrices (empty span)")
    if rtol is None:
        rtol = max(v.shape) * torch.finfo(S.dtype).eps
    return Vh[: int((S > rtol * S[0]).sum())]


def _pivots(Q: torch.Tensor, tie_rtol: float) -> list[int]:
    """Pivoted Gram–Schmidt on the columns of Q (r, N); returns r column indices."""
    R = Q.clone()
    pivots: list[int] = []
    for _ in range(Q.shape[0]):
        norms = (R**2).sum(dim=0)
        best = norms.max()
        k = int(torch.nonzero(norms >= (1 - tie_rtol) * best)[0])
        pivots.append(k)
        u = R[:, k] / best.sqrt()
        R = R - u[:, None] * (u @ R)[None, :]
    return pivots


def span_pivots(generators, *, rtol: float | None = None, tie_rtol: float = 1e-2) -> list[int]:
    """Flat indices of the pivot entries that :func:`canonicalize` uses, ascending (row-major).

    For complex input, indices ≥ n² refer to imaginary parts (index − n²).
    """
    L = as_generators(generators)
    return sorted(_pivots(_orthonormal_basis(_to_real(L), rtol), tie_rtol))


def canonicalize(
    generators,
    *,
    sparsify: bool = False,
    rtol: float | None = None,
    tie_rtol: float = 1e-2,
    atol: float = 0.0,
) -> torch.Tensor:
    """A canonical basis of span{L_i}: the same output for every basis of the same span.

    Args:
        generators: (c, n, n) matrices (real or complex).
        sparsify: ``False`` gives a Frobenius-orthonormal basis; ``True`` the reduced row echelon
            form relative to the pivots (a 1 at each element's pivot, 0 at the others' pivots),
            which is sparse for the usual algebras. See the module docstring.
        rtol: singular values of the flattened channels below ``rtol · σ_max`` do not count as
            dimensions of the span (default: ``max(c, n²) · eps``). For a noisy found basis with
            redundant channels, set it to about the noise level.
        tie_rtol: pivot candidates within this relative margin of the best count as tied; the
            first in row-major order wins.
        atol: entries with ``|x| ≤ atol · max|L_m|`` are set to exactly 0 (for display).

    Returns:
        (r, n, n) with r = dim span ≤ c, ordered by pivot position; sign rule: each element's pivot
        entry is positive.
    """
    L = as_generators(generators)
    if atol < 0 or tie_rtol < 0 or (rtol is not None and rtol < 0):
        raise ValueError("rtol, tie_rtol and atol must be non-negative")
    Q = _orthonormal_basis(_to_real(L), rtol)
    piv = sorted(_pivots(Q, tie_rtol))
    C = Q[:, piv]  # (r, r): coordinates of the projected pivot units in the Q basis
    if sparsify:
        out = torch.linalg.solve(C, Q)  # rows with out[:, piv] = I
    else:
        # Gram–Schmidt of the projected units P E_{k_m} = Σ_a C[a, m] Q_a, in sorted order.
        U, R = torch.linalg.qr(C)
        signs = torch.sign(torch.diagonal(R))
        signs[signs == 0] = 1
        out = (U * signs).transpose(0, 1) @ Q
    if atol > 0:
        scale = out.abs().amax(dim=1, keepdim=True)
        out = torch.where(out.abs() <= atol * scale, torch.zeros_like(out), out)
    return _from_real(out + 0.0, L)  # + 0.0 turns −0.0 into 0.0 for display
