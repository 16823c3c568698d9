"""The paper's synthetic symmetry-discovery tasks, each with a known (or known absent) symmetry.

- :func:`discrete_rotation`: f(x) = x₃ / (1 + mod(atan2(x₂, x₁), 2π/k)), C_k-invariant about z.
- :func:`partial_permutation`: f on R⁵ invariant under S₃ on (x₁, x₂, x₃), not under x₄ ↔ x₅.
- :func:`su2_superpotential`: W(φ, χ) of two complex doublets, invariant under SU(2).
- :func:`rotated_digits`: scikit-learn's 8×8 digits, randomly rotated and translated (the
  affine search space gl(2) ⋉ R²); needs the ``[digits]`` extra.
"""

from __future__ import annotations

import math

import torch

from .._optional import require


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _check_n(n_samples: int) -> None:
    if int(n_samples) < 1:
        raise ValueError(f"n_samples must be positive, got {n_samples}")


def discrete_rotation_target(x: torch.Tensor, k: int = 7) -> torch.Tensor:
    """f(x) = x₃ / (1 + mod(atan2(x₂, x₁), 2π/k)) for x of shape (..., 3); returns (..., 1)."""
    if x.shape[-1] != 3:
        raise ValueError(f"x must have 3 features, got shape {tuple(x.shape)}")
    angle = torch.remainder(torch.atan2(x[..., 1], x[..., 0]), 2 * math.pi / k)
    return (x[..., 2] / (1 + angle)).unsqueeze(-1)


