"""Batched matrix exponentials g_b = exp(Σ_i w_bi L_i) for a whole batch of coefficients.

Three exact shortcuts around ``torch.linalg.matrix_exp`` of N (n, n) matrices:

- **distinct coefficients** — a discrete γ (integer grid) has few distinct w: exponentiate
  each once and index;
- **blocks** — a block-diagonal search space gives exp(⊕ A_k) = ⊕ exp(A_k); 2×2 blocks use the
  closed form exp(A) = e^t (C(δ) I + S(δ) (A − t I)), t = tr A / 2, δ = t² − det A, with
  C = cosh √δ, S = sinh √δ / √δ (cos / sin for δ < 0);
- **one eigendecomposition** — one channel: exp(w L) = V diag(e^{w λ}) V⁻¹ for every sample from a
  single eig of L. Its backward uses divided differences of the exponential, which stay finite
  at repeated eigenvalues (a rotation generator has ±i four times); when V is ill-conditioned
  (L near a defective matrix) it falls back to ``matrix_exp``.
"""

from __future__ import annotations

import torch

__all__ = ["expm2", "expm_blocks", "expm_combination", "expm_one_channel"]


def _cosh_sqrt(d: torch.Tensor) -> torch.Tensor:
    """C(δ) = cosh √δ for δ ≥ 0 and cos √−δ for δ < 0 (entire in δ)."""
    small = d.abs() < 1e-4
    r = torch.where(small, torch.ones_like(d), d.abs()).sqrt()  # safe: no inf gradient at 0
    series = 1 + d / 2 + d * d / 24
    return torch.where(small, series, torch.where(d >= 0, torch.cosh(r), torch.cos(r)))


def _sinhc_sqrt(d: torch.Tensor) -> torch.Tensor:
    """S(δ) = sinh √δ / √δ for δ ≥ 0 and sin √−δ / √−δ for δ < 0 (entire in δ)."""
    small = d.abs() < 1e-4
    r = torch.where(small, torch.ones_like(d), d.abs()).sqrt()
    series = 1 + d / 6 + d * d / 120
    return torch.where(small, series, torch.where(d >= 0, torch.sinh(r), torch.sin(r)) / r)


def expm2(A: torch.Tensor) -> torch.Tensor:
    """exp of real 2×2 matrices (..., 2, 2) in closed form; differentiable, stable at δ = 0."""
    a, b, c, d = A[..., 0, 0], A[..., 0, 1], A[..., 1, 0], A[..., 1, 1]
    t = (a + d) / 2
    delta = ((a - d) / 2) ** 2 + b * c  # t² − det A
    C, S = _cosh_sqrt(delta), _sinhc_sqrt(delta)
    e = torch.exp(t)
    out = torch.stack(
        [C + S * (a - t), S * b, S * c, C + S * (d - t)],
        dim=-1,
    )
    return (e[..., None] * out).reshape(A.shape)


def expm_blocks(A: torch.Tensor, blocks: list[list[int]]) -> torch.Tensor:
    """exp(A) for A (N, n, n) zero outside the given diagonal blocks (index lists)."""
    N, n, _ = A.shape
    out = A.new_zeros(N, n, n)
    by_size: dict[int, list[list[int]]] = {}
    for b in blocks:
        by_size.setdefault(len(b), []).append(b)
    for size, group in by_size.items():
        idx = torch.tensor(group, device=A.device)  # (k, s)
        rows, cols = idx[:, :, None], idx[:, None, :]
        sub = A[:, rows, cols]  # (N, k, s, s)
        if size == 1:
            E = sub.exp()
        elif size == 2 and not A.is_complex():
            E = expm2(sub)
        else:
            E = torch.linalg.matrix_exp(sub)
        batch = torch.arange(N, device=A.device)[:, None, None, None]
        out = out.index_put((batch, rows, cols), E)
    return out


