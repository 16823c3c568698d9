r"""Today's Lorentz-equivariant top taggers around LieGNN's jet graphs: PELICAN, L-GATr, LLoCa.

Each wrapper takes the batch that :class:`~liegnn.nn.graphs.LorentzNetInputs` makes for
LorentzNet / LieGNN (``pos`` (|V|, 4) the constituents' 4-momenta (E, px, py, pz) in GeV with
the two beams (√2, 0, 0, ±1) first in every jet, ``x`` (|V|, S) the node scalars, ``batch``)
and returns logits (num_graphs, out_dim), so every model trains on the same jets, split and
:class:`~liegnn.training.trainer.Trainer`. The beams are inputs like any particle, as in
LorentzNet: the symmetry broken by the beam axis is broken the same way for every model, and
each output is invariant under the proper orthochronous Lorentz transformations applied to all
nodes, beams included (the tests check this).

- :class:`PELICANTagger` (``pelican-lite``): PELICAN's permutation-equivariant aggregations on
  the matrix of pairwise Minkowski products ψ(⟨p_i, p_j⟩_η), diagonal (masses) included, with
  ``x`` as rank-1 inputs and a rank-0 readout.
- :class:`LGATrTagger` (``lgatr``): L-GATr on the multivectors that embed the 4-momenta (in
  units of ``units`` GeV) with ``x`` as scalar channels; the jets are padded to a dense batch and
  attention is masked to the real nodes; the invariant (scalar) outputs are mean-pooled.
- :class:`LLoCaTagger` (``lloca``): Lorentz local canonicalisation: a Frames-Net (an equivariant
  edge convolution predicting three vectors, turned into a frame by a polar decomposition)
  gives every particle a local frame; the 4-momenta in their local frames (invariant) feed
  LLoCa's message-passing backbone ``GraphNet``, whose messages change frames with tensor
  representations; node features are mean-pooled.

The peers are an optional extra: ``pip install 'liegnn[peers]'``. Without it, building one
raises an ImportError naming the extra. :func:`peer_model` builds one by name.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

from .._optional import require
from ..nn.psi import psi

#: ``--model`` names of the peers, and the module each needs
PEERS = {"pelican": "pelican", "lgatr": "lgatr", "lloca": "lloca"}
EXTRA = "peers"


def _minkowski_products(a: Tensor, b: Tensor) -> Tensor:
    """⟨a, b⟩_η over the last axis, η = diag(1, −1, −1, −1)."""
    return a[..., 0] * b[..., 0] - (a[..., 1:] * b[..., 1:]).sum(-1)


def _graph_inputs(data) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
    """(x, pos, batch, ptr, num_graphs) of a PyG ``Data`` / ``Batch`` (one graph without
    ``batch``), with shape errors that name the expected shapes."""
    x, pos = getattr(data, "x", None), getattr(data, "pos", None)
    if x is None or pos is None:
        raise ValueError("a peer tagger needs data.x (node scalars) and data.pos (4-momenta)")
    if pos.dim() != 2 or pos.size(-1) != 4 or x.dim() != 2 or x.size(0) != pos.size(0):
        raise ValueError(
            f"expected x (num_nodes, S) and pos (num_nodes, 4), got {tuple(x.shape)} and "
            f"{tuple(pos.shape)}"
        )
    batch = getattr(data, "batch", None)
    if batch is None:
        batch = torch.zeros(pos.size(0), dtype=torch.long, device=pos.device)
    num_graphs = getattr(data, "num_graphs", None) or int(batch.max()) + 1
    counts = torch.bincount(batch, minlength=num_graphs)
    ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    return x, pos.to(x.dtype), batch, ptr, num_graphs


def _complete_edges(ptr: Tensor, self_loops: bool) -> Tensor:
    """Every ordered pair (j, i) within each graph, with or without i = j: (2, Σ n_g²) or
    (2, Σ n_g (n_g − 1))."""
    from ..nn.graphs import complete_graph

    sizes = ptr[1:] - ptr[:-1]
    edges = complete_graph(sizes)
    if self_loops:
        nodes = torch.arange(int(ptr[-1]), device=ptr.device)
        edges = torch.cat([edges, torch.stack([nodes, nodes])], 1)
    return edges


def _mean_pool(h: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    from torch_geometric.nn import global_mean_pool

    return global_mean_pool(h, batch, size=num_graphs)


def _head(width: int, out_dim: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, out_dim)
    )


class PELICANTagger(nn.Module):
    r"""PELICAN (Bogatskiy et al. 2022, the ``pelican-lite`` implementation) on LieGNN's jets.

    .. math::
        d_{ij} = ψ(⟨p_i, p_j⟩_η) \;(i, j \text{ in the same jet, } i = j \text{ included}),
        \qquad y = \mathrm{PELICAN}(d, x)

    Args:
        in_scalars: S, the size of ``data.x`` (rank-1 inputs). (default: ``2``)
        hidden: PELICAN's hidden channels. (default: ``72``)
        n_layers: PELICAN blocks. (default: ``6``)
        out_dim: logits per jet. (default: ``2``)
        dropout: dropout in the blocks' feed-forward networks. (default: ``0.2``)

    Shapes: a PyG batch with ``x`` (|V|, S), ``pos`` (|V|, 4), ``batch`` → (num_graphs, out_dim).
    """

    def __init__(
        self,
        in_scalars: int = 2,
        hidden: int = 72,
        n_layers: int = 6,
        out_dim: int = 2,
        dropout: float = 0.2,
    ):
        super().__init__()
        pelican = require("pelican", EXTRA)
        self.net = pelican.PELICAN(
            in_channels_rank2=1,
            in_channels_rank1=in_scalars,
            in_channels_rank0=0,
            out_rank=0,
            out_channels=out_dim,
            num_blocks=n_layers,
            hidden_channels=hidden,
            dropout_prob=dropout or None,
        )

    def forward(self, data) -> Tensor:
        x, pos, batch, ptr, num_graphs = _graph_inputs(data)
        edges = _complete_edges(ptr, self_loops=True)
        dots = psi(_minkowski_products(pos[edges[0]], pos[edges[1]]))[:, None]
        return self.net(edges, batch, in_rank2=dots, in_rank1=x, num_graphs=num_graphs)


class LGATrTagger(nn.Module):
    r"""L-GATr (Spinner et al. 2024, the ``lgatr`` package) on LieGNN's jets.

    Each node is a token with one multivector channel, the embedded 4-momentum p / ``units``,
    and the scalar channels ``x``; attention runs within each jet (a padded dense batch with a
    key mask). The jet's logits are a head on the mean over its nodes of the invariant outputs
    (the multivectors' scalar components and the scalar channels).

    Args:
        in_scalars: S, the size of ``data.x``. (default: ``2``)
        hidden: scalar channels; the multivector channels are ``hidden // 4`` (at least 1).
            (default: ``72``)
        n_layers: L-GATr blocks. (default: ``6``)
        out_dim: logits per jet. (default: ``2``)
        dropout: dropout in the blocks and the head. (default: ``0.2``)
        num_heads: attention heads. (default: ``4``)
        units: the 4-momenta enter in units of this many GeV (L-GATr's tagging setup uses 20).
            (default: ``20.0``)
    """

    def __init__(
        self,
        in_scalars: int = 2,
        hidden: int = 72,
        n_layers: int = 6,
        out_dim: int = 2,
        dropout: float = 0.2,
        num_heads: int = 4,
        units: float = 20.0,
    ):
        super().__init__()
        lgatr = require("lgatr", EXTRA)
        self.units = units
        mv = max(1, hidden // 4)
        self.net = lgatr.LGATr(
            num_blocks=n_layers,
            in_mv_channels=1,
            out_mv_channels=mv,
            hidden_mv_channels=mv,
            in_s_channels=in_scalars,
            out_s_channels=hidden,
            hidden_s_channels=hidden,
            attention=dict(num_heads=num_heads),
            mlp=dict(),
            dropout_prob=dropout or None,
        )
        self._embed_vector = lgatr.embed_vector
        self.head = _head(mv + hidden, out_dim, dropout)

    def forward(self, data) -> Tensor:
        from torch_geometric.utils import to_dense_batch

        x, pos, batch, _, num_graphs = _graph_inputs(data)
        mv = self._embed_vector(pos / self.units)[:, None, :]  # (|V|, 1, 16)
        mv, mask = to_dense_batch(mv, batch, batch_size=num_graphs)  # (B, n, 1, 16)
        s, _ = to_dense_batch(x, batch, batch_size=num_graphs)
        out_mv, out_s = self.net(mv, scalars=s, attn_mask=mask[:, None, None, :])
        h = torch.cat([out_mv[..., 0], out_s], -1)[mask]  # invariant features of real nodes
        return self.head(_mean_pool(h, batch, num_graphs))


class LLoCaTagger(nn.Module):
    r"""LLoCa (Spinner, Favaro et al. 2025, the ``lloca`` package) on LieGNN's jets.

    .. math::
        Λ_i = \mathrm{FramesNet}(p, x)_i, \qquad h_i^0 = [x_i, ψ(Λ_i p_i / u)], \qquad
        h^L = \mathrm{GraphNet}(h^0; Λ), \qquad y = \mathrm{head}(\mathrm{mean}_i\, h_i^L)

    with u = ``units`` GeV, the Frames-Net ``LearnedPDFrames`` over an ``MLPVectors`` edge
    convolution, and ``GraphNet`` passing messages of ``hidden // 2`` scalars and ``hidden // 8``
    vectors between the local frames.

    Args:
        in_scalars: S, the size of ``data.x``. (default: ``2``)
        hidden: width of the backbone's tensor representation and of the Frames-Net MLP.
            (default: ``72``)
        n_layers: backbone blocks. (default: ``6``)
        out_dim: logits per jet. (default: ``2``)
        dropout: dropout in the backbone and the head. (default: ``0.2``)
        units: the 4-momenta enter in units of this many GeV. (default: ``20.0``)
        mass_reg: m_ε of LLoCa's mass regularisation of the Frames-Net's input (in those
            units; None: off). (default: ``5e-3``)
        momentum_float64: compute the 4-momenta, the Frames-Net's vectors and the frames in
            float64, then cast the local inputs and the frames to the model's dtype, as LLoCa's
            own tagging runs do (``momentum_float64``). In float32, m_ε² = 2.5e-5 is below the
            resolution of E² for a constituent of a few hundred GeV, so the regularisation is
            lost; two near-collinear energetic constituents then give a light-like Frames-Net
            vector whose norm rounds to zero and a NaN gradient. (default: ``True``)
    """

    def __init__(
        self,
        in_scalars: int = 2,
        hidden: int = 72,
        n_layers: int = 6,
        out_dim: int = 2,
        dropout: float = 0.2,
        units: float = 20.0,
        mass_reg: float | None = 5e-3,
        momentum_float64: bool = True,
    ):
        super().__init__()
        lloca = require("lloca", EXTRA)
        from lloca.backbone import GraphNet
        from lloca.equivectors import MLPVectors

        self.units = units
        self.momentum_float64 = momentum_float64
        vectors = partial(
            MLPVectors, num_scalars=in_scalars, hidden_channels=hidden, num_layers_mlp=2
        )
        # LLoCa's own remedy for (nearly) massless constituents, whose zero-norm momenta make
        # the frames unstable: E ↦ √(|p|² + m_ε²) where ⟨p, p⟩ < m_ε², m_ε = 5e-3 (the value
        # its documentation gives for tagging); without it training diverged (NaN, epoch 3)
        self.frames_net = lloca.LearnedPDFrames(equivectors=vectors, mass_reg=mass_reg)
        self.to_local = lloca.TensorRepsTransform(lloca.TensorReps("1x1n"))
        n_vectors = max(1, hidden // 8)
        reps = f"{max(1, hidden - 4 * n_vectors)}x0n+{n_vectors}x1n"
        self.backbone = GraphNet(
            in_channels=in_scalars + 4,
            hidden_reps=reps,
            out_channels=hidden,
            num_blocks=n_layers,
            num_layers_mlp1=2,
            num_layers_mlp2=0,
            dropout_prob=dropout or None,
        )
        self.head = _head(hidden, out_dim, dropout)

    def forward(self, data) -> Tensor:
        x, pos, batch, ptr, num_graphs = _graph_inputs(data)
        momenta = (pos.double() if self.momentum_float64 else pos) / self.units
        vectors = self.frames_net.equivectors
        if not bool(vectors.block.edge_inited):  # LLoCa standardises its edge inputs once
            vectors.init_standardization(momenta, ptr=ptr)
        frames = self.frames_net(momenta, scalars=x, ptr=ptr)
        local = self.to_local(momenta, frames)
        h = torch.cat([x, psi(local).to(x.dtype)], -1)
        frames.to(dtype=x.dtype)
        edges = _complete_edges(ptr, self_loops=False)
        h = self.backbone(h, frames, edges, batch=batch)
        return self.head(_mean_pool(h, batch, num_graphs))


_CLASSES = {"pelican": PELICANTagger, "lgatr": LGATrTagger, "lloca": LLoCaTagger}


def peer_model(
    name: str,
    *,
    in_scalars: int = 2,
    hidden: int = 72,
    n_layers: int = 6,
    out_dim: int = 2,
    dropout: float = 0.2,
    **options,
) -> nn.Module:
    """The peer tagger ``name`` (``"pelican"``, ``"lgatr"`` or ``"lloca"``) at the given width
    and depth; ``options``: the peer's own keyword arguments (e.g. LLoCa's ``mass_reg``).
    ImportError naming ``liegnn[peers]`` when its package is missing."""
    if name not in _CLASSES:
        raise ValueError(f"unknown peer model {name!r}; use one of {tuple(_CLASSES)}")
    return _CLASSES[name](in_scalars, hidden, n_layers, out_dim, dropout, **options)


def hidden_for_budget(
    name: str, n_parameters: int, *, n_layers: int = 6, in_scalars: int = 2, step: int = 4
) -> int:
    """The width ``hidden`` (a multiple of ``step``) at which the peer ``name`` with
    ``n_layers`` blocks has the parameter count closest to ``n_parameters``, for comparisons
    at an equal budget (bisection: the count grows with the width)."""

    def count(hidden: int) -> int:
        model = peer_model(name, in_scalars=in_scalars, hidden=hidden, n_layers=n_layers)
        return sum(p.numel() for p in model.parameters())

    lo, hi = 1, 1
    while count(hi * step) < n_parameters and hi < 256:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid * step) < n_parameters else (lo, mid)
    best = min((lo, hi), key=lambda k: abs(count(k * step) - n_parameters))
    return best * step


__all__ = [
    "PEERS",
    "LGATrTagger",
    "LLoCaTagger",
    "PELICANTagger",
    "hidden_for_budget",
    "peer_model",
]
