r"""The fused edge block of :class:`~liegnn.nn.conv.LieGNNConv`: the per-edge MLPs in cache-sized
chunks of receiver-sorted edges, recomputed in backward instead of stored.

Per edge e = (j → i) the block computes, from per-node terms A, B (|V|, F), the edge invariants
e_ij (|E|, k) and the relative positions d_ij = x_i − x_j (|E|, n),

.. math::
    y &= A_i + B_j + W_e\, e_{ij}, \quad r = \sigma(y), \quad
        m = \sigma(W_2 r + b_2), \quad \tilde m = m \cdot \mathrm{sigmoid}(w_m^\top m + b_m)

    M_i &= \sum_{j} \tilde m_{ij}, \quad
    X_i = \sum_{j} \operatorname{clamp}\big(d_{ij}\, w_x^\top \sigma(W_x \tilde m + b_x),
        \pm c\big)

and only the sums M (|V|, F) and X (|V|, n) leave it. The E × F activations live one chunk at a
time, in forward and again in backward, so memory is O(|V|·F + |E|·(k + n) + chunk·F) instead
of O(|E|·F), and each elementwise pass runs on data in cache. Edges sorted by receiver make each
chunk own a contiguous range of receivers (a CSR segment of the output), so no two chunks write
the same row. Normalisation is not inside the block: BatchNorm over the edges is folded into A,
B and W_e by :func:`edge_moments`, whose mean and variance come exactly from per-node sums.

On CPU the chunks are shared out to ``torch.get_num_threads()`` worker threads that each run
torch single-threaded (:func:`_map_chunks`): one synchronisation per block instead of one per
operator. Each thread keeps its own sums over senders and over weights, added at the end.
"""

from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

#: Edges per chunk: 8192 × 72 float32 values are 2.4 MB, and the dozen temporaries of a chunk
#: stay in a 32 MB L3 cache (4096 and 16384 measured the same within the noise, 2-core CPU).
CHUNK_EDGES = 8192
#: Edges per chunk on GPUs, where the launches, not the cache, set the size (not yet measured).
CHUNK_EDGES_GPU = 131072


