"""Regularisers against LieGAN's trivial solutions (Sec. 4.3).

- Identity (Eq. 7): l_id = |mean_b cos(x_b, ρ(g_b) x_b)|, which penalises g = I (cos = 1).
- Channel (Eq. 8): l_ch = Σ_{i<j} |sim(L_i, L_j)|, which stops channels from learning the same
  generator; sim is the Frobenius cosine (the paper's choice) or the normalised Killing form of
  gl(n), B(X, Y) = 2n tr(XY) − 2 tr X tr Y.
- Sparsity (the paper's code, weight μ): l_sp = ‖L‖_p over all entries of all channels; with
  p = 1 it pins the entries the data barely constrain at zero.
"""

from __future__ import annotations

import torch

from ..algebra.structure import killing_cosine

__all__ = [
    "channel_regularizer",
    "channel_similarity",
    "identity_regularizer",
    "sparsity_regularizer",
]


def _real_rows(t: torch.Tensor) -> torch.Tensor:
    """(..., n) complex → (..., 2n) real (Re, Im), so cos is Re⟨a, b⟩ / (|a| |b|)."""
    return torch.view_as_real(t).flatten(-2) if t.is_complex() else t


def identity_regularizer(
    x: torch.Tensor, gx: torch.Tensor, point_mask: torch.Tensor | None = None, eps: float = 1e-8
) -> torch.Tensor:
    """|mean cos(x, g x)| over samples and rows (Eq. 7); x, gx of shape (N, ..., n).

    The cosine is taken along the last axis (per time step or point, as the paper's code);
    padded points (``point_mask`` False) do not count. Returns a scalar.
    """
    if x.shape != gx.shape:
        raise ValueError(
            f"x and gx must have the same shape, got {tuple(x.shape)}, {tuple(gx.shape)}"
        )
    a, b = _real_rows(x), _real_rows(gx)
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1, eps=eps)
    if point_mask is None:
        return cos.mean().abs()
    m = point_mask.to(cos.dtype)
    return ((cos * m).sum() / m.sum().clamp_min(1.0)).abs()


def channel_similarity(generators: torch.Tensor, similarity: str = "cosine") -> torch.Tensor:
    """|sim(L_i, L_j)| for every pair of channels, shape (c, c); differentiable.

    ``"cosine"``: |⟨L_i, L_j⟩_F| / (‖L_i‖ ‖L_j‖) (complex: the Hermitian inner product).
    ``"killing"``: |B(L_i, L_j)| / sqrt(|B(L_i, L_i)| |B(L_j, L_j)|) with B the gl(n) Killing form.
    """
    if generators.ndim != 3 or generators.shape[-1] != generators.shape[-2]:
        raise ValueError(f"generators must have shape (c, n, n), got {tuple(generators.shape)}")
    if similarity == "cosine":
        flat = generators.flatten(1)
        inner = (flat.conj() @ flat.transpose(0, 1)).abs()
        norm = torch.linalg.vector_norm(flat, dim=1).clamp_min(1e-12)
        return inner / (norm[:, None] * norm[None, :])
    if similarity == "killing":
        return killing_cosine(generators).abs()
    raise ValueError(f"similarity must be 'cosine' or 'killing', got {similarity!r}")


def channel_regularizer(generators: torch.Tensor, similarity: str = "cosine") -> torch.Tensor:
    """Σ_{i<j} |sim(L_i, L_j)| (Eq. 8); zero for a single channel. Returns a scalar."""
    S = channel_similarity(generators, similarity)
    return torch.triu(S, diagonal=1).sum()


def sparsity_regularizer(generators: torch.Tensor, p: float = 1.0) -> torch.Tensor:
    """‖L‖_p = (Σ_{i,j,k} |L_ijk|^p)^{1/p} over every entry of the (c, n, n) generators."""
    if not p > 0:
        raise ValueError(f"the sparsity norm p must be > 0, got {p}")
    return torch.linalg.vector_norm(generators.flatten(), ord=p)
