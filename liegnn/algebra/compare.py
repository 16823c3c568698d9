"""Comparisons of a found Lie algebra basis with a ground truth.

Three views, from strictest to loosest:

- :func:`generator_mae` — entry-wise error, for discrete symmetries where the scale of ``L``
  matters (``exp(L)`` is the rotation by 2π/k);
- :func:`channel_cosine` — per-channel absolute Frobenius cosine, the paper's metric (scale- and
  sign-free, but channel by channel);
- :func:`subspace_similarity` — basis-free: compares the spans through principal angles, so a
  found basis that is any invertible recombination of the truth scores 1.0.

Inputs are tensors or arrays of shape ``(c, n, n)`` (a single ``(n, n)`` matrix is one channel),
real or complex. The inner product is ⟨A, B⟩ = Σ conj(A_kl) B_kl.
"""

from __future__ import annotations

import torch

from .._validation import as_generators

__all__ = [
    "channel_cosine",
    "generator_mae",
    "match_channels",
    "principal_cosines",
    "subspace_similarity",
]


def _pair(found, truth) -> tuple[torch.Tensor, torch.Tensor]:
    A = as_generators(found, name="found")
    B = as_generators(truth, name="truth")
    if A.shape[-1] != B.shape[-1]:
        raise ValueError(
            f"found acts on dimension {A.shape[-1]} but truth on dimension {B.shape[-1]}"
        )
    dtype = torch.promote_types(A.dtype, B.dtype)
    return A.to(dtype), B.to(dtype)


