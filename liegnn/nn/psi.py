"""LorentzNet's signed logarithm ψ, which tames the huge Minkowski products of boosted momenta."""

from __future__ import annotations

import torch


def psi(a: torch.Tensor) -> torch.Tensor:
    r"""ψ(a) = sign(a) · log(|a| + 1), elementwise.

    Odd, monotone, ψ(a) ≈ a near 0 and ≈ sign(a) log|a| for large |a|, so invariants spanning many
    orders of magnitude (Minkowski norms of boosted jets) enter the network on a log scale.
    """
    return torch.sign(a) * torch.log1p(a.abs())
