"""Graph construction for LieGNN: batched complete graphs, and jets / molecules as PyG graphs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from .._validation import as_tensor
from .psi import psi


def complete_graph(sizes: Tensor | Sequence[int], *, device: torch.device | None = None) -> Tensor:
    r"""Edge indices of a batch of complete graphs without self loops, in one vectorised call.

    Graph g owns the consecutive nodes ptr_g, …, ptr_g + n_g − 1 (PyG's batching order) and gets
    every ordered pair (j → i), i ≠ j, sorted by the receiving node i, then by j.

    Args:
        sizes: the node counts n_g, shape (B,).
        device: device of the result (default: that of ``sizes``).

    Returns:
        edge_index of shape (2, Σ_g n_g (n_g − 1)); ``edge_index[0]`` the senders j,
        ``edge_index[1]`` the receivers i.

    One host sync (the number of edges); the check of the sizes is skipped under
    ``torch.compile``.
    """
    sizes = torch.as_tensor(sizes, dtype=torch.long, device=device)
    if sizes.dim() != 1:
        raise ValueError(f"sizes must be one-dimensional, got shape {tuple(sizes.shape)}")
    if not torch.compiler.is_compiling() and bool((sizes < 0).any()):
        raise ValueError("sizes must be non-negative")
    node_ptr = torch.cumsum(sizes, 0) - sizes
    n_edges = sizes * (sizes - 1).clamp(min=0)
    total = int(n_edges.sum())
    graph = torch.repeat_interleave(
        torch.arange(len(sizes), device=sizes.device), n_edges, output_size=total
    )
    edge_ptr = torch.cumsum(n_edges, 0) - n_edges
    local = torch.arange(total, device=sizes.device) - edge_ptr[graph]
    deg = sizes[graph] - 1
    i = torch.div(local, deg, rounding_mode="floor")
    j = local - i * deg
    j = j + (j >= i).long()  # skip the self loop
    offset = node_ptr[graph]
    return torch.stack([j + offset, i + offset])


def complete_graph_from_batch(batch: Tensor, num_graphs: int | None = None) -> Tensor:
    """:func:`complete_graph` for PyG's ``batch`` vector (graph index per node, sorted).

    With ``num_graphs`` given and under ``torch.compile`` (where the sortedness check is
    skipped) the only host sync left is :func:`complete_graph`'s number of edges.
    """
    if batch.dim() != 1:
        raise ValueError(f"batch must be one-dimensional, got shape {tuple(batch.shape)}")
    checking = not torch.compiler.is_compiling()
    if checking and batch.numel() > 1 and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("batch must be sorted (nodes of a graph consecutive), as PyG batches are")
    if num_graphs is None:
        num_graphs = int(batch.max()) + 1 if batch.numel() else 0
    return complete_graph(torch.bincount(batch, minlength=num_graphs))


def _check_pos(data: Data, n: int) -> Tensor:
    pos = getattr(data, "pos", None)
    if pos is None:
        raise ValueError("data.pos is missing")
    pos = as_tensor(pos, name="data.pos")
    if pos.dim() != 2 or pos.size(-1) != n:
        raise ValueError(f"data.pos must have shape (num_nodes, {n}), got {tuple(pos.shape)}")
    if not pos.is_floating_point():
        pos = pos.to(torch.get_default_dtype())
    return pos


class LorentzNetInputs(BaseTransform):
    r"""Turn a jet ``Data(pos=(n, 4) constituent 4-momenta (E, px, py, pz), y=label)`` into
    LorentzNet's input graph.

    Two beam particles (√(1 + m_b²), 0, 0, ±1) are prepended (m_b = ``beam_mass``, 1 in
    LorentzNet, giving (√2, 0, 0, ±1)); the node scalars are x = onehot · ψ(m) with the one-hot
    columns (particle, beam) and the mass

    .. math::
        m = \sqrt{|\langle p, p \rangle_K|}, \qquad K = η \text{ (default) or a given metric}.

    The graph is complete without self loops. Zero-padded constituents (E = 0) are dropped. Other
    attributes (y, …) are kept.

    Args:
        beam_mass: m_b. (default: ``1.0``)
        drop_padding: drop constituents with E = 0. (default: ``True``)
        edges: add ``edge_index``. (default: ``True``)
        mass_metric: the metric K of the mass in ψ(m). ``None``: η = diag(1, −1, −1, −1) for
            every model, as in LorentzNet's and LieGAN's public code (the reference behaviour:
            it feeds Minkowski information even to a model with another J). A (4, 4) tensor:
            that metric, e.g. the model's own fixed J, so that a LieGNN(J) sees only
            J-invariant inputs. ``"model"``: x is the bare one-hot; the model multiplies in
            ψ(m) with its current J (for a learnable J, see
            :class:`~liegnn.training.experiments.MassScalars`). (default: ``None``)

    Output: ``pos`` (n + 2, 4), ``x`` (n + 2, 2), ``edge_index`` (2, (n + 2)(n + 1)).
    """

    def __init__(
        self,
        beam_mass: float = 1.0,
        drop_padding: bool = True,
        edges: bool = True,
        mass_metric: Tensor | str | None = None,
    ):
        self.beam_mass = beam_mass
        self.drop_padding = drop_padding
        self.edges = edges
        if isinstance(mass_metric, str):
            if mass_metric != "model":
                raise ValueError(
                    f"mass_metric must be None (η), a (4, 4) tensor or 'model', got {mass_metric!r}"
                )
        elif mass_metric is not None:
            from .metric_tensor import resolve_metric

            mass_metric = resolve_metric(mass_metric, 4)
        self.mass_metric = mass_metric

    @staticmethod
    def mass_scalars(pos: Tensor, metric: Tensor | None = None) -> Tensor:
        r"""ψ(√|⟨p, p⟩_K|) per row of ``pos`` (N, 4), with K = η when ``metric`` is None.

        Computed in at least float32 (E² overflows float16). With a metric the square root is
        taken of max(|⟨p, p⟩_K|, tiny), so its gradient with respect to K stays finite where
        ⟨p, p⟩_K = 0 (a learnable J); the value differs from √0 by at most √tiny ≈ 10⁻¹⁹.
        """
        p = pos.to(torch.promote_types(pos.dtype, torch.float32))
        if metric is None:
            mass = (p[:, 0] ** 2 - (p[:, 1:] ** 2).sum(-1)).abs().sqrt()
        else:
            norm2 = ((p @ metric.to(p.dtype)) * p).sum(-1).abs()
            mass = norm2.clamp_min(torch.finfo(p.dtype).tiny).sqrt()
        return psi(mass)

    def forward(self, data: Data) -> Data:
        p = _check_pos(data, 4)
        if self.drop_padding:
            p = p[p[:, 0] != 0]
        e_beam = math.sqrt(1.0 + self.beam_mass**2)
        beams = p.new_tensor([[e_beam, 0.0, 0.0, 1.0], [e_beam, 0.0, 0.0, -1.0]])
        pos = torch.cat([beams, p])
        is_beam = torch.zeros(len(pos), dtype=torch.long)
        is_beam[:2] = 1
        onehot = torch.nn.functional.one_hot(is_beam, 2).to(pos.dtype)
        data.pos = pos
        if isinstance(self.mass_metric, str):  # "model": ψ(m) comes from the model's own J
            data.x = onehot
        else:
            data.x = onehot * self.mass_scalars(pos, self.mass_metric).to(pos.dtype)[:, None]
        if self.edges:
            data.edge_index = complete_graph([len(pos)])
        return data

    def __repr__(self) -> str:
        metric = (
            "eta"
            if self.mass_metric is None
            else (self.mass_metric if isinstance(self.mass_metric, str) else "tensor")
        )
        return f"{self.__class__.__name__}(beam_mass={self.beam_mass}, mass_metric={metric!r})"


class MoleculeGraph(BaseTransform):
    r"""Turn a molecule ``Data(z=(n,) atomic numbers, pos=(n, 3) in Å)`` into a LieGNN graph.

    Node scalars x are the one-hot species over ``species`` (QM9's H, C, N, O, F by default);
    with ``charge_power = k > 0`` each one-hot is multiplied by (z / z_max)^0, …, (z / z_max)^k as
    in EGNN, giving len(species)·(k + 1) scalars. Positions are centred on their mean (so a
    metric's inner product ⟨x_i, x_j⟩ does not depend on the origin); the graph is complete
    without self loops.
    """

    def __init__(
        self,
        species: Sequence[int] = (1, 6, 7, 8, 9),
        charge_power: int = 0,
        center: bool = True,
        edges: bool = True,
    ):
        if len(species) == 0 or len(set(species)) != len(species):
            raise ValueError(f"species must be distinct atomic numbers, got {species!r}")
        self.species = tuple(int(s) for s in species)
        self.charge_power = charge_power
        self.center = center
        self.edges = edges

    @property
    def num_scalars(self) -> int:
        return len(self.species) * (self.charge_power + 1)

    def forward(self, data: Data) -> Data:
        z = getattr(data, "z", None)
        if z is None:
            raise ValueError("data.z (atomic numbers) is missing")
        z = torch.as_tensor(z, dtype=torch.long).view(-1)
        pos = _check_pos(data, 3)
        if len(z) != len(pos):
            raise ValueError(f"data.z has {len(z)} atoms but data.pos has {len(pos)}")
        table = torch.tensor(self.species)
        match = z[:, None] == table[None, :]
        if not match.any(1).all():
            unknown = sorted(set(z[~match.any(1)].tolist()))
            raise ValueError(f"atomic numbers {unknown} are not in species {self.species}")
        onehot = match.to(pos.dtype)
        if self.charge_power > 0:
            charge = (z.to(pos.dtype) / max(self.species))[:, None]
            powers = charge ** torch.arange(self.charge_power + 1, dtype=pos.dtype)
            onehot = (onehot[:, :, None] * powers[:, None, :]).flatten(1)
        data.x = onehot
        data.pos = pos - pos.mean(0, keepdim=True) if self.center else pos
        if self.edges:
            data.edge_index = complete_graph([len(pos)])
        return data

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(species={self.species}, charge_power={self.charge_power})"
        )