@dataclass(eq=False)
class ReceiverCSR:
    r"""A graph's edges sorted by receiver, in the CSR layout that the fused block walks.

    Build it with :meth:`from_edge_index` once per batch; every block of a network shares it.

    Attributes:
        sender (Tensor): j of each edge, in receiver order, shape (|E|,).
        receiver (Tensor): i of each edge, sorted, shape (|E|,).
        ptr (Tensor): receiver i owns edges ptr[i] … ptr[i+1] − 1, shape (|V| + 1,).
        perm (Tensor or None): the stable sort that was applied to the given edges (None when
            they were already sorted, as :func:`~liegnn.nn.graphs.complete_graph` returns them).
        chunks (tuple): (first edge, end edge, first receiver, end receiver) of each chunk, cut
            at receiver boundaries, so that chunks own disjoint ranges of receivers.
        num_nodes (int): |V|.
        local_receiver (Tensor): i minus the first receiver of the edge's chunk, (|E|,).
    """

    sender: Tensor
    receiver: Tensor
    ptr: Tensor
    perm: Tensor | None
    chunks: tuple[tuple[int, int, int, int], ...]
    num_nodes: int
    local_receiver: Tensor
    _adjacency: tuple[Tensor, Tensor] | None = field(default=None, repr=False)

    @classmethod
    def from_edge_index(
        cls, edge_index: Tensor, num_nodes: int, chunk_edges: int | None = None
    ) -> ReceiverCSR:
        """Sort ``edge_index`` (2, |E|) by receiver (stably, if it is not sorted yet) and cut it
        into chunks of about ``chunk_edges`` edges (default: :data:`CHUNK_EDGES` on CPU,
        :data:`CHUNK_EDGES_GPU` elsewhere). Costs one host sync (two if unsorted)."""
        cpu = edge_index.device.type == "cpu"
        chunk_edges = chunk_edges or (CHUNK_EDGES if cpu else CHUNK_EDGES_GPU)
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(
                f"edge_index must have shape (2, num_edges), got {tuple(edge_index.shape)}"
            )
        sender, receiver = edge_index[0], edge_index[1]
        perm = None
        if receiver.numel() > 1 and not bool((receiver[1:] >= receiver[:-1]).all()):
            perm = torch.argsort(receiver, stable=True)
            sender, receiver = sender[perm], receiver[perm]
        counts = torch.bincount(receiver, minlength=num_nodes)
        if counts.numel() > num_nodes:
            raise ValueError(f"edge_index refers to node {counts.numel() - 1} of {num_nodes}")
        ptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=receiver.device)
        ptr[1:] = torch.cumsum(counts, 0)
        num_edges = receiver.numel()
        bounds = {0, num_edges}
        if num_edges > chunk_edges:
            targets = torch.arange(chunk_edges, num_edges, chunk_edges, device=ptr.device)
            cuts = ptr[torch.searchsorted(ptr, targets)]  # the first receiver boundary ≥ target
            bounds.update(cuts.tolist())
        bounds = sorted(bounds)
        starts, ends = bounds[:-1], bounds[1:]
        first = receiver[torch.tensor(starts, dtype=torch.long, device=ptr.device)]
        last = receiver[torch.tensor(ends, dtype=torch.long, device=ptr.device) - 1]
        nodes = zip(first.tolist(), (last + 1).tolist(), strict=True) if num_edges else ()
        pairs = zip(starts, ends, strict=True)
        chunks = tuple((e0, e1, n0, n1) for (e0, e1), (n0, n1) in zip(pairs, nodes, strict=True))
        # each edge's receiver relative to the first receiver of its chunk
        sizes = torch.tensor([e1 - e0 for e0, e1, _, _ in chunks], device=ptr.device)
        offset = torch.repeat_interleave(first, sizes, output_size=num_edges)
        return cls(sender, receiver, ptr, perm, chunks, num_nodes, receiver - offset)

    @property
    def num_edges(self) -> int:
        return self.receiver.numel()

    def in_degree(self) -> Tensor:
        """Edges arriving at each node, shape (|V|,)."""
        return self.ptr[1:] - self.ptr[:-1]

    def out_degree(self) -> Tensor:
        """Edges leaving each node, shape (|V|,)."""
        return torch.bincount(self.sender, minlength=self.num_nodes)

    def adjacency(self, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """The sparse adjacency A (A_ij = number of edges j → i) and Aᵀ, CSR, cached."""
        if self._adjacency is None or self._adjacency[0].dtype != dtype:
            ones = torch.ones(self.num_edges, dtype=dtype, device=self.ptr.device)
            n = self.num_nodes
            with warnings.catch_warnings():  # "sparse CSR support is in beta"
                warnings.simplefilter("ignore", UserWarning)
                adj = torch.sparse_csr_tensor(
                    self.ptr, self.sender, ones, size=(n, n), check_invariants=False
                )
                self._adjacency = (adj, adj.t().to_sparse_csr())
        return self._adjacency


class _NeighbourSum(torch.autograd.Function):
    """(A b)_i = Σ_{j → i} b_j with a precomputed Aᵀ for the backward."""

    @staticmethod
    def forward(ctx, b: Tensor, adj: Tensor, adj_t: Tensor) -> Tensor:
        ctx.adj_t = adj_t
        return torch.sparse.mm(adj, b)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return torch.sparse.mm(ctx.adj_t, grad.contiguous()), None, None


def edge_moments(
    a: Tensor, b: Tensor, inv: Tensor, weight: Tensor, graph: ReceiverCSR
) -> tuple[Tensor, Tensor]:
    r"""Mean and biased variance over the edges of z_e = a_i + b_j + W e_e, from per-node sums.

    With degree-weighted centring (a' = a − ā, b' = b − b̄, e' = e − ē, so z − μ = a'_i + b'_j
    + W e'_e exactly),

    .. math::
        |E|\,\sigma^2 = \sum_i d^{in}_i a_i'^2 + \sum_j d^{out}_j b_j'^2
            + \operatorname{diag}(W G W^\top) + 2 \sum_i a'_i (A b')_i
            + 2 \sum_i a'_i\, W S^{in}_i + 2 \sum_j b'_j\, W S^{out}_j

    with A the adjacency, G = Σ_e e'_e e'_eᵀ and S^in, S^out the sums of e' over each node's
    incoming and outgoing edges. Only (|V|, F) and (|E|, k) work, no (|E|, F) tensor; computed in
    float64 (the terms may cancel) and differentiable, so that BatchNorm's gradient through its
    batch statistics comes from autograd.

    Args:
        a, b: per-node terms (|V|, F). inv: edge inputs e in receiver order (|E|, k).
        weight: W (F, k). graph: the :class:`ReceiverCSR`.

    Returns:
        mean (F,) and biased variance (F,), in float64.
    """
    f64 = torch.float64
    a, b, inv, weight = a.to(f64), b.to(f64), inv.to(f64), weight.to(f64)
    n_edges = graph.num_edges
    d_in = graph.in_degree().to(f64)
    d_out = graph.out_degree().to(f64)
    a_c = a - (d_in @ a) / n_edges
    b_c = b - (d_out @ b) / n_edges
    inv_mean = inv.mean(0)
    inv_c = inv - inv_mean
    mean = (d_in @ a + d_out @ b) / n_edges + weight @ inv_mean
    s_in = torch.zeros(graph.num_nodes, inv.size(1), dtype=f64, device=inv.device)
    s_in = s_in.index_add(0, graph.receiver, inv_c)
    s_out = torch.zeros_like(s_in).index_add(0, graph.sender, inv_c)
    neighbours = _NeighbourSum.apply(b_c, *graph.adjacency(f64))
    gram = inv_c.T @ inv_c
    total = (
        d_in @ a_c.square()
        + d_out @ b_c.square()
        + ((weight @ gram) * weight).sum(1)
        + 2 * (a_c * (neighbours + s_in @ weight.T)).sum(0)
        + 2 * (b_c * (s_out @ weight.T)).sum(0)
    )
    return mean, (total / n_edges).clamp(min=0)


def _act(x: Tensor, activation: str) -> Tensor:
    return x.relu_() if activation == "relu" else F.silu(x)


def _act_backward(grad: Tensor, out: Tensor, pre: Tensor, activation: str) -> Tensor:
    if activation == "relu":
        return torch.ops.aten.threshold_backward(grad, out, 0)
    return torch.ops.aten.silu_backward(grad, pre)


_POOL: ThreadPoolExecutor | None = None
_WORKER = threading.local()


def _workers(graph: ReceiverCSR) -> int:
    """Threads that walk the chunks: torch's intra-op threads on CPU, one on other devices or
    under a dispatch mode (a FLOP counter sees only its own thread)."""
    if graph.receiver.device.type != "cpu" or torch._C._len_torch_dispatch_stack() > 0:
        return 1
    return max(1, min(torch.get_num_threads(), len(graph.chunks)))


def _map_chunks(fn, graph: ReceiverCSR, make_acc) -> list:
    """Run ``fn(chunk, acc)`` over the chunks, each worker with its own accumulators ``acc``.

    With several workers, each is a thread that runs torch single-threaded on every
    ``workers``-th chunk: no barrier per operator (which stalls a whole step when another
    process takes a core), only one at the end. Chunks own disjoint receivers, so outputs
    indexed by receiver or edge are written in place; sums over senders and weights go to
    ``acc``, one per worker, added in worker order, so that the result does not depend on
    which thread ran first.
    """
    global _POOL
    workers = _workers(graph)
    if workers == 1:
        acc = make_acc()
        for chunk in graph.chunks:
            fn(chunk, acc)
        return [acc]
    threads = torch.get_num_threads()
    inference = torch.is_inference_mode_enabled()

    def work(chunks):
        fresh = not getattr(_WORKER, "single_threaded", False)
        if fresh:  # once per thread: torch's thread count is per thread once initialised
            torch.set_num_threads(1)
            torch.get_num_threads()  # initialise this thread's setting now, at 1
            _WORKER.single_threaded = True
        acc = make_acc()
        with torch.inference_mode() if inference else torch.no_grad():
            for chunk in chunks:
                fn(chunk, acc)
        return acc, fresh

    if _POOL is None or _POOL._max_workers < workers:
        _POOL = ThreadPoolExecutor(max(workers, os.cpu_count() or 1), "liegnn-edges")
    # a fixed share of the chunks per worker, summed in a fixed order: deterministic gradients
    shares = [graph.chunks[w::workers] for w in range(workers)]
    results = [f.result() for f in [_POOL.submit(work, share) for share in shares]]
    if any(fresh for _, fresh in results):  # set_num_threads(1) also set the process default
        torch.set_num_threads(threads)
    return [acc for acc, _ in results]


class _FusedEdgeMLP(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A, B, inv, W_e, diff, W2, b2, w_m, b_m, W_x, b_x, w_x, graph, act, clamp):
        N, C = A.shape
        agg_m = A.new_zeros(N, C)
        agg_x = diff.new_zeros(N, diff.size(1)) if diff is not None else None

        def chunk_forward(chunk, acc):
            e0, e1, n0, n1 = chunk
            recv, local = graph.receiver[e0:e1], graph.local_receiver[e0:e1]
            y = A.index_select(0, recv)
            y += B.index_select(0, graph.sender[e0:e1])
            y.addmm_(inv[e0:e1], W_e.T)
            m = _act(torch.addmm(b2, _act(y, act), W2.T), act)
            if w_m is not None:
                m = m.mul_(torch.addmm(b_m, m, w_m.T).sigmoid_())
            agg_m[n0:n1].index_add_(0, local, m)
            if diff is not None:
                s = _act(torch.addmm(b_x, m, W_x.T), act) @ w_x.T
                msg = diff[e0:e1] * s
                if clamp is not None:
                    msg.clamp_(-clamp, clamp)
                agg_x[n0:n1].index_add_(0, local, msg)

        _map_chunks(chunk_forward, graph, dict)
        ctx.graph, ctx.act, ctx.clamp = graph, act, clamp
        ctx.save_for_backward(A, B, inv, W_e, diff, W2, b2, w_m, b_m, W_x, b_x, w_x)
        if diff is None:
            return agg_m
        return agg_m, agg_x

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_m, grad_x=None):
        A, B, inv, W_e, diff, W2, b2, w_m, b_m, W_x, b_x, w_x = ctx.saved_tensors
        graph, act, clamp = ctx.graph, ctx.act, ctx.clamp
        grad_m = grad_m.contiguous()
        pos_grad = diff is not None and grad_x is not None
        if pos_grad:
            grad_x = grad_x.contiguous()
        dA = torch.zeros_like(A)
        d_inv = torch.zeros_like(inv)
        d_diff = torch.zeros_like(diff) if diff is not None else None
        # per-worker sums: over senders (dB) and over all edges (the weights)
        weights = dict(B=B, W_e=W_e, W2=W2, b2=b2, w_m=w_m, b_m=b_m, W_x=W_x, b_x=b_x, w_x=w_x)

        def make_acc():
            return {k: torch.zeros_like(v) for k, v in weights.items() if v is not None}

        def chunk_backward(chunk, acc):
            e0, e1, n0, n1 = chunk
            recv, send = graph.receiver[e0:e1], graph.sender[e0:e1]
            local, inv_c = graph.local_receiver[e0:e1], inv[e0:e1]
            # recompute the chunk's forward, keeping what the backward needs
            y = A.index_select(0, recv)
            y += B.index_select(0, send)
            y.addmm_(inv_c, W_e.T)
            r = _act(y, act)  # ReLU overwrites y: its backward needs only the output
            m_pre = torch.addmm(b2, r, W2.T)
            m = _act(m_pre, act)
            if w_m is not None:
                w = torch.addmm(b_m, m, w_m.T).sigmoid_()
                msg_h = m * w
            else:
                msg_h = m
            d_h = grad_m.index_select(0, recv)
            if pos_grad:
                t_pre = torch.addmm(b_x, msg_h, W_x.T)
                t = _act(t_pre, act)
                s = t @ w_x.T
                diff_c = diff[e0:e1]
                d_msg = grad_x.index_select(0, recv)
                if clamp is not None:
                    msg = diff_c * s
                    d_msg = d_msg.masked_fill_(msg.abs() > clamp, 0)
                torch.mul(d_msg, s, out=d_diff[e0:e1])
                d_s = (d_msg * diff_c).sum(1, keepdim=True)
                acc["w_x"].addmm_(d_s.T, t)
                d_t = _act_backward(d_s @ w_x, t, t_pre, act)
                acc["W_x"].addmm_(d_t.T, msg_h)
                acc["b_x"] += d_t.sum(0)
                d_h.addmm_(d_t, W_x)
            if w_m is not None:
                d_w = (d_h * m).sum(1, keepdim=True)
                d_wl = torch.ops.aten.sigmoid_backward(d_w, w)
                acc["w_m"].addmm_(d_wl.T, m)
                acc["b_m"] += d_wl.sum(0)
                d_m = d_h.mul_(w).addmm_(d_wl, w_m)
            else:
                d_m = d_h
            d_mpre = _act_backward(d_m, m, m_pre, act)
            acc["W2"].addmm_(d_mpre.T, r)
            acc["b2"] += d_mpre.sum(0)
            d_y = _act_backward(d_mpre @ W2, r, y, act)
            dA[n0:n1].index_add_(0, local, d_y)
            acc["B"].index_add_(0, send, d_y)
            torch.mm(d_y, W_e, out=d_inv[e0:e1])
            acc["W_e"].addmm_(d_y.T, inv_c)

        accs = _map_chunks(chunk_backward, graph, make_acc)
        total = {k: sum(acc[k] for acc in accs[1:]) + accs[0][k] for k in accs[0]}
        grads = [total.get(k) for k in ("B", "W_e", "W2", "b2", "w_m", "b_m", "W_x", "b_x", "w_x")]
        dB, dW_e, dW2, db2, dw_m, db_m, dW_x, db_x, dw_x = grads
        if not pos_grad:
            dW_x, db_x, dw_x = (None if v is None else torch.zeros_like(v) for v in (W_x, b_x, w_x))
        return (dA, dB, d_inv, dW_e, d_diff, dW2, db2, dw_m, db_m, dW_x, db_x, dw_x) + (None,) * 3


