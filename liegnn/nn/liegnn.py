"""LieGNN: embedding → LieGNNConv blocks → readout → decoder; LorentzNet and EGNN as cases."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import global_add_pool, global_mean_pool

from .conv import ACTIVATIONS, LieGNNConv
from .graphs import complete_graph_from_batch
from .metric_tensor import MetricTensor

READOUTS = {"mean": global_mean_pool, "sum": global_add_pool}


class LieGNN(nn.Module):
    r"""A LieGNN (LieGAN paper, Eq. 12–13): LorentzNet with the metric J of a (discovered) group.

    .. math::
        h^0 = \mathrm{Embed}(s), \quad (h^{l+1}, x^{l+1}) = \mathrm{LieGNNConv}_l(h^l, x^l, s),
        \quad y = \mathrm{Dec}\big(\mathrm{readout}_{i \in G}\, h^L_i\big)

    with Embed = Linear(S, F), Dec = Linear(F, F) → act → Dropout → Linear(F, out_dim) and the
    readout a mean or sum over each graph's nodes. The output is invariant under
    x ↦ x gᵀ for every g with gᵀ J g = J. With the defaults and ``metric="minkowski"`` this is
    LorentzNet (6 blocks × 72 channels, 224,072 parameters for S = 2, no coordinate update in
    the last block); :meth:`egnn` gives EGNN.

    Args:
        metric (str or torch.Tensor): J: ``"minkowski"``, ``"euclidean"`` or an (n, n) tensor
            (e.g. from :func:`liegnn.solve_metric`). (default: ``"minkowski"``)
        in_scalars (int): number S of node scalars ``data.x``. (default: ``2``)
        hidden (int): channels F. (default: ``72``)
        n_layers (int): number of blocks. (default: ``6``)
        out_dim (int): outputs per graph (class logits or regression targets) or per node.
            (default: ``2``)
        dim (int, optional): n for a named metric. (default: ``None``)
        learnable_metric (bool): learn J = (A + Aᵀ)/2, shared by all blocks. (default: ``False``)
        dropout (float): dropout in the decoder. (default: ``0.2``)
        readout (str): ``"mean"`` or ``"sum"``. (default: ``"mean"``)
        task (str): ``"graph"`` (one output row per graph) or ``"node"`` (one per node).
            (default: ``"graph"``)
        update_last_pos (bool): let the last block update x too. (default: ``False``)
        **conv_kwargs: passed to every :class:`LieGNNConv` (``c_weight``, ``activation``,
            ``norm``, ``use_psi``, ``use_dot``, ``attention``, ``aggr``, ``pos_aggr``,
            ``clamp``).

    Shapes:
        - **input:** a PyG ``Data``/``Batch`` with ``x`` (|V|, S), ``pos`` (|V|, n),
          ``edge_index`` (2, |E|) (built as complete graphs when missing), ``batch`` (|V|)
        - **output:** (num_graphs, out_dim), or (|V|, out_dim) for ``task="node"``
    """

    def __init__(
        self,
        metric: str | Tensor = "minkowski",
        in_scalars: int = 2,
        hidden: int = 72,
        n_layers: int = 6,
        out_dim: int = 2,
        *,
        dim: int | None = None,
        learnable_metric: bool = False,
        dropout: float = 0.2,
        readout: str = "mean",
        task: str = "graph",
        update_last_pos: bool = False,
        **conv_kwargs: Any,
    ):
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {tuple(READOUTS)}, got {readout!r}")
        if task not in ("graph", "node"):
            raise ValueError(f"task must be 'graph' or 'node', got {task!r}")
        for name, value in (("in_scalars", in_scalars), ("hidden", hidden), ("n_layers", n_layers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.in_scalars, self.hidden, self.out_dim = in_scalars, hidden, out_dim
        self.readout, self.task = readout, task
        self.metric = MetricTensor(metric, dim=dim, learnable=learnable_metric)
        self.embedding = nn.Linear(in_scalars, hidden)
        self.convs = nn.ModuleList(
            LieGNNConv(
                self.metric,
                hidden,
                in_scalars,
                update_pos=update_last_pos or layer < n_layers - 1,
                **conv_kwargs,
            )
            for layer in range(n_layers)
        )
        act = ACTIVATIONS[conv_kwargs.get("activation", "relu")]
        self.decoder = nn.Sequential(
            nn.Linear(hidden, hidden), act(), nn.Dropout(dropout), nn.Linear(hidden, out_dim)
        )

    @classmethod
    def egnn(cls, in_scalars: int, metric: str | Tensor = "euclidean", **kwargs: Any) -> LieGNN:
        """EGNN (Satorras et al. 2021): SiLU, no normalisation, plain ‖x_i − x_j‖² without ψ or
        inner product, summed coordinate messages; any argument of :class:`LieGNN` overrides."""
        options = dict(activation="silu", norm=None, use_psi=False, use_dot=False, pos_aggr="sum")
        options.update(kwargs)
        return cls(metric, in_scalars, **options)

    def encode(self, x: Tensor, pos: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
        """Node features after the last block (|V|, F) and the coordinates x^L (|V|, n)."""
        h = self.embedding(x)
        for conv in self.convs:
            h, pos = conv(h, pos, edge_index, x)
        return h, pos

    def forward(self, data) -> Tensor:
        x, pos = getattr(data, "x", None), getattr(data, "pos", None)
        if x is None or pos is None:
            raise ValueError("LieGNN needs data.x (node scalars) and data.pos (node vectors)")
        if x.dim() != 2 or x.size(-1) != self.in_scalars:
            raise ValueError(
                f"data.x must have shape (num_nodes, {self.in_scalars}), got {tuple(x.shape)}"
            )
        if x.size(0) == 0:
            raise ValueError("LieGNN got an empty batch (no nodes)")
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        num_graphs = getattr(data, "num_graphs", None) or int(batch.max()) + 1
        edge_index = getattr(data, "edge_index", None)
        if edge_index is None:
            edge_index = complete_graph_from_batch(batch, num_graphs).to(x.device)
        h, _ = self.encode(x, pos.to(x.dtype), edge_index)
        if self.task == "node":
            return self.decoder(h)
        return self.decoder(READOUTS[self.readout](h, batch, size=num_graphs))
