"""LieGNNConv: LorentzNet's equivariant block with the Minkowski metric replaced by any metric J."""

from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.nn.aggr import MeanAggregation, SumAggregation

from .edge_block import ReceiverCSR, edge_moments, fused_edge_mlp
from .metric_tensor import MetricTensor
from .psi import psi

ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU}
AGGREGATIONS = {"sum": SumAggregation, "mean": MeanAggregation}


def invariant_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of the J-products and ψ: at least float32, since ⟨p, p⟩_η of a 300 GeV momentum
    (9·10⁴) already overflows float16."""
    return torch.promote_types(dtype, torch.float32)


def check_node_inputs(
    metric: MetricTensor,
    pos: Tensor,
    dtype: torch.dtype | None = None,
    **features: Tensor | None,
) -> None:
    r"""Raise a ``ValueError`` naming the tensor, the node and the problem if ``pos`` or a node
    feature is complex or holds NaN/Inf, or if ``pos`` (used as ``dtype``, its own by default) is
    so large that the J-products overflow (see :meth:`MetricTensor.max_coordinate`).

    Costs one reduction per tensor and one host sync when all is well.
    """
    named = {"pos": pos, **{k: v for k, v in features.items() if v is not None}}
    for name, t in named.items():
        if t.is_complex():
            what = "real coordinates" if name == "pos" else "real features"
            raise ValueError(f"{name} is complex; LieGNN needs {what}")
    if pos.numel() == 0 or pos.is_meta:
        return
    if dtype is None or not dtype.is_floating_point:
        dtype = pos.dtype if pos.is_floating_point() else torch.get_default_dtype()
    compute = invariant_dtype(dtype)
    names = {d: str(d).removeprefix("torch.") for d in (dtype, compute)}
    bound = metric.max_coordinate(compute).to(pos.device)
    if dtype != compute:  # pos is cast to a half dtype; leave room for the coordinate update
        bound = bound.clamp(max=torch.finfo(dtype).max / 2)
    ok = pos.detach().abs().amax().to(compute) <= bound  # False for NaN
    for t in named.values():
        if t.is_floating_point() and t is not pos:
            ok = ok & torch.isfinite(t.detach()).all()
    if bool(ok):
        return
    for name, t in named.items():
        if t.is_floating_point():
            bad = ~torch.isfinite(t.detach()).reshape(t.size(0), -1).all(-1)
            if bool(bad.any()):
                nodes = bad.nonzero().flatten().tolist()
                more = f" (and {len(nodes) - 1} more)" if len(nodes) > 1 else ""
                raise ValueError(f"{name} contains NaN or Inf at node {nodes[0]}{more}")
    size = pos.detach().abs().reshape(pos.size(0), -1).amax(-1)
    node = int(size.argmax())
    where = f"pos has magnitude {float(size[node]):.3g} at node {node}"
    if dtype != compute and float(size[node]) > torch.finfo(dtype).max / 2:
        raise ValueError(
            f"{where}, beyond half the range of {names[dtype]} ({torch.finfo(dtype).max:.3g}); "
            "rescale the coordinates (e.g. GeV → TeV) or use float32"
        )
    raise ValueError(
        f"{where}; ⟨x, x⟩_J overflows {names[compute]} above {float(bound):.3g} for this J; "
        "rescale the coordinates (e.g. GeV → TeV)"
        + (" or use float64" if compute != torch.float64 else "")
    )


class LieGNNConv(MessagePassing):
    r"""One LieGNN block (Eq. 12–13 of the LieGAN paper): the Lorentz group equivariant block of
    LorentzNet with the Minkowski metric η replaced by a metric J,

    .. math::
        m_{ij} &= \phi_e\big(h_i,\, h_j,\, \psi(\|x_i - x_j\|_J^2),\,
            \psi(\langle x_i, x_j\rangle_J)\big)

        w_{ij} &= \phi_m(m_{ij})

        x_i' &= x_i + c \cdot \operatorname{mean}_{j \in \mathcal{N}(i)}
            \operatorname{clamp}\big(\phi_x(w_{ij} m_{ij})\,(x_i - x_j), \pm 100\big)

        h_i' &= h_i + \phi_h\Big(h_i,\, \sum_{j \in \mathcal{N}(i)} w_{ij} m_{ij},\, s_i\Big)

    with ⟨x, y⟩_J = xᵀ J y, ψ(a) = sign(a) log(|a| + 1), w_ij a sigmoid attention weight and s_i
    the input scalars re-fed in every block. φ_x reads the weighted message w_ij m_ij, as in the
    public LorentzNet code. The J-products and ψ are computed in float32 (float64 for float64
    inputs), also for half-precision inputs and under ``torch.autocast``. Since every edge input
    is a J-invariant, h is invariant and x equivariant under every g with gᵀ J g = J. With J = η
    this is LorentzNet's block; with J = I, no ψ, no inner product, SiLU and no normalisation it
    is EGNN's layer.

    φ_e = Linear(no bias) → BatchNorm → act → Linear → act; φ_h = Linear → BatchNorm → act →
    Linear; φ_x = Linear → act → Linear(no bias, Xavier gain 0.001); φ_m = Linear → Sigmoid.
    The first layer of φ_e is linear, so W [h_i; h_j; e_ij] = W_i h_i + W_j h_j + W_e e_ij is
    computed per node and gathered per edge. Two paths compute the same function: the plain
    one (``message`` and PyG's aggregations, the reference) and the fused one
    (:mod:`liegnn.nn.edge_block`: edges sorted by receiver, processed in cache-sized chunks,
    recomputed in backward, BatchNorm's edge statistics from per-node sums), faster and
    lighter on CPU.

    Args:
        metric (str, torch.Tensor or MetricTensor): the metric J: ``"minkowski"``,
            ``"euclidean"``, an (n, n) tensor (see :func:`resolve_metric`), or a
            :class:`MetricTensor` shared with other blocks.
        channels (int): size F of the node features h (input and output).
        scalar_channels (int, optional): size S of the re-fed input scalars s. (default: ``0``)
        dim (int, optional): n for a named metric. (default: ``None``)
        learnable_metric (bool, optional): learn J = (A + Aᵀ)/2; ignored for a given
            :class:`MetricTensor`. (default: ``False``)
        c_weight (float, optional): the coordinate step c. (default: ``5e-3``)
        update_pos (bool, optional): update x; LorentzNet's last block does not. (default:
            ``True``)
        activation (str, optional): ``"relu"`` (LorentzNet) or ``"silu"`` (EGNN).
            (default: ``"relu"``)
        norm (str, optional): ``"batch"`` (LorentzNet) or ``None`` (EGNN). (default:
            ``"batch"``)
        use_psi (bool, optional): apply ψ to the edge invariants. (default: ``True``)
        use_dot (bool, optional): use ⟨x_i, x_j⟩_J as an edge input; EGNN drops it (it is not
            translation invariant). (default: ``True``)
        attention (bool, optional): weight messages by φ_m. (default: ``True``)
        aggr (str, optional): aggregation of the h messages, ``"sum"`` or ``"mean"``.
            (default: ``"sum"``)
        pos_aggr (str, optional): aggregation of the coordinate messages, ``"mean"`` or
            ``"sum"``. (default: ``"mean"``)
        clamp (float, optional): bound on each coordinate message component, ``None`` for none.
            (default: ``100.0``)
        check_inputs (bool, optional): reject NaN/Inf in h, x or s, complex inputs and x so
            large that the J-products overflow, with a ``ValueError`` naming the tensor and node,
            before any BatchNorm update (see :func:`check_node_inputs`; one host sync per call;
            skipped under ``torch.compile``). (default: ``True``)
        fused (bool or str, optional): ``True`` uses the fused edge block wherever it applies
            (float32/float64, no autocast, not under ``torch.compile``, at least one edge;
            elsewhere the plain path runs), ``False`` always the plain path, ``"auto"`` the
            fused block on CPU only, where it was measured faster. (default: ``"auto"``)

    Shapes:
        - **input:** node features h :math:`(|\mathcal{V}|, F)`, positions x
          :math:`(|\mathcal{V}|, n)`, edge indices :math:`(2, |\mathcal{E}|)` (messages flow
          from ``edge_index[0]`` to ``edge_index[1]``), scalars s :math:`(|\mathcal{V}|, S)`
        - **output:** node features :math:`(|\mathcal{V}|, F)`, positions
          :math:`(|\mathcal{V}|, n)`
    """

    def __init__(
        self,
        metric: str | Tensor | MetricTensor = "minkowski",
        channels: int = 72,
        scalar_channels: int = 0,
        *,
        dim: int | None = None,
        learnable_metric: bool = False,
        c_weight: float = 5e-3,
        update_pos: bool = True,
        activation: str = "relu",
        norm: str | None = "batch",
        use_psi: bool = True,
        use_dot: bool = True,
        attention: bool = True,
        aggr: str = "sum",
        pos_aggr: str = "mean",
        clamp: float | None = 100.0,
        check_inputs: bool = True,
        fused: bool | str = "auto",
    ):
        if fused not in (True, False, "auto"):
            raise ValueError(f"fused must be True, False or 'auto', got {fused!r}")
        if aggr not in AGGREGATIONS or pos_aggr not in AGGREGATIONS:
            raise ValueError(f"aggr and pos_aggr must be one of {tuple(AGGREGATIONS)}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        if norm not in ("batch", None):
            raise ValueError(f"norm must be 'batch' or None, got {norm!r}")
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive integer, got {channels!r}")
        if not isinstance(scalar_channels, int) or scalar_channels < 0:
            raise ValueError(
                f"scalar_channels must be a non-negative integer, got {scalar_channels!r}"
            )
        super().__init__(aggr=AGGREGATIONS[aggr]())
        self.metric = (
            metric
            if isinstance(metric, MetricTensor)
            else MetricTensor(metric, dim=dim, learnable=learnable_metric)
        )
        self.channels = channels
        self.scalar_channels = scalar_channels
        self.c_weight = c_weight
        self.update_pos = update_pos
        self.activation = activation
        self.norm = norm
        self.use_psi = use_psi
        self.use_dot = use_dot
        self.attention = attention
        self.clamp = clamp
        self.check_inputs = check_inputs
        self.fused = fused
        self.pos_aggr_module = AGGREGATIONS[pos_aggr]()

        C = channels
        # ReLU in place is safe here: neither BatchNorm nor Linear keeps its output for backward.
        act = (lambda: nn.ReLU(inplace=True)) if activation == "relu" else ACTIVATIONS[activation]
        n_edge = 2 if use_dot else 1
        batch_norm = norm == "batch"
        self.phi_e = nn.Sequential(
            nn.Linear(2 * C + n_edge, C, bias=not batch_norm),
            nn.BatchNorm1d(C) if batch_norm else nn.Identity(),
            act(),
            nn.Linear(C, C),
            act(),
        )
        self.phi_h = nn.Sequential(
            nn.Linear(2 * C + scalar_channels, C),
            nn.BatchNorm1d(C) if batch_norm else nn.Identity(),
            act(),
            nn.Linear(C, C),
        )
        self.phi_m = nn.Sequential(nn.Linear(C, 1), nn.Sigmoid()) if attention else None
        self.phi_x = (
            nn.Sequential(nn.Linear(C, C), act(), nn.Linear(C, 1, bias=False))
            if update_pos
            else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for module in (self.phi_e, self.phi_h, self.phi_m, self.phi_x):
            for layer in module or ():
                if hasattr(layer, "reset_parameters"):
                    layer.reset_parameters()
        if self.phi_x is not None:
            nn.init.xavier_uniform_(self.phi_x[2].weight, gain=0.001)

    def forward(
        self,
        h: Tensor,
        pos: Tensor,
        edge_index: Tensor,
        scalars: Tensor | None = None,
        *,
        graph: ReceiverCSR | None = None,
    ) -> tuple[Tensor, Tensor]:
        """One block: (h, x) ↦ (h', x').

        ``graph`` is the fused path's receiver-sorted view of ``edge_index``
        (:meth:`ReceiverCSR.from_edge_index`); passing it lets several blocks share one sort.
        """
        self._check_inputs(h, pos, edge_index, scalars)
        if self.check_inputs and not torch.compiler.is_compiling():
            check_node_inputs(self.metric, pos, h=h, scalars=scalars)
        C = self.channels
        W = self.phi_e[0].weight
        # Split of the first linear layer of φ_e into per-node halves, gathered per edge later.
        a = F.linear(h, W[:, :C], self.phi_e[0].bias)
        b = F.linear(h, W[:, C : 2 * C])
        J = self.metric().to(invariant_dtype(pos.dtype))
        if self.uses_fused(h, pos, edge_index):
            if graph is None:
                graph = ReceiverCSR.from_edge_index(edge_index, h.size(0))
            agg_m, agg_x = self._fused_messages(a, b, pos, J, W[:, 2 * C :], graph)
        else:
            agg_m, agg_x = self.propagate(
                edge_index, a=a, b=b, pos=pos, J=J, W_e=W[:, 2 * C :], size=None
            )
        if self.update_pos:
            pos = pos + (self.c_weight * agg_x).to(pos.dtype)
        parts = [h, agg_m] if scalars is None or self.scalar_channels == 0 else [h, agg_m, scalars]
        h = h + self.phi_h(torch.cat(parts, dim=-1))
        return h, pos

    def message(
        self,
        a: Tensor,
        b: Tensor,
        edge_index_i: Tensor,
        edge_index_j: Tensor,
        pos_i: Tensor,
        pos_j: Tensor,
        J: Tensor,
        W_e: Tensor,
    ) -> tuple[Tensor, Tensor | None]:
        # The invariants in J's dtype (float32 at least) with autocast off: a half-precision
        # ⟨p_i, p_j⟩_η overflows for momenta above 256 GeV.
        diff, inv = self.edge_invariants(pos_i, pos_j, J)
        # φ_e's first layer W [h_i; h_j; e_ij] = W_i h_i + W_j h_j + W_e e_ij, with a = W_i h and
        # b = W_j h computed per node; gathered here, so that the gathers die young.
        z = a.index_select(0, edge_index_i)
        z += b.index_select(0, edge_index_j)
        z.addmm_(inv.to(z.dtype), W_e.T.to(z.dtype))
        m = self.phi_e[4](self.phi_e[3](self.phi_e[2](self.phi_e[1](z))))
        del z

        msg_h = m * self.phi_m(m) if self.attention else m

        msg_x = None
        if self.update_pos:
            msg_x = diff * self.phi_x(msg_h)
            if self.clamp is not None:
                msg_x = msg_x.clamp(-self.clamp, self.clamp)
        return msg_h, msg_x

    def edge_invariants(self, pos_i: Tensor, pos_j: Tensor, J: Tensor) -> tuple[Tensor, Tensor]:
        """x_i − x_j (|E|, n) and the edge inputs ψ(‖x_i − x_j‖²_J), ψ(⟨x_i, x_j⟩_J) (|E|, k),
        in J's dtype with autocast off."""
        device = pos_i.device.type
        with (
            torch.autocast(device, enabled=False)
            if torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device)
            else nullcontext()
        ):
            pos_i, pos_j = pos_i.to(J.dtype), pos_j.to(J.dtype)
            diff = pos_i - pos_j
            norm = ((diff @ J) * diff).sum(-1, keepdim=True)
            if self.use_dot:
                dot = ((pos_i @ J) * pos_j).sum(-1, keepdim=True)
                inv = torch.cat([norm, dot], dim=-1)
            else:
                inv = norm
            if self.use_psi:
                inv = psi(inv)
        return diff, inv

    def uses_fused(self, h: Tensor, pos: Tensor, edge_index: Tensor) -> bool:
        """Whether :meth:`forward` takes the fused path for these inputs (see ``fused``)."""
        if self.fused is False:
            return False
        device = h.device.type
        supported = (
            h.dtype in (torch.float32, torch.float64)
            and pos.dtype == h.dtype
            and edge_index.size(-1) > 0
            and not torch.compiler.is_compiling()
            and not (torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device))
        )
        return supported and (self.fused is True or device == "cpu")

    def _fused_messages(
        self, a: Tensor, b: Tensor, pos: Tensor, J: Tensor, W_e: Tensor, graph: ReceiverCSR
    ) -> tuple[Tensor, Tensor | None]:
        """The aggregated messages by :func:`~liegnn.nn.edge_block.fused_edge_mlp`, with φ_e's
        normalisation folded into the per-node terms: y = γ (z − μ) / σ + β with
        z = a_i + b_j + W_e e_ij is A_i + B_j + W'_e e_ij for A = γ (a − μ) / σ + β,
        B = γ b / σ, W'_e = γ W_e / σ."""
        diff, inv = self.edge_invariants(
            pos.index_select(0, graph.receiver), pos.index_select(0, graph.sender), J
        )
        A, B, W_e = a, b, W_e
        bn = self.phi_e[1]
        if isinstance(bn, nn.BatchNorm1d):
            mean, var = self._edge_batch_statistics(bn, a, b, inv, W_e, graph)
            scale = torch.rsqrt(var + bn.eps)
            if bn.weight is not None:
                scale = scale * bn.weight.to(scale.dtype)
            shift = -mean * scale
            if bn.bias is not None:
                shift = shift + bn.bias.to(scale.dtype)
            A = (a.to(scale.dtype) * scale + shift).to(a.dtype)
            B = (b.to(scale.dtype) * scale).to(b.dtype)
            W_e = (W_e.to(scale.dtype) * scale[:, None]).to(W_e.dtype)
        agg_m, agg_x = fused_edge_mlp(
            A,
            B,
            inv.to(a.dtype),
            W_e,
            diff if self.update_pos else None,
            self.phi_e[3],
            self.phi_m[0] if self.attention else None,
            (self.phi_x[0], self.phi_x[2]) if self.update_pos else None,
            graph,
            activation=self.activation,
            clamp=self.clamp,
        )
        count = graph.in_degree().clamp(min=1).to(a.dtype)[:, None]
        if isinstance(self.aggr_module, MeanAggregation):
            agg_m = agg_m / count
        if agg_x is not None and isinstance(self.pos_aggr_module, MeanAggregation):
            agg_x = agg_x / count.to(agg_x.dtype)
        return agg_m, agg_x

    @staticmethod
    def _edge_batch_statistics(
        bn: nn.BatchNorm1d, a: Tensor, b: Tensor, inv: Tensor, W_e: Tensor, graph: ReceiverCSR
    ) -> tuple[Tensor, Tensor]:
        """BatchNorm's mean and variance of z over the edges (float64): the batch's, updating
        the running statistics as ``nn.BatchNorm1d`` does, in training; the running ones in
        evaluation."""
        if not bn.training and bn.running_mean is not None:
            return bn.running_mean.double(), bn.running_var.double()
        n = graph.num_edges
        if n == 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size "
                f"{torch.Size([1, bn.num_features])}"
            )
        mean, var = edge_moments(a, b, inv, W_e, graph)
        if bn.training and bn.track_running_stats:
            momentum = 0.0 if bn.momentum is None else bn.momentum
            if bn.num_batches_tracked is not None:
                bn.num_batches_tracked.add_(1)
                if bn.momentum is None:
                    momentum = 1.0 / float(bn.num_batches_tracked)
            with torch.no_grad():
                dtype = bn.running_mean.dtype
                bn.running_mean.mul_(1 - momentum).add_(momentum * mean.to(dtype))
                unbiased = var * (n / (n - 1))
                bn.running_var.mul_(1 - momentum).add_(momentum * unbiased.to(dtype))
        return mean, var

    def aggregate(
        self,
        inputs: tuple[Tensor, Tensor | None],
        index: Tensor,
        ptr: Tensor | None = None,
        dim_size: int | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        msg_h, msg_x = inputs
        agg_m = self.aggr_module(msg_h, index, ptr=ptr, dim_size=dim_size, dim=self.node_dim)
        agg_x = None
        if msg_x is not None:
            agg_x = self.pos_aggr_module(
                msg_x, index, ptr=ptr, dim_size=dim_size, dim=self.node_dim
            )
        return agg_m, agg_x

    def _check_inputs(
        self, h: Tensor, pos: Tensor, edge_index: Tensor, scalars: Tensor | None
    ) -> None:
        if h.dim() != 2 or h.size(-1) != self.channels:
            raise ValueError(
                f"h must have shape (num_nodes, {self.channels}), got {tuple(h.shape)}"
            )
        n = self.metric.dim
        if pos.dim() != 2 or pos.shape != (h.size(0), n):
            raise ValueError(
                f"pos must have shape (num_nodes, {n}) = ({h.size(0)}, {n}) for a {n}×{n} metric, "
                f"got {tuple(pos.shape)}"
            )
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(
                f"edge_index must have shape (2, num_edges), got {tuple(edge_index.shape)}"
            )
        if self.scalar_channels:
            if scalars is None:
                raise ValueError(
                    f"this block re-feeds {self.scalar_channels} input scalars; pass scalars="
                )
            if scalars.shape != (h.size(0), self.scalar_channels):
                raise ValueError(
                    f"scalars must have shape ({h.size(0)}, {self.scalar_channels}), "
                    f"got {tuple(scalars.shape)}"
                )

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        return (
            f"{self.channels}, scalar_channels={self.scalar_channels}, dim={self.metric.dim}, "
            f"c_weight={self.c_weight}, update_pos={self.update_pos}, "
            f"activation={self.activation!r}, norm={self.norm!r}, use_psi={self.use_psi}, "
            f"use_dot={self.use_dot}, attention={self.attention}, clamp={self.clamp}, "
            f"check_inputs={self.check_inputs}, fused={self.fused!r}"
        )
