r"""Data augmentation by a (discovered) Lie group, Eq. 11 of the LieGAN paper:

.. math::
    \tilde f(x) = \rho_Y(g)^{-1} f(\rho_X(g)\, x), \qquad g = \exp\Big(\sum_i w_i L_i\Big),

with fresh coefficients w for every example and step. Training f̃ on (x, y) trains f on the
transformed pairs (ρ_X(g) x, ρ_Y(g) y) (exactly so when the loss is invariant under ρ_Y, as L1
and L2 are for rotations); for an invariant target ρ_Y is trivial. In evaluation f̃ = f, or the
average of f̃ over ``eval_samples`` draws (symmetrisation).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

from .._validation import as_generators

DISTRIBUTIONS = ("uniform", "normal")


def sample_coefficients(
    n_samples: int,
    n_channels: int,
    distribution: str = "uniform",
    scale: float = math.pi,
    *,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Coefficients w (n_samples, n_channels): U[−scale, scale] or N(0, scale²), drawn from
    torch's global generator (so a seed and a checkpointed RNG state reproduce them)."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    w = torch.rand if distribution == "uniform" else torch.randn
    w = w(n_samples, n_channels, device=device, dtype=dtype)
    return (2 * w - 1) * scale if distribution == "uniform" else w * scale


def group_elements(generators: Tensor, coefficients: Tensor) -> Tensor:
    """g = exp(Σ_i w_i L_i) for each row of ``coefficients`` (N, c) and ``generators``
    (c, n, n): returns (N, n, n)."""
    if coefficients.dim() != 2 or coefficients.shape[1] != generators.shape[0]:
        raise ValueError(
            f"coefficients must have shape (N, {generators.shape[0]}), "
            f"got {tuple(coefficients.shape)}"
        )
    return torch.linalg.matrix_exp(torch.einsum("bc,cij->bij", coefficients, generators))


def normalize_generators(generators: Tensor) -> Tensor:
    """Scale each L_i to Frobenius norm √n, so that exp(θ L) for a generator of rotations of
    every 2-plane (such as the N-body so(2)) is the rotation by θ."""
    norm = torch.linalg.vector_norm(generators.flatten(1), dim=1).clamp_min(1e-12)
    return generators / norm[:, None, None] * generators.shape[-1] ** 0.5


def _act(g: Tensor, v: Tensor, affine: bool) -> Tensor:
    """ρ(g) v on the last axis of v (N, ..., n) with g (N, n, n), or (N, ..., n − 1) when
    ``affine`` (v ↦ first n − 1 entries of g (v, 1))."""
    if affine:
        v = torch.cat([v, v.new_ones(*v.shape[:-1], 1)], dim=-1)
    shape = v.shape
    out = torch.einsum("nij,nkj->nki", g.to(v.dtype), v.reshape(shape[0], -1, shape[-1]))
    out = out.reshape(shape)
    return out[..., :-1] if affine else out


class SymmetryAugmentation(nn.Module):
    r"""Wrap a model f into f̃(x) = ρ_Y(g)^{-1} f(ρ_X(g) x) (Eq. 11), g drawn per example.

    Args:
        model: f. Its input is a tensor (N, ..., n) (the group acts on the last axis of every
            row) or a PyG batch (the group acts on ``pos`` (|V|, n), one g per graph).
        generators: (c, n, n) the L_i acting on the input (ρ_X), e.g. a discovered basis.
        out_generators: (c, m, m) the same algebra acting on the output (ρ_Y), None for an
            invariant target. Row i must represent the same element as ``generators[i]``.
        distribution: ``"uniform"`` (w ~ U[−scale, scale]) or ``"normal"`` (N(0, scale²)).
        scale: width of the coefficient distribution. (default: π)
        normalize: rescale every channel to Frobenius norm √n first (the output channels by
            the same factors). (default: ``True``)
        affine: the input vectors v are affine coordinates (v, 1): generators are
            (n + 1) × (n + 1) (e.g. se(3) on atom positions). (default: ``False``)
        eval_samples: in eval mode, average f̃ over this many draws; 0 gives f̃ = f.
            (default: ``0``)
    """

    def __init__(
        self,
        model: nn.Module,
        generators,
        out_generators=None,
        *,
        distribution: str = "uniform",
        scale: float = math.pi,
        normalize: bool = True,
        affine: bool = False,
        eval_samples: int = 0,
    ):
        super().__init__()
        L = as_generators(generators, allow_complex=False, dtype=torch.float64)
        factor = torch.ones(L.shape[0], dtype=torch.float64)
        if normalize:
            factor = normalize_generators(L).flatten(1).norm(dim=1) / L.flatten(1).norm(dim=1)
        self.register_buffer("generators", L * factor[:, None, None])
        if out_generators is not None:
            M = as_generators(
                out_generators, name="out_generators", allow_complex=False, dtype=torch.float64
            )
            if M.shape[0] != L.shape[0]:
                raise ValueError(
                    f"out_generators has {M.shape[0]} channels, generators {L.shape[0]}"
                )
            self.register_buffer("out_generators", M * factor[:, None, None])
        else:
            self.out_generators = None
        sample_coefficients(1, 1, distribution, scale)  # validates both
        if not isinstance(eval_samples, int) or eval_samples < 0:
            raise ValueError(f"eval_samples must be a non-negative integer, got {eval_samples!r}")
        self.model = model
        self.distribution, self.scale = distribution, float(scale)
        self.affine, self.eval_samples = affine, eval_samples

    @property
    def n(self) -> int:
        """Dimension of the input vectors (n − 1 for affine generators)."""
        return self.generators.shape[-1] - int(self.affine)

    def _draw(self, count: int, device) -> tuple[Tensor, Tensor | None]:
        w = sample_coefficients(
            count, self.generators.shape[0], self.distribution, self.scale, device=device
        )
        g = group_elements(self.generators, w)
        g_out_inv = None if self.out_generators is None else group_elements(self.out_generators, -w)
        return g, g_out_inv

    def _transformed(self, x) -> Tensor:
        if isinstance(x, Tensor):
            if x.shape[-1] != self.n:
                raise ValueError(
                    f"input's last axis has size {x.shape[-1]}, the group acts on {self.n}"
                )
            g, g_out_inv = self._draw(x.shape[0], x.device)
            y = self.model(_act(g, x, self.affine))
        else:
            pos = getattr(x, "pos", None)
            if pos is None or pos.shape[-1] != self.n:
                raise ValueError(f"graph input needs data.pos of shape (num_nodes, {self.n})")
            batch = getattr(x, "batch", None)
            if batch is None:
                batch = torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
            num_graphs = getattr(x, "num_graphs", None) or int(batch.max()) + 1
            g, g_out_inv = self._draw(num_graphs, pos.device)
            x = copy.copy(x)
            x.pos = _act(g[batch], pos[:, None, :], self.affine)[:, 0]
            y = self.model(x)
        if g_out_inv is None:
            return y
        if y.shape[0] != g_out_inv.shape[0] or y.shape[-1] != g_out_inv.shape[-1]:
            raise ValueError(
                f"output of shape {tuple(y.shape)} does not carry the output representation "
                f"of size {g_out_inv.shape[-1]} per example"
            )
        return _act(g_out_inv, y, False)

    def forward(self, x) -> Tensor:
        if self.training:
            return self._transformed(x)
        if self.eval_samples == 0:
            return self.model(x)
        k = self.eval_samples
        if isinstance(x, Tensor):  # all draws in one batch of k · N rows
            y = self._transformed(x.repeat(k, *([1] * (x.dim() - 1))))
            return y.view(k, x.shape[0], *y.shape[1:]).mean(0)
        return torch.stack([self._transformed(x) for _ in range(k)]).mean(0)

    def extra_repr(self) -> str:
        return (
            f"channels={self.generators.shape[0]}, n={self.n}, affine={self.affine}, "
            f"distribution={self.distribution!r}, scale={self.scale:.4g}, "
            f"equivariant_output={self.out_generators is not None}, "
            f"eval_samples={self.eval_samples}"
        )


__all__ = [
    "SymmetryAugmentation",
    "group_elements",
    "normalize_generators",
    "sample_coefficients",
]
