r"""An E(3)-equivariant reference network for molecular scalars, built from e3nn's pieces.

Each layer is an equivariant convolution over the edges of the graph followed by e3nn's
:class:`~e3nn.nn.Gate` nonlinearity:

.. math::
    m_i = \frac{1}{\sqrt{k}} \sum_{j \in N(i)} h_j \otimes_{w(\|r_{ij}\|)} Y(\hat r_{ij}),
    \qquad h_i \leftarrow \mathrm{Gate}\big(m_i + W h_i\big) \;(+\, h_i),

with r_ij = x_i − x_j, Y the spherical harmonics up to ``lmax``, ⊗_w a fully connected tensor
product whose weights w come from an MLP on a smooth radial basis of ‖r_ij‖ (zero at the cutoff),
W a self-interaction (``o3.Linear``) and k the typical number of neighbours. The Gate applies
SiLU / tanh to the even / odd scalars and multiplies every l > 0 feature by a sigmoid gate
scalar. The output is the invariant (0e) part, mapped by an MLP per atom and summed per molecule.
Positions enter only through r_ij, so the output is invariant under rotations, reflections and
translations, E(3).
"""

from __future__ import annotations

import torch
from e3nn import math as emath
from e3nn import nn as enn
from e3nn import o3
from torch import Tensor, nn
from torch_geometric.nn import global_add_pool, global_mean_pool

_POOL = {"mean": global_mean_pool, "sum": global_add_pool}


def _hidden_irreps(mul: int, mul_vec: int, lmax: int):
    """Gate input irreps (scalars, gates, gated) and the gate's output irreps."""
    scalars = o3.Irreps(f"{mul}x0e + {mul}x0o").simplify()
    gated = o3.Irreps(" + ".join(f"{mul_vec}x{l}o + {mul_vec}x{l}e" for l in range(1, lmax + 1)))
    gates = o3.Irreps(f"{gated.num_irreps}x0e")
    return scalars, gates, gated


class _GateConvolution(nn.Module):
    """One equivariant convolution + Gate: irreps_in → irreps_out (the gate's output)."""

    def __init__(self, irreps_in, irreps_sh, mul, mul_vec, lmax, n_basis, radial_hidden, k):
        super().__init__()
        scalars, gates, gated = _hidden_irreps(mul, mul_vec, lmax)
        acts = {1: torch.nn.functional.silu, -1: torch.tanh}
        self.gate = enn.Gate(
            scalars,
            [acts[ir.p] for _, ir in scalars],
            gates,
            [torch.sigmoid for _ in gates],
            gated,
        )
        mid = self.gate.irreps_in
        self.tp = o3.FullyConnectedTensorProduct(irreps_in, irreps_sh, mid, shared_weights=False)
        self.radial = enn.FullyConnectedNet(
            [n_basis, radial_hidden, self.tp.weight_numel], torch.nn.functional.silu
        )
        self.self_interaction = o3.Linear(irreps_in, mid)
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), self.gate.irreps_out
        self.k = float(k)

    def forward(self, h, edge_src, edge_dst, sh, radial_basis) -> Tensor:
        w = self.radial(radial_basis)
        msg = self.tp(h[edge_src], sh, w)
        agg = torch.zeros(h.shape[0], msg.shape[1], dtype=msg.dtype, device=msg.device)
        agg.index_add_(0, edge_dst, msg)
        out = self.gate(agg / self.k**0.5 + self.self_interaction(h))
        return out + h if self.irreps_out == self.irreps_in else out


