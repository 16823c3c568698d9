"""Group elements from a Lie algebra basis: g = exp(Σ_i w_i L_i) with random coefficients w.

The scale of a found basis is arbitrary, so :func:`normalize_channels` fixes it (Frobenius norm
√n per channel: exp(θ L) is the rotation by θ for a generator rotating every 2-plane at unit
speed); :func:`sample_coefficients` draws w; :func:`group_elements` exponentiates (through
:func:`liegnn.algebra.expm.expm_combination`, the one matrix exponential of the library).
"""

from __future__ import annotations

import math

import torch

from .expm import expm_combination

__all__ = ["DISTRIBUTIONS", "group_elements", "normalize_channels", "sample_coefficients"]

DISTRIBUTIONS = ("uniform", "normal")


def normalize_channels(generators: torch.Tensor) -> torch.Tensor:
    """L_i ↦ √n · L_i / ‖L_i‖_F for (c, n, n): each channel at Frobenius norm √n.

    A zero channel stays zero (its norm is clamped at 1e-12).
    """
    L = generators
    norm = torch.linalg.vector_norm(L.flatten(1), dim=1).clamp_min(1e-12)
    return L / norm[:, None, None] * L.shape[-1] ** 0.5


def sample_coefficients(
    n_samples: int,
    n_channels: int,
    distribution: str = "uniform",
    scale: float = math.pi,
    *,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Coefficients w (n_samples, n_channels): U[−scale, scale] or N(0, scale²), drawn from
    torch's global generator (so a seed and a checkpointed RNG state reproduce them)."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    w = torch.rand if distribution == "uniform" else torch.randn
    w = w(n_samples, n_channels, device=device, dtype=dtype)
    return (2 * w - 1) * scale if distribution == "uniform" else w * scale


def group_elements(generators: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
    """g_b = exp(Σ_i w_bi L_i) for coefficients w (N, c) and generators L (c, n, n): (N, n, n)."""
    if coefficients.dim() != 2 or coefficients.shape[1] != generators.shape[0]:
        raise ValueError(
            f"coefficients must have shape (N, {generators.shape[0]}), "
            f"got {tuple(coefficients.shape)}"
        )
    return expm_combination(generators, coefficients)
