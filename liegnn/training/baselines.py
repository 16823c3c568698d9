r"""Non-equivariant baselines for the experiments: Deep Sets on point clouds, an MLP on tensors."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn import global_add_pool, global_mean_pool

from ..nn.psi import psi

_POOL = {"mean": global_mean_pool, "sum": global_add_pool}


def _mlp(sizes: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class DeepSets(nn.Module):
    r"""A permutation-invariant but otherwise unconstrained point-cloud model (Deep Sets; for
    jets the Particle Flow Network of Komiske et al. 2019):

    .. math::
        y = \rho\Big(\mathrm{pool}_{i \in G}\; \phi\big([s_i,\, \psi(x_i)]\big)\Big)

    with s_i the node scalars ``data.x``, x_i the raw node vectors ``data.pos`` (4-momenta,
    coordinates), ψ(a) = sign(a) log(|a| + 1) entry-wise (GeV-sized inputs to O(1)), φ and ρ
    MLPs with SiLU. It sees the same inputs as LieGNN but no symmetry beyond permutations: the
    "no symmetry" reference.

    Args:
        in_scalars: S, the size of ``data.x``.
        dim: n, the size of ``data.pos``.
        hidden: width F of φ and ρ. (default: ``72``)
        n_layers: layers of φ (ρ has two). (default: ``3``)
        out_dim: outputs per graph. (default: ``2``)
        readout: ``"mean"`` or ``"sum"``. (default: ``"mean"``)
        dropout: dropout in ρ. (default: ``0.0``)
        use_psi: apply ψ to the node vectors. (default: ``True``)

    Shapes: a PyG batch with ``x`` (|V|, S), ``pos`` (|V|, n), ``batch`` → (num_graphs, out_dim).
    """

    def __init__(
        self,
        in_scalars: int,
        dim: int,
        hidden: int = 72,
        n_layers: int = 3,
        out_dim: int = 2,
        *,
        readout: str = "mean",
        dropout: float = 0.0,
        use_psi: bool = True,
    ):
        super().__init__()
        if readout not in _POOL:
            raise ValueError(f"readout must be one of {tuple(_POOL)}, got {readout!r}")
        for name, value in (("dim", dim), ("hidden", hidden), ("n_layers", n_layers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.in_scalars, self.dim, self.readout, self.use_psi = in_scalars, dim, readout, use_psi
        self.phi = nn.Sequential(_mlp([in_scalars + dim] + [hidden] * n_layers), nn.SiLU())
        self.rho = _mlp([hidden, hidden, out_dim], dropout)

    def forward(self, data) -> Tensor:
        x, pos = getattr(data, "x", None), getattr(data, "pos", None)
        if x is None or pos is None:
            raise ValueError("DeepSets needs data.x (node scalars) and data.pos (node vectors)")
        if x.shape[-1] != self.in_scalars or pos.shape[-1] != self.dim:
            raise ValueError(
                f"expected data.x (·, {self.in_scalars}) and data.pos (·, {self.dim}), got "
                f"{tuple(x.shape)} and {tuple(pos.shape)}"
            )
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        num_graphs = getattr(data, "num_graphs", None) or int(batch.max()) + 1
        v = psi(pos.to(x.dtype)) if self.use_psi else pos.to(x.dtype)
        h = self.phi(torch.cat([x, v], dim=-1))
        return self.rho(_POOL[self.readout](h, batch, size=num_graphs))


class MLP(nn.Module):
    r"""A plain MLP between tensors of fixed shapes: (N, \*in_shape) → (N, \*out_shape),
    flattening in and reshaping out; SiLU between ``n_layers`` hidden layers of width ``hidden``.
    """

    def __init__(
        self,
        in_shape: int | Sequence[int],
        out_shape: int | Sequence[int],
        hidden: int = 128,
        n_layers: int = 3,
    ):
        super().__init__()
        self.in_shape = (in_shape,) if isinstance(in_shape, int) else tuple(in_shape)
        self.out_shape = (out_shape,) if isinstance(out_shape, int) else tuple(out_shape)
        if n_layers < 1 or hidden < 1:
            raise ValueError(f"need n_layers >= 1 and hidden >= 1, got {n_layers}, {hidden}")
        n_in, n_out = math.prod(self.in_shape), math.prod(self.out_shape)
        self.net = _mlp([n_in] + [hidden] * n_layers + [n_out])

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"expected input (N, {self.in_shape}), got {tuple(x.shape)}")
        return self.net(x.flatten(1)).view(x.shape[0], *self.out_shape)


__all__ = ["MLP", "DeepSets"]
