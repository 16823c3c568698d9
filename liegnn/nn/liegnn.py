"""LieGNN: embedding → LieGNNConv blocks → readout → decoder; LorentzNet and EGNN as cases."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import global_add_pool, global_mean_pool

from .conv import ACTIVATIONS, LieGNNConv, check_node_inputs
from .edge_block import ReceiverCSR
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
        metric (str, torch.Tensor or Symmetry): J: ``"minkowski"``, ``"euclidean"``, an (n, n)
            tensor (e.g. from :func:`liegnn.solve_metric`), or a symmetry whose invariant metric
            is used: a :class:`~liegnn.Symmetry`, a discovery result (``LieGAN(...).fit(x)``)
            or a known algebra's name such as ``"so(1,3)"``. (default: ``"minkowski"``)
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
        check_inputs (bool): before the first layer, reject complex ``x`` or ``pos``, NaN/Inf
            (naming the tensor and node) and ``pos`` so large that the J-products overflow, so
            that a bad batch raises a ``ValueError`` and leaves the BatchNorm statistics
            untouched. One reduction over x and pos and one host sync per forward; skipped under
            ``torch.compile``. The blocks themselves then do not check again. (default:
            ``True``)
        fused (bool or str): the blocks' edge computation: ``"auto"`` the fused edge block
            (:mod:`liegnn.nn.edge_block`) on CPU, where it is measured faster, and the plain
            message passing elsewhere; ``True`` the fused block wherever it applies; ``False``
            the plain path (the reference). Both compute the same function. See
            :class:`LieGNNConv`. (default: ``"auto"``)
        compile (bool): run :meth:`encode` through ``torch.compile(dynamic=True)`` (the plain
            path, which the compiler fuses; minutes of compilation on a small CPU, then faster
            steps on GPUs). (default: ``False``)
        **conv_kwargs: passed to every :class:`LieGNNConv` (``c_weight``, ``activation``,
            ``norm``, ``use_psi``, ``use_dot``, ``attention``, ``aggr``, ``pos_aggr``,
            ``clamp``).

    Shapes:
        - **input:** ``x`` (|V|, S), ``pos`` (|V|, n), ``edge_index`` (2, |E|) (built as
          complete graphs when None), ``batch`` (|V|); or a PyG ``Data``/``Batch`` holding them
        - **output:** (num_graphs, out_dim), or (|V|, out_dim) for ``task="node"``
    """

    def __init__(
        self,
        metric="minkowski",
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
        check_inputs: bool = True,
        fused: bool | str = "auto",
        compile: bool = False,
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
        self.check_inputs = check_inputs
        self.compile = compile
        self._compiled_blocks = None
        self.metric = MetricTensor(metric, dim=dim, learnable=learnable_metric)
        self.embedding = nn.Linear(in_scalars, hidden)
        self.convs = nn.ModuleList(
            LieGNNConv(
                self.metric,
                hidden,
                in_scalars,
                update_pos=update_last_pos or layer < n_layers - 1,
                check_inputs=False,  # checked once, in encode
                fused=fused,
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
        """Node features after the last block (|V|, F) and the coordinates x^L (|V|, n).

        With ``check_inputs``, x and pos are checked here, before any layer runs.
        """
        if self.check_inputs and not torch.compiler.is_compiling():
            check_node_inputs(self.metric, pos, x.dtype, x=x)
        if self.compile:
            if self._compiled_blocks is None:
                self._compiled_blocks = torch.compile(self._blocks, dynamic=True)
            return self._compiled_blocks(x, pos, edge_index)
        return self._blocks(x, pos, edge_index)

    def _blocks(self, x: Tensor, pos: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
        pos = pos.to(x.dtype)
        h = self.embedding(x)
        graph = None  # the fused blocks share one receiver-sorted view of the edges
        if self.convs[0].uses_fused(h, pos, edge_index):
            graph = ReceiverCSR.from_edge_index(edge_index, x.size(0))
        for conv in self.convs:
            h, pos = conv(h, pos, edge_index, x, graph=graph)
        return h, pos

    def __getstate__(self):  # a compiled function does not pickle; it is rebuilt on demand
        state = super().__getstate__() if hasattr(super(), "__getstate__") else dict(vars(self))
        return dict(state, _compiled_blocks=None)

    def reset_parameters(self) -> None:
        """Re-initialise every learnable layer (the metric J keeps its value)."""
        self.embedding.reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()
        for layer in self.decoder:
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()

    def forward(
        self,
        x,
        pos: Tensor | None = None,
        edge_index: Tensor | None = None,
        batch: Tensor | None = None,
        num_graphs: int | None = None,
    ) -> Tensor:
        r"""Outputs per graph (or per node for ``task="node"``).

        Called as PyG models are, ``model(x, pos, edge_index, batch)``, or with one
        ``Data``/``Batch`` holding those attributes, ``model(data)``.

        Args:
            x: node scalars (|V|, S), or a ``Data``/``Batch``.
            pos: node vectors (|V|, n).
            edge_index: (2, |E|); complete graphs without self loops per graph when None.
            batch: graph index per node (|V|), sorted; one graph when None.
            num_graphs: number of graphs (avoids a device sync); from ``batch`` when None.
        """
        if not isinstance(x, Tensor):
            data = x
            if pos is not None:
                raise ValueError("pass either a Data/Batch or the tensors (x, pos, ...), not both")
            x, pos = getattr(data, "x", None), getattr(data, "pos", None)
            edge_index = getattr(data, "edge_index", None)
            batch = getattr(data, "batch", None)
            num_graphs = getattr(data, "num_graphs", None)
        if x is None or pos is None:
            raise ValueError("LieGNN needs x (node scalars) and pos (node vectors)")
        if x.dim() != 2 or x.size(-1) != self.in_scalars:
            raise ValueError(
                f"x must have shape (num_nodes, {self.in_scalars}), got {tuple(x.shape)}"
            )
        if x.size(0) == 0:
            raise ValueError("LieGNN got an empty batch (no nodes)")
        n = self.metric.dim
        if pos.dim() != 2 or pos.shape != (x.size(0), n):
            raise ValueError(
                f"pos must have shape (num_nodes, {n}) = ({x.size(0)}, {n}) to match x and the "
                f"metric, got {tuple(pos.shape)}"
            )
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        elif batch.shape != (x.size(0),):
            raise ValueError(
                f"batch must have shape (num_nodes,) = ({x.size(0)},), got {tuple(batch.shape)}"
            )
        if num_graphs is None:
            num_graphs = int(batch.max()) + 1
        if edge_index is None:
            edge_index = complete_graph_from_batch(batch, num_graphs).to(x.device)
        h, _ = self.encode(x, pos, edge_index)
        if self.task == "node":
            return self.decoder(h)
        return self.decoder(READOUTS[self.readout](h, batch, size=num_graphs))