def _exp_divided_differences(lam: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """e = exp(w λ) (N, n) and F_bij = (e_bi − e_bj) / (λ_i − λ_j) (→ w e_bi when λ_i = λ_j).

    Computed as w · exp(w (λ_i + λ_j)/2) · sinhc(w (λ_i − λ_j)/2), stable at any spacing.
    """
    wl = w[:, None] * lam[None, :]  # (N, n)
    e = wl.exp()
    z = (wl[:, :, None] - wl[:, None, :]) / 2
    small = z.abs() < 1e-3
    zs = torch.where(small, torch.ones_like(z), z)
    sinhc = torch.where(small, 1 + z * z / 6 + z**4 / 120, torch.sinh(zs) / zs)
    F = w[:, None, None] * torch.exp((wl[:, :, None] + wl[:, None, :]) / 2) * sinhc
    return e, F


class _ExpmEig(torch.autograd.Function):
    """g_b = V diag(exp(w_b λ)) V⁻¹ with the Fréchet-derivative backward (Daleckii–Krein)."""

    @staticmethod
    def forward(ctx, L, w, lam, V, Vinv):
        e, F = _exp_divided_differences(lam, w.to(lam.dtype))
        g = (V * e[:, None, :]) @ Vinv  # (N, n, n)
        ctx.save_for_backward(L, w, lam, V, Vinv, F, g)
        ctx.real = not L.is_complex()
        return g.real.to(L.dtype) if ctx.real else g.to(L.dtype)

    @staticmethod
    def backward(ctx, G):
        L, w, lam, V, Vinv, F, g = ctx.saved_tensors
        Gc = G.to(V.dtype)
        grad_L = grad_w = None
        if ctx.needs_input_grad[0]:
            inner = V.mH @ Gc @ Vinv.mH  # (N, n, n)
            grad = Vinv.mH @ (F.conj() * inner).sum(0) @ V.mH
            grad_L = grad.real.to(L.dtype) if ctx.real else grad.to(L.dtype)
        if ctx.needs_input_grad[1]:
            dg = L.to(V.dtype) @ g  # d g_b / d w_b = L g_b
            grad_w = (Gc.conj() * dg).sum((-1, -2)).real.to(w.dtype)
        return grad_L, grad_w, None, None, None


def expm_one_channel(L: torch.Tensor, w: torch.Tensor, max_cond: float = 1e3) -> torch.Tensor:
    """exp(w_b L) for one matrix L (n, n) and coefficients w (N,), from one eigendecomposition.

    Falls back to batched ``matrix_exp`` when the eigenvector matrix has condition number above
    ``max_cond`` (L close to defective), where the eigendecomposition loses accuracy.
    """
    with torch.no_grad():
        lam, V = torch.linalg.eig(L.detach().to(torch.complex128))
        s = torch.linalg.svdvals(V)
        ok = bool(torch.isfinite(s).all()) and float(s[0] / s[-1]) <= max_cond
    if not ok:
        return torch.linalg.matrix_exp(w[:, None, None] * L)
    ctype = torch.complex64 if L.dtype in (torch.float32, torch.complex64) else torch.complex128
    Vinv = torch.linalg.inv(V)
    return _ExpmEig.apply(L, w, lam.to(ctype), V.to(ctype), Vinv.to(ctype))


def expm_combination(
    L: torch.Tensor,
    w: torch.Tensor,
    *,
    blocks: list[list[int]] | None = None,
    distinct: bool = False,
    method: str = "auto",
) -> torch.Tensor:
    """g_b = exp(Σ_i w_bi L_i) for L (c, n, n) and w (N, c); returns (N, n, n).

    Args:
        blocks: diagonal blocks the generators live in (from the mask), or None.
        distinct: exponentiate only the distinct rows of w (for discrete coefficients).
        method: "auto" (the shortcuts above where they apply), "eig" (one eigendecomposition,
            one channel only), "blocks", or "dense" (plain batched ``matrix_exp``).
    """
    if method not in ("auto", "eig", "blocks", "dense"):
        raise ValueError(f"method must be 'auto', 'eig', 'blocks' or 'dense', got {method!r}")
    if distinct and method != "dense":
        uniq, inverse = torch.unique(w.detach(), dim=0, return_inverse=True)
        if uniq.shape[0] < w.shape[0]:
            # w is discrete and carries no gradient, so the unique rows stand in for it
            return expm_combination(L, uniq, blocks=blocks, method=method)[inverse]
    if method == "eig":
        if L.shape[0] != 1:
            raise ValueError("method='eig' needs a single channel")
        return expm_one_channel(L[0], w[:, 0])
    A = torch.einsum("bc,cij->bij", w.to(L.dtype), L)
    if blocks is not None and method in ("auto", "blocks"):
        return expm_blocks(A, blocks)
    return torch.linalg.matrix_exp(A)
