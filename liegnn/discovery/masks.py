"""Search-space masks: which entries of the generators L_i may be non-zero.

A mask M (0/1, shape (n, n) for every channel or (c, n, n) per channel) restricts the search to
{M ⊙ L}. Structure known in advance shrinks the search space: the same 2×2 block on every (q, p)
of every body (block-diagonal), affine maps in homogeneous coordinates, or any user pattern.
Kronecker tying (one n×n representation acting on each of T time steps, I_T ⊗ L) needs no mask:
give data of shape (N, T, n) and the group acts on the last axis of every step.
"""

from __future__ import annotations

import torch

from .._validation import as_tensor

__all__ = [
    "affine",
    "as_mask",
    "block_diagonal",
    "blocks",
    "kronecker_tied",
    "nbody_blocks",
    "position_momentum_blocks",
]


def _check_sizes(sizes) -> list[int]:
    sizes = list(sizes)
    if not sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"block sizes must be positive integers, got {sizes!r}")
    return sizes


def block_diagonal(*sizes: int) -> torch.Tensor:
    """Ones on diagonal blocks of the given sizes, zeros elsewhere: (n, n), n = Σ sizes."""
    sizes = _check_sizes(sizes)
    return torch.block_diag(*[torch.ones(s, s) for s in sizes])


def nbody_blocks(n_bodies: int = 2, dim: int = 2) -> torch.Tensor:
    """The paper's block mask for (q1, p1, q2, p2, …): one dim×dim block per q_i and per p_i.

    Shape (2 · n_bodies · dim,) squared; for the 2-body task in the plane, four 2×2 blocks.
    """
    if n_bodies < 1 or dim < 1:
        raise ValueError(f"n_bodies and dim must be >= 1, got {n_bodies}, {dim}")
    return block_diagonal(*([dim] * (2 * n_bodies)))


def position_momentum_blocks(n_bodies: int = 2, dim: int = 2) -> torch.Tensor:
    """A larger search space for (q1, p1, q2, p2, …): every q_i couples with every q_j, and every
    p_i with every p_j, but positions never mix with momenta (the paper's Fig. 3c setting).
    """
    if n_bodies < 1 or dim < 1:
        raise ValueError(f"n_bodies and dim must be >= 1, got {n_bodies}, {dim}")
    kind = torch.arange(2 * n_bodies).remainder(2).repeat_interleave(dim)  # 0: q, 1: p
    return (kind[:, None] == kind[None, :]).to(torch.get_default_dtype())


def affine(n: int, linear=None, translations: bool = True) -> torch.Tensor:
    """Mask of affine maps of R^n in homogeneous coordinates (x, 1): shape (n+1, n+1).

    The top-left n×n block is the linear part (all ones, or the given (n, n) ``linear`` mask), the
    last column the translations (when ``translations``), and the last row is zero, so exp(L)
    keeps the homogeneous coordinate at 1.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    M = torch.zeros(n + 1, n + 1)
    if linear is None:
        M[:n, :n] = 1.0
    else:
        lin = as_mask(linear, n, name="linear")
        if lin.ndim != 2:
            raise ValueError("linear must be a single (n, n) mask")
        M[:n, :n] = lin
    if translations:
        M[:n, n] = 1.0
    return M


def kronecker_tied(generators, steps: int) -> torch.Tensor:
    """I_T ⊗ L_i: one n×n representation acting on each of T steps of flattened data (T·n).

    (c, n, n) → (c, T·n, T·n). Use it to compare or plot a found generator in the full space of
    the flattened trajectory; training acts on (N, T, n) data directly.
    """
    L = torch.as_tensor(generators)
    if L.ndim == 2:
        L = L.unsqueeze(0)
    if L.ndim != 3 or L.shape[-1] != L.shape[-2]:
        raise ValueError(f"generators must have shape (c, n, n), got {tuple(L.shape)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    eye = torch.eye(steps, dtype=L.dtype, device=L.device)
    return torch.stack([torch.kron(eye, Li) for Li in L])


def as_mask(mask, n: int, n_channels: int | None = None, *, name: str = "mask") -> torch.Tensor:
    """Validate a 0/1 mask of shape (n, n) or (c, n, n) and return it as a float tensor."""
    M = as_tensor(mask, name=name)
    if M.dtype == torch.bool:
        M = M.to(torch.get_default_dtype())
    if M.is_complex():
        raise ValueError(f"{name} must be real (0/1 entries), got dtype {M.dtype}")
    M = M.to(torch.get_default_dtype())
    shape = tuple(M.shape)
    ok = shape == (n, n) or (M.ndim == 3 and shape[1:] == (n, n))
    if ok and M.ndim == 3 and n_channels is not None and shape[0] != n_channels:
        ok = False
    if not ok:
        want = f"({n}, {n})" + (f" or ({n_channels}, {n}, {n})" if n_channels else "")
        raise ValueError(f"{name} must have shape {want} for n = {n}, got {shape}")
    if not ((M == 0) | (M == 1)).all():
        raise ValueError(f"{name} must contain only 0 and 1 entries")
    if M.ndim == 3 and (M.flatten(1).sum(1) == 0).any():
        raise ValueError(f"{name} has a channel with no free entry (all zeros)")
    if M.ndim == 2 and M.sum() == 0:
        raise ValueError(f"{name} has no free entry (all zeros)")
    return M


def blocks(mask: torch.Tensor) -> list[list[int]] | None:
    """Index sets of the independent blocks of a mask, or None when it does not decompose.

    Two coordinates are in one block when a masked entry couples them (in any channel). A mask
    with several blocks gives exp(Σ w_i L_i) = ⊕_b exp(block b), which is cheaper to compute.
    """
    M = mask if mask.ndim == 2 else mask.amax(0)
    n = M.shape[-1]
    adj = (M != 0) | (M != 0).T
    label = list(range(n))

    def find(i: int) -> int:
        while label[i] != i:
            label[i] = label[label[i]]
            i = label[i]
        return i

    for i, j in adj.nonzero().tolist():
        a, b = find(i), find(j)
        if a != b:
            label[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    out = list(groups.values())
    return out if len(out) > 1 else None