def _cosine_matrix(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """|cos| between every found channel i and truth channel j, shape (c_found, c_truth)."""
    a = A.flatten(1)
    b = B.flatten(1)
    inner = a.conj() @ b.transpose(0, 1)
    norms = torch.linalg.vector_norm(a, dim=1)[:, None] * torch.linalg.vector_norm(b, dim=1)[None]
    tiny = torch.finfo(norms.dtype).tiny
    # A zero channel has cosine 0 with everything (instead of 0/0 = NaN).
    return inner.abs() / norms.clamp_min(tiny)


def match_channels(found, truth) -> torch.Tensor:
    """Best one-to-one assignment of found channels to truth channels by |cos|.

    Solves max Σ_i |cos(L_i, T_π(i))| by the Hungarian algorithm
    (``scipy.optimize.linear_sum_assignment``).
    Returns ``perm`` of shape (c_found,): ``perm[i]`` is the truth index matched to found channel
    ``i``, or −1 when there are more found channels than truths and ``i`` is left unmatched.
    """
    from scipy.optimize import linear_sum_assignment

    A, B = _pair(found, truth)
    cos = _cosine_matrix(A, B).detach().cpu().double().numpy()
    rows, cols = linear_sum_assignment(cos, maximize=True)
    perm = torch.full((A.shape[0],), -1, dtype=torch.long)
    perm[torch.as_tensor(rows, dtype=torch.long)] = torch.as_tensor(cols, dtype=torch.long)
    return perm


def channel_cosine(found, truth, *, match: bool = False) -> torch.Tensor:
    """Per-channel absolute Frobenius cosine |⟨L_i, T_i⟩| / (‖L_i‖ ‖T_i‖) (the paper's metric).

    Args:
        found: (c, n, n) discovered generators.
        truth: (c', n, n) ground-truth generators.
        match: ``False`` (default) compares channel ``i`` with truth ``i`` and needs c = c'.
            ``True`` first pairs each found channel with a distinct truth by the best assignment
            on |cos| (:func:`match_channels`); when c > c', the unmatched channels score 0.

    Returns:
        Real tensor of shape (c,), values in [0, 1], in the order of ``found``. A zero matrix has
        cosine 0.
    """
    A, B = _pair(found, truth)
    cos = _cosine_matrix(A, B)
    if not match:
        if A.shape[0] != B.shape[0]:
            raise ValueError(
                f"found has {A.shape[0]} channels but truth has {B.shape[0]}; "
                "pass match=True to pair channels by the best assignment"
            )
        return torch.diagonal(cos)
    perm = match_channels(A, B)
    out = torch.zeros(A.shape[0], dtype=cos.dtype, device=cos.device)
    matched = perm >= 0
    rows = torch.nonzero(matched).flatten()
    out[rows] = cos[rows, perm[rows]]
    return out


def _orthonormal_span(L: torch.Tensor, rtol: float | None, real: bool) -> torch.Tensor:
    """Orthonormal columns spanning the flattened channels, shape (n² or 2n², rank)."""
    M = L.flatten(1)
    if real and M.is_complex():
        M = torch.cat([M.real, M.imag], dim=1)
    M = M.transpose(0, 1)
    U, S, _ = torch.linalg.svd(M, full_matrices=False)
    if S.numel() == 0 or S[0] == 0:
        return U[:, :0]
    if rtol is None:
        rtol = max(M.shape) * torch.finfo(S.dtype).eps
    rank = int((S > rtol * S[0]).sum())
    return U[:, :rank]


def principal_cosines(a, b, *, rtol: float | None = None, real: bool | None = None) -> torch.Tensor:
    """Cosines of the principal angles between span{a_i} and span{b_j}, descending.

    The spans are taken of the flattened matrices (Frobenius geometry); a channel that is (up to
    ``rtol`` relative to the largest singular value) a combination of the others adds no
    dimension. Returns min(rank a, rank b) values in [0, 1].

    ``real``: compare spans over ℝ (complex matrices as real vectors (Re, Im)) or over ℂ. The
    default is ℝ for real input and ℂ when either input is complex. A real form such as su(2)
    is better compared over ℝ (``real=True``): over ℂ, su(2) and i·su(2) coincide.
    """
    A, B = _pair(a, b)
    if real is None:
        real = not A.is_complex()
    Qa = _orthonormal_span(A, rtol, real)
    Qb = _orthonormal_span(B, rtol, real)
    if Qa.shape[1] == 0 or Qb.shape[1] == 0:
        raise ValueError("cannot compare with an all-zero set of generators (empty span)")
    s = torch.linalg.svdvals(Qa.conj().transpose(0, 1) @ Qb)
    return s.clamp(0.0, 1.0)


def subspace_similarity(a, b, *, rtol: float | None = None, real: bool | None = None) -> float:
    """Basis-independent similarity of span{a_i} and span{b_j}: the mean squared principal cosine.

        sim = (1/k) Σ_{m=1..k} cos² θ_m = ‖Q_aᴴ Q_b‖_F² / k,   k = min(dim span a, dim span b),

    with Q_a, Q_b orthonormal bases of the (flattened) spans. It is the fraction of the smaller
    span that lies in the bigger one: 1.0 exactly when the smaller span is contained in the
    bigger (so, for equal dimensions, when the spans agree up to any invertible change of basis
    and scale), < 1 otherwise, 0 when they are orthogonal. With different numbers of channels it
    does not penalise the bigger span's extra directions; compare the dimensions for that.
    ``rtol`` and ``real`` as in :func:`principal_cosines`.
    """
    cos = principal_cosines(a, b, rtol=rtol, real=real)
    return float((cos**2).mean())


def generator_mae(found, truth, *, up_to_sign: bool = True) -> float:
    """Mean absolute entry-wise error between found and true generators (the paper's MAE).

    For discrete symmetries the scale matters (exp(L) is the group element) but the sign of a
    generator of a cyclic group does not (L and −L generate the same group), so with
    ``up_to_sign`` each channel is compared as min(mean|L_i − T_i|, mean|L_i + T_i|). Channels are
    compared in order; shapes must agree. Returns the mean over channels.
    """
    A, B = _pair(found, truth)
    if A.shape != B.shape:
        raise ValueError(
            f"found has shape {tuple(A.shape)} but truth has shape {tuple(B.shape)}; "
            "generator_mae compares channel by channel"
        )
    err = (A - B).abs().flatten(1).mean(dim=1)
    if up_to_sign:
        err = torch.minimum(err, (A + B).abs().flatten(1).mean(dim=1))
    return float(err.mean())
