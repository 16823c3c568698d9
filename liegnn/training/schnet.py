r"""PyG's SchNet (Schütt et al. 2017) on LieGNN's molecule batches: an E(3)-invariant reference.

SchNet's interaction blocks are continuous-filter convolutions over the pairs within a cutoff,

.. math::
    h_i \leftarrow h_i + \sum_{j \ne i,\; d_{ij} < c} h_j \odot
        W\big(e^{-\gamma (d_{ij} - \mu_k)^2}\big)_{k = 1..K},

so the prediction depends on the atom types and distances only. PyG builds that graph with
``radius_graph`` (``torch_cluster``); :class:`CutoffGraph` builds it in pure torch from the
dense per-molecule block (QM9's molecules have at most 29 atoms).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from ..nn.graphs import complete_graph_from_batch


class CutoffGraph(nn.Module):
    r"""The pairs (j → i), i ≠ j, of one molecule with d_ij = ‖x_i − x_j‖ < ``cutoff``, and d_ij.

    SchNet's ``interaction_graph``: every pair of a molecule is tested (dense, |V_g|² per
    molecule), so no neighbour is dropped (``radius_graph``'s ``max_num_neighbors`` = 32 drops
    none on QM9 either).

    Shapes: ``pos`` (|V|, 3), ``batch`` (|V|,) sorted → ``edge_index`` (2, E) (senders first),
    ``edge_weight`` (E,).
    """

    def __init__(self, cutoff: float = 10.0):
        super().__init__()
        if not cutoff > 0:
            raise ValueError(f"cutoff must be positive, got {cutoff!r}")
        self.cutoff = float(cutoff)

    def forward(self, pos: Tensor, batch: Tensor) -> tuple[Tensor, Tensor]:
        edge_index = complete_graph_from_batch(batch).to(pos.device)
        distance = (pos[edge_index[0]] - pos[edge_index[1]]).norm(dim=-1)
        keep = distance < self.cutoff
        return edge_index[:, keep], distance[keep]

    def extra_repr(self) -> str:
        return f"cutoff={self.cutoff}"


class SchNetRegressor(nn.Module):
    r"""PyG's :class:`~torch_geometric.nn.models.SchNet` on a molecule batch: y_G = Σ_{i ∈ G}
    MLP(h_i) after ``n_layers`` interaction blocks (see the module docstring), one scalar per
    molecule.

    Args:
        hidden: width of the atom embeddings and of the filters (``hidden_channels`` =
            ``num_filters``). (default: ``64``)
        n_layers: interaction blocks. (default: ``3``)
        num_gaussians: K, radial basis functions on [0, cutoff]. (default: ``50``)
        cutoff: c in Å, the interaction radius. (default: ``10.0``, PyG's QM9 setting)

    Shapes: a PyG batch with ``z`` (|V|,) atomic numbers, ``pos`` (|V|, 3) and ``batch`` →
    (num_graphs, 1).
    """

    def __init__(
        self, hidden: int = 64, n_layers: int = 3, num_gaussians: int = 50, cutoff: float = 10.0
    ):
        super().__init__()
        from torch_geometric.nn.models import SchNet

        if not isinstance(hidden, int) or hidden < 2:  # the output MLP has hidden // 2 units
            raise ValueError(f"hidden must be an integer >= 2, got {hidden!r}")
        if not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be a positive integer, got {n_layers!r}")
        self.schnet = SchNet(
            hidden_channels=hidden,
            num_filters=hidden,
            num_interactions=n_layers,
            num_gaussians=num_gaussians,
            cutoff=cutoff,
            interaction_graph=CutoffGraph(cutoff),
            readout="add",
        )

    def forward(self, data) -> Tensor:
        z, pos = getattr(data, "z", None), getattr(data, "pos", None)
        if z is None or pos is None:
            raise ValueError("SchNet needs data.z (atomic numbers, (|V|,)) and data.pos (|V|, 3)")
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
        return self.schnet(z.view(-1).long(), pos, batch)


def _count(hidden: int, n_layers: int, num_gaussians: int) -> int:
    model = SchNetRegressor(hidden, n_layers, num_gaussians)
    return sum(p.numel() for p in model.parameters())


def schnet_hidden_for_budget(
    n_parameters: int,
    *,
    n_layers: int = 3,
    num_gaussians: int = 50,
    widths: Iterable[int] = range(2, 1025),
) -> int:
    """The width ``hidden`` among ``widths`` at which :class:`SchNetRegressor` with ``n_layers``
    blocks has the parameter count closest to ``n_parameters`` (the smaller width on a tie), for
    comparisons at an equal budget (bisection: the count grows with the width)."""
    widths = sorted(set(widths))
    if not widths:
        raise ValueError("widths is empty")
    lo, hi = 0, len(widths) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _count(widths[mid], n_layers, num_gaussians) < n_parameters:
            lo = mid
        else:
            hi = mid
    return min(
        (widths[lo], widths[hi]),
        key=lambda h: (abs(_count(h, n_layers, num_gaussians) - n_parameters), h),
    )


__all__ = ["CutoffGraph", "SchNetRegressor", "schnet_hidden_for_budget"]