def discrete_rotation(
    k: int = 7, n_samples: int = 20000, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The C_k task: x ~ N(0, I₃), y = :func:`discrete_rotation_target` (x).

    Returns float32 x (N, 3) and y (N, 1). y is invariant under the rotation by 2π/k about the z
    axis (up to the branch cut of the mod, a set of measure zero) and not under other rotations.
    """
    if int(k) < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    _check_n(n_samples)
    x = torch.randn(n_samples, 3, generator=_generator(seed), dtype=torch.float64)
    return x.float(), discrete_rotation_target(x, k).float()


def discrete_rotation_generator(k: int = 7) -> torch.Tensor:
    """The Lie algebra element L with exp(L) = rotation by 2π/k about z: (2π/k) J_z, (1, 3, 3)."""
    L = torch.zeros(1, 3, 3, dtype=torch.float64)
    L[0, 1, 0], L[0, 0, 1] = 2 * math.pi / k, -2 * math.pi / k
    return L


def partial_permutation_target(x: torch.Tensor) -> torch.Tensor:
    """f(x) = x₁x₂x₃ + (x₁ + x₂ + x₃) x₄ + (x₁² + x₂² + x₃²) x₅² / 3 − x₅ for x (..., 5).

    Invariant under every permutation of (x₁, x₂, x₃); not under x₄ ↔ x₅ or any permutation that
    moves x₄ or x₅. Returns (..., 1).
    """
    if x.shape[-1] != 5:
        raise ValueError(f"x must have 5 features, got shape {tuple(x.shape)}")
    a, x4, x5 = x[..., :3], x[..., 3], x[..., 4]
    f = a.prod(-1) + a.sum(-1) * x4 + (a**2).sum(-1) * x5**2 / 3 - x5
    return f.unsqueeze(-1)


def partial_permutation(n_samples: int = 20000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The partial-permutation task: x ~ N(0, I₅), y = :func:`partial_permutation_target` (x).

    Returns float32 x (N, 5), y (N, 1).
    """
    _check_n(n_samples)
    x = torch.randn(n_samples, 5, generator=_generator(seed), dtype=torch.float64)
    return x.float(), partial_permutation_target(x).float()


def su2_superpotential_target(z: torch.Tensor, mass: float = 1.0, coupling: float = 0.5):
    """W(φ, χ) = m ε_ab φ^a χ^b + λ (ε_ab φ^a χ^b)² for z = (φ¹, φ², χ¹, χ²), complex (..., 4).

    ε_ab φ^a χ^b = φ¹χ² − φ²χ¹ = det[φ χ] is invariant under φ ↦ Uφ, χ ↦ Uχ for U ∈ SU(2) (indeed
    SL(2, ℂ)), so W is; a U(1) phase on φ alone, or U acting on φ alone, changes it.
    Returns complex (..., 1).
    """
    if z.shape[-1] != 4:
        raise ValueError(f"z must have 4 complex features (two doublets), got {tuple(z.shape)}")
    if not z.is_complex():
        raise ValueError("z must be a complex tensor")
    det = z[..., 0] * z[..., 3] - z[..., 1] * z[..., 2]
    return (mass * det + coupling * det**2).unsqueeze(-1)


def su2_superpotential(
    n_samples: int = 20000, seed: int = 0, mass: float = 1.0, coupling: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """The SU(2) task: z = (φ, χ) two complex doublets with standard complex normal entries.

    Returns complex64 z (N, 4) and W (N, 1) (:func:`su2_superpotential_target`). The group acts on
    z by U ⊕ U (the same U on both doublets).
    """
    _check_n(n_samples)
    g = _generator(seed)
    re_im = torch.randn(n_samples, 4, 2, generator=g, dtype=torch.float64) / math.sqrt(2)
    z = torch.view_as_complex(re_im.contiguous())
    return z.to(torch.complex64), su2_superpotential_target(z, mass, coupling).to(torch.complex64)


def su2_generators() -> torch.Tensor:
    """The su(2) basis i σ_k / 2 acting on both doublets (U ⊕ U): complex128 (3, 4, 4)."""
    sigma = torch.tensor(
        [[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=torch.complex128
    )
    return torch.stack([torch.block_diag(s, s) for s in 0.5j * sigma])


def affine_warp(images: torch.Tensor, angle: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Move the content of images (N, C, H, W) by x ↦ R(θ) x + t about the image centre.

    x is in pixels (x right, y down), R(θ) = [[cos θ, −sin θ], [sin θ, cos θ]] with ``angle`` θ
    (N,), ``shift`` t (N, 2); bilinear interpolation, zero outside. The inverse motion is
    ``affine_warp(images, -θ, -R(-θ) t)``.
    """
    N, _, H, W = images.shape
    c, s = torch.cos(angle), torch.sin(angle)
    # affine_grid maps output to input coordinates in [-1, 1]: pass the inverse motion
    t = torch.stack([shift[:, 0] * 2 / W, shift[:, 1] * 2 / H], dim=-1)
    inv = torch.stack([torch.stack([c, s], -1), torch.stack([-s, c], -1)], dim=-2)
    theta = torch.cat([inv, -(inv @ t.unsqueeze(-1))], dim=-1)
    grid = torch.nn.functional.affine_grid(
        theta.to(images.dtype), list(images.shape), align_corners=False
    )
    return torch.nn.functional.grid_sample(images, grid, align_corners=False)


def rotated_digits(
    n_samples: int | None = None,
    size: int = 16,
    max_shift: float = 2.0,
    seed: int = 0,
    rotate: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 handwritten 8×8 digits, centred on a ``size``×``size`` canvas, moved
    by :func:`affine_warp` with θ ~ U[−π, π) and a shift ~ U[−max_shift, max_shift]² pixels.

    Returns float32 images (N, 1, size, size) in [0, 1], int64 labels (N,), and the applied
    float32 transforms (N, 3) = (θ, shift_x, shift_y). ``n_samples`` beyond 1,797 draws digits
    with replacement (each with its own transform). ``rotate=False`` keeps θ = 0.
    """
    datasets = require("sklearn.datasets", "digits")
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    if max_shift < 0:
        raise ValueError(f"max_shift must be non-negative, got {max_shift}")
    digits = datasets.load_digits()
    base = torch.as_tensor(digits.images, dtype=torch.float32) / 16.0
    labels = torch.as_tensor(digits.target, dtype=torch.int64)
    g = _generator(seed)
    n = len(base) if n_samples is None else int(n_samples)
    _check_n(n)
    idx = (
        torch.randperm(len(base), generator=g)[:n]
        if n <= len(base)
        else torch.randint(len(base), (n,), generator=g)
    )
    canvas = torch.zeros(n, 1, size, size)
    o = (size - 8) // 2
    canvas[:, 0, o : o + 8, o : o + 8] = base[idx]
    angle = (torch.rand(n, generator=g) * 2 - 1) * math.pi if rotate else torch.zeros(n)
    shift = (torch.rand(n, 2, generator=g) * 2 - 1) * max_shift
    images = affine_warp(canvas, angle, shift).clamp_(0.0, 1.0)
    return images, labels[idx], torch.cat([angle[:, None], shift], dim=1)
