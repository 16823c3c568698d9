"""e3nn interop: the so(3) generators and the parity of any ``e3nn.o3.Irreps``.

e3nn represents O(3) on real irreps: ``Irreps.D_from_angles(α, β, γ, k)`` is the block-diagonal
p^k exp(α X_y) exp(β X_x) exp(γ X_y), with X = ``o3.so3_generators(l)`` on each block (X_x, X_y,
X_z = X[0], X[1], X[2]; for l = 1 e3nn orders the coordinates (y, z, x)). These functions return
those blocks as (c, n, n) tensors, so an e3nn representation can be handed to
:func:`liegnn.solve_metric` or to the equivariant-basis solver (parity as a discrete generator).
"""

from __future__ import annotations

import torch

__all__ = ["irreps_generators", "irreps_parity"]


def _irreps(irreps):
    from e3nn import o3

    try:
        irreps = o3.Irreps(irreps)
    except (ValueError, AssertionError, TypeError) as err:
        raise ValueError(f"not a valid e3nn Irreps: {irreps!r} ({err})") from err
    if irreps.dim == 0:
        raise ValueError(f"irreps {str(irreps)!r} has dimension 0")
    return irreps


def _so3_generators(l: int, dtype: torch.dtype) -> torch.Tensor:
    from e3nn import o3

    # e3nn builds the generators in the default dtype; build them in float64, then cast.
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        X = o3.so3_generators(l)
    finally:
        torch.set_default_dtype(previous)
    return X.to(dtype)


def irreps_generators(irreps, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Block-diagonal so(3) generators of an e3nn ``Irreps`` (or its string), shape (3, dim, dim).

    Order: rotations about the x, y, z axes (e3nn's ``so3_generators`` order), so that
    ``irreps.D_from_angles(α, β, γ) = exp(α L[1]) exp(β L[0]) exp(γ L[1])``. Scalars (l = 0)
    give zero blocks; the generators are antisymmetric (the real irreps are orthogonal).
    """
    irreps = _irreps(irreps)
    L = torch.zeros(3, irreps.dim, irreps.dim, dtype=dtype)
    for (mul, ir), sl in zip(irreps, irreps.slices(), strict=True):
        X = _so3_generators(ir.l, dtype)
        d = ir.dim
        for u in range(mul):
            start = sl.start + u * d
            L[:, start : start + d, start : start + d] = X
    return L


def irreps_parity(irreps, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The parity (inversion x ↦ −x) on an e3nn ``Irreps`` as a discrete generator, (1, dim, dim).

    Diagonal, p = ±1 on every component of an irrep of parity p ("e" = +1, "o" = −1); equal to
    ``irreps.D_from_angles(0, 0, 0, k=1)``. Together with :func:`irreps_generators` it spans
    the whole of O(3), which exp of the generators alone cannot reach.
    """
    irreps = _irreps(irreps)
    p = torch.cat([torch.full((mul * ir.dim,), float(ir.p), dtype=dtype) for mul, ir in irreps])
    return torch.diag(p).unsqueeze(0)
