"""Data nobody tuned for: so(2) or so(3) hidden behind a random linear change of coordinates.

z has exactly the symmetry of the group acting on its first k coordinates (k = 2 for so(2),
k = 3 for so(3)); the data are x = z Aᵀ with A a random well-conditioned matrix (orthogonal Q
from a QR decomposition times diag(s), s uniform in [0.5, 2]), so the truth is A L A⁻¹ for the
standard basis L of so(k) embedded in the first k coordinates.

- without targets, z's distribution itself carries the symmetry: a noisy shell |z_{1:k}| ≈ 1
  (radius 1 + 0.1 ε) times skewed, differently shaped distributions of the other coordinates
  (a standardised exponential, then a Gumbel-like log-exponential), which no linear map other
  than the identity preserves;
- with targets, z ~ N(0, I_n) (its distribution alone would be symmetric under all of so(n)) and
  y = |z_{1:k}|² + Σ_{j>k} sin(z_j): only so(k) keeps both x's distribution and y.

These are the cases the defaults of :class:`~liegnn.discovery.LieGAN` are checked on
(``tests/discovery/test_defaults.py``, ``benchmarks/bench_discovery_defaults.py``).
"""

from __future__ import annotations

import torch

from ...algebra import so
from ._task import TaskData

__all__ = ["CASES", "conjugated"]

#: (group, n, targets) of the defaults matrix: so(2) / so(3) × R³ / R⁴ × with / without y
CASES = [
    (group, n, targets) for group in ("so2", "so3") for n in (3, 4) for targets in (False, True)
]


def _skewed(j: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """A zero-mean, unit-scale, asymmetric distribution, different for every coordinate j."""
    e = torch.empty(n).exponential_(generator=generator)
    if j % 2 == 0:
        return e - 1.0  # exponential: a hard edge at −1, a long right tail
    return -(torch.log(e) + 0.5772) / 1.2825  # Gumbel: a long left tail, unit variance


def conjugated(
    group: str = "so2", n: int = 3, *, targets: bool = False, n_samples: int = 6000, seed: int = 0
) -> TaskData:
    """Samples x (N, n), optional targets y (N, 1) and the truth A L A⁻¹ (c, n, n).

    Args:
        group: "so2" (c = 1) or "so3" (c = 3).
        n: the data's dimension (≥ 2 for so(2), ≥ 3 for so(3)).
        targets: with invariant regression targets y (see the module docstring).
        n_samples: N.
        seed: seeds both the samples and the random conjugation A.
    """
    k = {"so2": 2, "so3": 3}.get(group)
    if k is None:
        raise ValueError(f"group must be 'so2' or 'so3', got {group!r}")
    if n < k:
        raise ValueError(f"{group} needs n >= {k}, got n = {n}")
    g = torch.Generator().manual_seed(seed)
    if targets:
        z = torch.randn(n_samples, n, generator=g)
        y = (z[:, :k] ** 2).sum(1) + torch.sin(z[:, k:]).sum(1)
        y = y.unsqueeze(1)
    else:
        u = torch.randn(n_samples, k, generator=g)
        r = 1.0 + 0.1 * torch.randn(n_samples, 1, generator=g)
        rest = [_skewed(j, n_samples, g) for j in range(n - k)]
        z = torch.cat([r * u / u.norm(dim=1, keepdim=True), *(c[:, None] for c in rest)], dim=1)
        y = None
    q, rr = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(rr))
    s = 0.5 + 1.5 * torch.rand(n, generator=g, dtype=torch.float64)
    A = q * s  # Q diag(s)
    L = torch.zeros(so(k).shape[0], n, n, dtype=torch.float64)
    L[:, :k, :k] = so(k).to(torch.float64)
    truth = A @ L @ torch.linalg.inv(A)
    x = (z.to(torch.float64) @ A.T).to(torch.float32)
    info = {"group": group, "n": n, "targets": targets, "n_samples": n_samples, "seed": seed}
    return TaskData(x=x, y=y, truth=truth.to(torch.float32), info=info)
