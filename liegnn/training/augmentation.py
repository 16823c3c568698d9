r"""Data augmentation by a (discovered) Lie group, Eq. 11 of the LieGAN paper:

.. math::
    \tilde f(x) = \rho_Y(g)^{-1} f(\rho_X(g)\, x), \qquad g = \exp\Big(\sum_i w_i L_i\Big),

with fresh coefficients w for every example and step. Training f̃ on (x, y) trains f on the
transformed pairs (ρ_X(g) x, ρ_Y(g) y) (exactly so when the loss is invariant under ρ_Y, as L1
and L2 are for rotations); for an invariant target ρ_Y is trivial. In evaluation f̃ = f, or the
average of f̃ over ``eval_samples`` draws (symmetrisation).

The pieces are the library's own: coefficients and g from :mod:`liegnn.algebra.elements`
(``group_elements``, ``sample_coefficients`` and ``normalize_generators`` =
:func:`liegnn.algebra.normalize_channels` stay importable from here), and ρ_X, ρ_Y from
:mod:`liegnn.discovery.actions` (``Standard``, or ``Affine`` for homogeneous coordinates).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from .._validation import as_generators
from ..algebra.elements import (
    DISTRIBUTIONS,
    group_elements,
    sample_coefficients,
)
from ..algebra.elements import normalize_channels as normalize_generators
from ..discovery.actions import Affine, Standard
from ..symmetry import Group, as_symmetry


def _float64(t: Tensor | None) -> Tensor | None:
    return None if t is None else t.to(torch.float64)


class SymmetryAugmentation(nn.Module):
    r"""Wrap a model f into f̃(x) = ρ_Y(g)^{-1} f(ρ_X(g) x) (Eq. 11), g drawn per example.

    Args:
        model: f. Its input is a tensor (N, ..., n) (the group acts on the last axis of every
            row) or a PyG batch (the group acts on ``pos`` (|V|, n), one g per graph).
        generators: the group acting on the input (ρ_X): a :class:`~liegnn.Symmetry` (e.g.
            ``result.symmetry`` of a discovery run; its discrete elements are applied too, each
            with probability ½), a discovery result, a known name, or (c, n, n) generators L_i.
        out_generators: the same group acting on the output (ρ_Y), None for an invariant
            target: (c, m, m) generators whose row i represents the same element as
            ``generators[i]``, or a Symmetry whose discrete elements correspond to the input's.
        distribution: ``"uniform"`` (w ~ U[−scale, scale]) or ``"normal"`` (N(0, scale²)).
        scale: width of the coefficient distribution. (default: π)
        normalize: rescale every channel to Frobenius norm √n first (the output channels by
            the same factors). (default: ``True``)
        affine: the input vectors v are affine coordinates (v, 1): generators are
            (n + 1) × (n + 1) (e.g. se(3) on atom positions). (default: ``None``: the
            symmetry's own ``rep``, i.e. ``True`` for an affine Symmetry, else ``False``)
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
        affine: bool | None = None,
        eval_samples: int = 0,
    ):
        super().__init__()
        sym = Group(as_symmetry(generators).generators, as_symmetry(generators).discrete)
        if affine is None:
            affine = as_symmetry(generators).rep == "affine"
        L = sym.generators.to(torch.float64)
        factor = torch.ones(L.shape[0], dtype=torch.float64)
        if normalize and L.shape[0]:
            factor = normalize_generators(L).flatten(1).norm(dim=1) / L.flatten(1).norm(dim=1)
        self.register_buffer("generators", L * factor[:, None, None])
        self.register_buffer("discrete", _float64(sym.discrete))
        self.register_buffer("out_generators", None)
        self.register_buffer("out_discrete", None)
        if out_generators is not None:
            out = as_symmetry(out_generators)
            M = (
                as_generators(
                    out.generators, name="out_generators", allow_complex=False, dtype=torch.float64
                )
                if out.n_channels
                else out.generators.to(torch.float64)
            )
            if M.shape[0] != L.shape[0]:
                raise ValueError(
                    f"out_generators has {M.shape[0]} channels, generators {L.shape[0]}"
                )
            k_in = 0 if sym.discrete is None else len(sym.discrete)
            k_out = 0 if out.discrete is None else len(out.discrete)
            if k_in != k_out:
                raise ValueError(
                    f"the input symmetry has {k_in} discrete elements, the output's {k_out}: "
                    "each input element needs its action on the output"
                )
            self.register_buffer("out_generators", M * factor[:, None, None])
            self.register_buffer("out_discrete", _float64(out.discrete))
        sample_coefficients(1, 1, distribution, scale)  # validates both
        if not isinstance(eval_samples, int) or eval_samples < 0:
            raise ValueError(f"eval_samples must be a non-negative integer, got {eval_samples!r}")
        self.model = model
        self.distribution, self.scale = distribution, float(scale)
        self.affine, self.eval_samples = affine, eval_samples
        self.action = Affine() if affine else Standard()
        self.out_action = Standard()

    @property
    def n(self) -> int:
        """Dimension of the input vectors (n − 1 for affine generators)."""
        return self.generators.shape[-1] - int(self.affine)

    def _draw(self, count: int, device) -> tuple[Tensor, Tensor | None]:
        """g = exp(Σ w_i L_i) · Π_j h_j^{b_j} with b_j ~ Bernoulli(½), and ρ_Y(g)⁻¹."""
        w = sample_coefficients(
            count, self.generators.shape[0], self.distribution, self.scale, device=device
        )
        g = group_elements(self.generators, w)
        g_out_inv = None if self.out_generators is None else group_elements(self.out_generators, -w)
        if self.discrete is not None:
            picks = torch.rand(count, len(self.discrete), device=device) < 0.5
            for j, h in enumerate(self.discrete):
                pick = picks[:, j, None, None]
                g = torch.where(pick, g @ h, g)
                if g_out_inv is not None:  # (A h')⁻¹ = h'⁻¹ A⁻¹
                    h_inv = torch.linalg.inv(self.out_discrete[j])
                    g_out_inv = torch.where(pick, h_inv @ g_out_inv, g_out_inv)
        return g, g_out_inv

    def _moved(
        self, pos: Tensor, batch: Tensor | None, num_graphs: int | None = None
    ) -> tuple[Tensor, Tensor | None]:
        if batch is None:
            batch = torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
        g, g_out_inv = self._draw(num_graphs or int(batch.max()) + 1, pos.device)
        return self.action(g[batch], pos), g_out_inv

    def transform_positions(self, pos: Tensor, batch: Tensor | None = None) -> Tensor:
        """ρ_X(g_G) x_i for every node i of graph G, one fresh g_G per graph, drawn as in
        training. Shapes: ``pos`` (|V|, n), ``batch`` (|V|,) (None: one graph) → (|V|, n)."""
        if pos.dim() != 2 or pos.shape[-1] != self.n:
            raise ValueError(f"pos must have shape (num_nodes, {self.n}), got {tuple(pos.shape)}")
        return self._moved(pos, batch)[0]

    def _transformed(self, x) -> Tensor:
        if isinstance(x, Tensor):
            if x.shape[-1] != self.n:
                raise ValueError(
                    f"input's last axis has size {x.shape[-1]}, the group acts on {self.n}"
                )
            g, g_out_inv = self._draw(x.shape[0], x.device)
            y = self.model(self.action(g, x))
        else:
            pos = getattr(x, "pos", None)
            if pos is None or pos.shape[-1] != self.n:
                raise ValueError(f"graph input needs data.pos of shape (num_nodes, {self.n})")
            batch = getattr(x, "batch", None)
            x = copy.copy(x)
            x.pos, g_out_inv = self._moved(pos, batch, getattr(x, "num_graphs", None))
            y = self.model(x)
        if g_out_inv is None:
            return y
        if y.shape[0] != g_out_inv.shape[0] or y.shape[-1] != g_out_inv.shape[-1]:
            raise ValueError(
                f"output of shape {tuple(y.shape)} does not carry the output representation "
                f"of size {g_out_inv.shape[-1]} per example"
            )
        return self.out_action(g_out_inv, y)

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
            f"channels={self.generators.shape[0]}, "
            f"discrete={0 if self.discrete is None else len(self.discrete)}, "
            f"n={self.n}, affine={self.affine}, "
            f"distribution={self.distribution!r}, scale={self.scale:.4g}, "
            f"equivariant_output={self.out_generators is not None}, "
            f"eval_samples={self.eval_samples}"
        )