def fused_edge_mlp(
    A: Tensor,
    B: Tensor,
    inv: Tensor,
    W_e: Tensor,
    diff: Tensor | None,
    phi_e2: torch.nn.Linear,
    phi_m: torch.nn.Linear | None,
    phi_x: tuple[torch.nn.Linear, torch.nn.Linear] | None,
    graph: ReceiverCSR,
    *,
    activation: str = "relu",
    clamp: float | None = 100.0,
) -> tuple[Tensor, Tensor | None]:
    r"""The summed messages M (|V|, F) and coordinate messages X (|V|, n) of the module docstring.

    Args:
        A, B: per-node terms of the first edge layer (normalisation folded in), (|V|, F).
        inv: edge invariants e in receiver order, (|E|, k).
        W_e: their weight (F, k).
        diff: x_i − x_j in receiver order (|E|, n), or None for no coordinate messages.
        phi_e2: φ_e's second Linear (F → F). phi_m: the attention Linear (F → 1) or None.
        phi_x: φ_x's Linear (F → F) and bias-free Linear (F → 1), or None.
        graph: the :class:`ReceiverCSR` of the edges.
        activation: ``"relu"`` or ``"silu"``. (default: ``"relu"``)
        clamp: bound on each coordinate message component, None for none. (default: ``100.0``)

    Returns:
        (M, X), X None when ``diff`` is None. Differentiable in every tensor argument and
        parameter (first order; the backward recomputes each chunk).
    """
    if diff is not None and phi_x is None:
        raise ValueError("coordinate messages need phi_x")
    if diff is None:
        phi_x = None
    w_m, b_m = (phi_m.weight, phi_m.bias) if phi_m is not None else (None, None)
    W_x, b_x, w_x = (phi_x[0].weight, phi_x[0].bias, phi_x[1].weight) if phi_x else (None,) * 3
    out = _FusedEdgeMLP.apply(
        A, B, inv, W_e, diff, phi_e2.weight, phi_e2.bias, w_m, b_m, W_x, b_x, w_x,
        graph, activation, clamp,
    )  # fmt: skip
    return (out, None) if diff is None else out