class E3nnGateNetwork(nn.Module):
    r"""E(3)-invariant scalar regression on molecules with e3nn gate convolutions.

    Args:
        in_scalars: S, the size of the node scalars ``data.x`` (e.g. one-hot atom types).
        out_dim: outputs per graph. (default: ``1``)
        mul: multiplicity of the scalar channels (0e and 0o). (default: ``32``)
        mul_vec: multiplicity of each gated l > 0 irrep (lo and le). (default: ``8``)
        lmax: largest degree of the spherical harmonics and hidden irreps. (default: ``1``)
        n_layers: gate convolutions. (default: ``3``)
        r_max: radial cutoff in the units of ``pos`` (Å); edges beyond it carry nothing.
            (default: ``5.0``)
        n_basis: radial basis functions. (default: ``10``)
        radial_hidden: width of the radial MLP. (default: ``32``)
        num_neighbors: k, typical neighbour count normalising the sums. (default: ``10``)
        readout: ``"sum"`` or ``"mean"`` over atoms. (default: ``"sum"``)

    Shapes: a PyG batch with ``x`` (|V|, S), ``pos`` (|V|, 3), ``batch`` (|V|,) and
    ``edge_index`` (2, |E|) (senders, receivers; the complete graph of each molecule when
    missing) → (num_graphs, out_dim).
    """

    def __init__(
        self,
        in_scalars: int,
        out_dim: int = 1,
        *,
        mul: int = 32,
        mul_vec: int = 8,
        lmax: int = 1,
        n_layers: int = 3,
        r_max: float = 5.0,
        n_basis: int = 10,
        radial_hidden: int = 32,
        num_neighbors: float = 10.0,
        readout: str = "sum",
    ):
        super().__init__()
        for name, value in (
            ("in_scalars", in_scalars),
            ("out_dim", out_dim),
            ("mul", mul),
            ("mul_vec", mul_vec),
            ("lmax", lmax),
            ("n_layers", n_layers),
            ("n_basis", n_basis),
            ("radial_hidden", radial_hidden),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not r_max > 0 or not num_neighbors > 0:
            raise ValueError(f"r_max and num_neighbors must be > 0, got {r_max}, {num_neighbors}")
        if readout not in _POOL:
            raise ValueError(f"readout must be one of {tuple(_POOL)}, got {readout!r}")
        self.in_scalars, self.r_max, self.n_basis, self.readout = (
            in_scalars,
            r_max,
            n_basis,
            readout,
        )
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax)
        irreps = o3.Irreps(f"{mul}x0e")
        self.embed = o3.Linear(o3.Irreps(f"{in_scalars}x0e"), irreps)
        layers = []
        for _ in range(n_layers):
            layer = _GateConvolution(
                irreps, self.irreps_sh, mul, mul_vec, lmax, n_basis, radial_hidden, num_neighbors
            )
            layers.append(layer)
            irreps = layer.irreps_out
        self.layers = nn.ModuleList(layers)
        self.to_scalars = o3.Linear(irreps, o3.Irreps(f"{mul}x0e"))
        self.head = nn.Sequential(nn.Linear(mul, mul), nn.SiLU(), nn.Linear(mul, out_dim))

    def edge_attributes(self, vec: Tensor) -> tuple[Tensor, Tensor]:
        """Spherical harmonics Y(r̂) (|E|, (lmax + 1)²) and the smooth radial basis of ‖r‖
        (|E|, n_basis), zero beyond ``r_max``."""
        sh = o3.spherical_harmonics(self.irreps_sh, vec, normalize=True, normalization="component")
        basis = emath.soft_one_hot_linspace(
            vec.norm(dim=1), 0.0, self.r_max, self.n_basis, basis="smooth_finite", cutoff=True
        )
        return sh, basis * self.n_basis**0.5

    def forward(self, data) -> Tensor:
        x, pos = getattr(data, "x", None), getattr(data, "pos", None)
        if x is None or pos is None:
            raise ValueError("E3nnGateNetwork needs data.x (node scalars) and data.pos (|V|, 3)")
        if x.dim() != 2 or x.shape[1] != self.in_scalars:
            raise ValueError(f"data.x must be (|V|, {self.in_scalars}), got {tuple(x.shape)}")
        if pos.dim() != 2 or pos.shape != (x.shape[0], 3):
            raise ValueError(f"data.pos must be ({x.shape[0]}, 3), got {tuple(pos.shape)}")
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        num_graphs = getattr(data, "num_graphs", None) or int(batch.max()) + 1
        edge_index = getattr(data, "edge_index", None)
        if edge_index is None:
            from .graphs import complete_graph_from_batch

            edge_index = complete_graph_from_batch(batch, num_graphs)
        src, dst = edge_index
        pos = pos.to(x.dtype)
        vec = pos[dst] - pos[src]
        near = vec.norm(dim=1) < self.r_max  # the radial basis vanishes beyond r_max
        src, dst, vec = src[near], dst[near], vec[near]
        sh, basis = self.edge_attributes(vec)
        h = self.embed(x)
        for layer in self.layers:
            h = layer(h, src, dst, sh, basis)
        h = self.head(self.to_scalars(h))
        return _POOL[self.readout](h, batch, size=num_graphs)


__all__ = ["E3nnGateNetwork"]