def bond_length_change(
    pos: Tensor,
    batch: Tensor | None,
    transform: Callable[[Tensor, Tensor], Tensor],
    *,
    bond_cutoff: float = 1.6,
    threshold: float = 0.05,
) -> dict[str, float]:
    r"""How far a transform of the positions stretches bonds: the relative change

    .. math::
        r_{ij} = \frac{|d'_{ij} - d_{ij}|}{d_{ij}}, \qquad d_{ij} = \|x_i - x_j\|,
        \quad d'_{ij} = \|x'_i - x'_j\|,

    over the bonded pairs i < j of each graph (d_ij < ``bond_cutoff``, in the units of ``pos``;
    1.6 Å holds the covalent bonds of QM9's H, C, N, O, F). ``transform(pos, batch)`` gives x'
    (|V|, n), e.g. :meth:`SymmetryAugmentation.transform_positions` (one g per graph, drawn as
    in training). r = 0 for an isometry, |s − 1| for a scaling by s.

    Shapes: ``pos`` (|V|, n), ``batch`` (|V|,) sorted (None: one graph). Returns ``n_graphs``,
    ``n_bonds``, ``median``, ``p90``, ``max`` of r and ``fraction_above`` = share of r >
    ``threshold``, with ``bond_cutoff`` and ``threshold``.
    """
    from ..nn.graphs import complete_graph_from_batch

    if pos.dim() != 2:
        raise ValueError(f"pos must have shape (num_nodes, n), got {tuple(pos.shape)}")
    if batch is None:
        batch = torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
    src, dst = complete_graph_from_batch(batch).to(pos.device)
    d = (pos[src] - pos[dst]).norm(dim=-1)
    bonded = (src < dst) & (d < bond_cutoff) & (d > 0)
    if not bool(bonded.any()):
        raise ValueError(f"no pair of atoms is closer than bond_cutoff = {bond_cutoff}")
    moved = transform(pos, batch)
    if moved.shape != pos.shape:
        raise ValueError(
            f"transform returned shape {tuple(moved.shape)}, pos is {tuple(pos.shape)}"
        )
    src, dst, d = src[bonded], dst[bonded], d[bonded].to(torch.float64)
    d_moved = (moved[src] - moved[dst]).norm(dim=-1).to(torch.float64)
    r = (d_moved - d).abs() / d
    median, p90 = torch.quantile(r, r.new_tensor([0.5, 0.9])).tolist()
    return {
        "bond_cutoff": float(bond_cutoff),
        "threshold": float(threshold),
        "n_graphs": int(batch.max()) + 1 if batch.numel() else 0,
        "n_bonds": int(r.numel()),
        "median": median,
        "p90": p90,
        "max": float(r.max()),
        "fraction_above": float((r > threshold).double().mean()),
    }


__all__ = [
    "DISTRIBUTIONS",
    "SymmetryAugmentation",
    "bond_length_change",
    "group_elements",
    "normalize_generators",
    "sample_coefficients",
]
