"""Lie bracket, structure constants, closure of a span, and Killing forms.

A set of generators L_1..L_c (shape (c, n, n)) spans a Lie algebra when the span is closed under
the bracket [X, Y] = XY − YX. Spans are taken over ℝ, also for complex matrices: the group
elements exp(Σ_i w_i L_i) of LieGAN use real coefficients w, so su(2) = span_ℝ{−(i/2) σ_k} is a
real Lie algebra with real structure constants.
"""

from __future__ import annotations

import torch

from .._validation import as_generators

__all__ = [
    "bracket",
    "closure_error",
    "gl_killing_form",
    "killing_cosine",
    "killing_form",
    "structure_constants",
]


def bracket(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Commutator [X, Y] = XY − YX; broadcasts over leading dimensions, shape (..., n, n)."""
    X = torch.as_tensor(X)
    Y = torch.as_tensor(Y)
    if X.ndim < 2 or X.shape[-1] != X.shape[-2] or Y.ndim < 2 or Y.shape[-1] != Y.shape[-2]:
        raise ValueError(
            f"bracket needs square matrices, got shapes {tuple(X.shape)} and {tuple(Y.shape)}"
        )
    if X.shape[-1] != Y.shape[-1]:
        raise ValueError(f"bracket of {X.shape[-1]}×{X.shape[-1]} and {Y.shape[-1]}×{Y.shape[-1]}")
    return X @ Y - Y @ X


def _real_vectors(L: torch.Tensor) -> torch.Tensor:
    """Flatten (c, n, n) to real vectors (c, n²), or (c, 2n²) as (Re, Im) for complex input."""
    v = L.flatten(-2)
    if v.is_complex():
        v = torch.cat([v.real, v.imag], dim=-1)
    return v


def _all_brackets(L: torch.Tensor) -> torch.Tensor:
    """[L_i, L_j] for every pair, shape (c, c, n, n)."""
    return bracket(L[:, None], L[None, :])


def structure_constants(generators) -> torch.Tensor:
    """Structure constants C with [L_i, L_j] ≈ Σ_k C_ijk L_k, shape (c, c, c), real.

    Least-squares projection of each bracket on span_ℝ{L_k} (Frobenius geometry). Exact for a
    basis of a Lie algebra; for a span that does not close, the part of [L_i, L_j] outside the
    span is dropped (see :func:`closure_error`). Linearly dependent generators give the
    minimum-norm solution.
    """
    L = as_generators(generators)
    c = L.shape[0]
    A = _real_vectors(L).transpose(0, 1)  # (N, c)
    b = _real_vectors(_all_brackets(L)).reshape(c * c, -1).transpose(0, 1)  # (N, c²)
    C = torch.linalg.pinv(A) @ b  # (c, c²): column (i, j) holds the coefficients of [L_i, L_j]
    return C.transpose(0, 1).reshape(c, c, c)


def _orthonormal_rows(v: torch.Tensor, rtol: float | None) -> torch.Tensor:
    U, S, _ = torch.linalg.svd(v.transpose(0, 1), full_matrices=False)
    if S.numel() == 0 or S[0] == 0:
        return U[:, :0].transpose(0, 1)
    if rtol is None:
        rtol = max(v.shape) * torch.finfo(S.dtype).eps
    return U[:, : int((S > rtol * S[0]).sum())].transpose(0, 1)


def closure_error(generators, *, rtol: float | None = None) -> float:
    """How far span{L_i} is from closing under the bracket (0 for a Lie algebra).

    With Q_1..Q_r a Frobenius-orthonormal basis of the span (channels that are combinations of
    the others, up to ``rtol`` relative to the largest singular value, add no dimension) and
    P the projection on the span,

        closure_error = sqrt( mean_{a<b} ‖(1 − P) [Q_a, Q_b]‖_F² ),

    the root-mean-square part of a bracket of unit generators that falls outside the span. It
    does not depend on the basis or the scale of the generators, lies in [0, √2]
    (‖[X, Y]‖_F ≤ √2 ‖X‖_F ‖Y‖_F), and is 0 for a single generator. Noise of relative size σ on the
    generators gives an error of order σ.
    """
    L = as_generators(generators)
    n = L.shape[-1]
    Q = _orthonormal_rows(_real_vectors(L), rtol)
    r = Q.shape[0]
    if r < 2:
        return 0.0
    if L.is_complex():
        mats = torch.complex(Q[:, : n * n], Q[:, n * n :]).reshape(r, n, n)
    else:
        mats = Q.reshape(r, n, n)
    iu = torch.triu_indices(r, r, offset=1)
    br = _real_vectors(bracket(mats[iu[0]], mats[iu[1]]))  # (pairs, N)
    outside = br - (br @ Q.transpose(0, 1)) @ Q
    return float(torch.sqrt((outside**2).sum(dim=1).mean()))


def killing_form(generators) -> torch.Tensor:
    """Killing form of the algebra in the given basis, B_ij = tr(ad_{L_i} ad_{L_j}), shape (c, c).

    ad_{L_i} is the (c, c) matrix (ad_{L_i})_kj = C_ijk of :func:`structure_constants`. B is
    negative definite for a compact semisimple algebra (so(3): −2·I in the basis E_ij − E_ji,
    i.e. B(X, Y) = (n − 2) tr(XY) for so(n)), indefinite for so(1, 3), and zero on the
    centre and on the nilradical (e.g. on translations).
    """
    C = structure_constants(generators)
    ad = C.permute(0, 2, 1)  # ad[i, k, j] = C[i, j, k]
    return torch.einsum("ikl,jlk->ij", ad, ad)


def gl_killing_form(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Killing form of gl(n), B(X, Y) = 2n tr(XY) − 2 tr X tr Y (the paper's channel option).

    Differentiable; broadcasts over leading dimensions: X, Y of shape (..., n, n) → (...).
    Complex input gives a complex result.
    """
    if X.ndim < 2 or X.shape[-1] != X.shape[-2] or X.shape[-2:] != Y.shape[-2:]:
        raise ValueError(
            "gl_killing_form needs square matrices of the same size, "
            f"got shapes {tuple(X.shape)} and {tuple(Y.shape)}"
        )
    n = X.shape[-1]
    tr_xy = (X * Y.transpose(-1, -2)).sum(dim=(-1, -2))
    tr_x = torch.diagonal(X, dim1=-2, dim2=-1).sum(-1)
    tr_y = torch.diagonal(Y, dim1=-2, dim2=-1).sum(-1)
    return 2 * n * tr_xy - 2 * tr_x * tr_y


def killing_cosine(generators: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Normalised gl(n) Killing similarity between channels, shape (c, c); differentiable.

        K_ij = |B(L_i, L_j)| / sqrt(|B(L_i, L_i)| |B(L_j, L_j)| + eps)

    with B = :func:`gl_killing_form`.

    The Killing-form counterpart of the channel cosine: the LieGAN channel regulariser (Eq. 8)
    with the Killing form is η Σ_{i<j} K_ij. B is indefinite, so unlike the cosine K_ij can
    exceed 1 (e.g. for a nilpotent L_i with B(L_i, L_i) = 0); ``eps`` keeps it finite.
    """
    if generators.ndim != 3 or generators.shape[-1] != generators.shape[-2]:
        raise ValueError(f"generators must have shape (c, n, n), got {tuple(generators.shape)}")
    B = gl_killing_form(generators[:, None], generators[None, :]).abs()
    d = torch.diagonal(B)
    return B / torch.sqrt(d[:, None] * d[None, :] + eps)
