"""The fused edge block computes the plain path's function: outputs, gradients, statistics.

Its symmetry tests (Lorentz boosts to rapidity 3, O(3), a conjugated metric) run on both paths
in test_conv.py."""

import copy

import pytest
import torch
from test_conv import graph, make_conv
from torch import nn
from torch_geometric.data import Batch
from torch_geometric.utils import erdos_renyi_graph

from liegnn.nn.conv import LieGNNConv
from liegnn.nn.edge_block import ReceiverCSR, edge_moments
from liegnn.nn.graphs import complete_graph
from liegnn.nn.liegnn import LieGNN

TOL = {torch.float32: 1e-5, torch.float64: 1e-12}

VARIANTS = {
    "lorentznet": {},
    "last_block": dict(update_pos=False),
    "egnn": dict(activation="silu", norm=None, use_psi=False, use_dot=False, pos_aggr="sum"),
    "mean_no_attention": dict(attention=False, aggr="mean"),
    "clamp_active": dict(clamp=0.05),
}


def pair(metric="minkowski", dtype=torch.float64, **kwargs):
    """The same block twice: the plain path (reference) and the fused one."""
    plain = make_conv(metric, fused=False, **kwargs).to(dtype)
    fused = copy.deepcopy(plain)
    fused.fused = True
    return plain, fused


def outputs_and_grads(conv, h, pos, edge_index, s, graph_=None):
    h, pos = h.clone().requires_grad_(), pos.clone().requires_grad_()
    out_h, out_x = conv(h, pos, edge_index, s, graph=graph_)
    weight = torch.linspace(-1, 1, out_h.numel(), dtype=h.dtype).view_as(out_h)
    loss = (out_h * weight).sum() + out_x.pow(2).sum()
    grads = torch.autograd.grad(loss, [h, pos, *conv.parameters()])
    return (out_h, out_x), grads


def assert_same(result, reference, tol):
    """Every tensor within tol relative to its own size; gradients that vanish in exact
    arithmetic (a bias right before BatchNorm) within tol of the largest one."""
    (outs, grads), (ref_outs, ref_grads) = result, reference
    for a, b in zip(outs, ref_outs, strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * b.abs().max().item())
    scale = max(g.abs().max().item() for g in ref_grads)
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * scale)


def bn_state(conv):
    return [
        t.clone()
        for m in conv.modules()
        if isinstance(m, nn.BatchNorm1d)
        for t in (m.running_mean, m.running_var, m.num_batches_tracked)
    ]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("variant", VARIANTS)
def test_fused_block_equals_plain_outputs_gradients_and_running_stats(variant, train, dtype):
    plain, fused = pair(dtype=dtype, **VARIANTS[variant])
    plain.train(train), fused.train(train)
    h, pos, ei, s = (t.to(dtype) if t.is_floating_point() else t for t in graph([4, 9, 1, 6]))
    ref = outputs_and_grads(plain, h, pos, ei, s)
    # chunks of 7 edges: several per graph, and receivers of degree 8 > 7 span one alone
    csr = ReceiverCSR.from_edge_index(ei, len(h), chunk_edges=7)
    assert len(csr.chunks) > 5
    assert_same(outputs_and_grads(fused, h, pos, ei, s, csr), ref, TOL[dtype])
    for a, b in zip(bn_state(fused), bn_state(plain), strict=True):
        torch.testing.assert_close(a, b, rtol=TOL[dtype], atol=0)


def test_unsorted_edges_with_repeats_and_isolated_nodes_are_sorted_and_give_the_same_result():
    plain, fused = pair()
    h, pos, _, s = graph([12])
    g = torch.Generator().manual_seed(3)
    ei = erdos_renyi_graph(10, 0.4)  # nodes 10 and 11 stay isolated
    ei = torch.cat([ei, ei[:, :5]], 1)  # repeated edges count twice
    ei = ei[:, torch.randperm(ei.size(1), generator=g)]
    csr = ReceiverCSR.from_edge_index(ei, 12, chunk_edges=5)
    assert csr.perm is not None and bool((csr.receiver[1:] >= csr.receiver[:-1]).all())
    assert torch.equal(csr.receiver, ei[1][csr.perm]) and torch.equal(csr.sender, ei[0][csr.perm])
    for train in (True, False):
        plain.train(train), fused.train(train)
        ref = outputs_and_grads(plain, h, pos, ei, s)
        assert_same(outputs_and_grads(fused, h, pos, ei, s), ref, 1e-12)


def test_chunks_cut_at_receiver_boundaries_and_cover_every_edge():
    ei = complete_graph([3, 7, 5])
    csr = ReceiverCSR.from_edge_index(ei, 15, chunk_edges=10)
    assert csr.perm is None  # complete graphs come sorted by receiver
    starts = set(csr.ptr.tolist())
    assert csr.chunks[0][0] == 0 and csr.chunks[-1][1] == ei.size(1)
    for (_, end, _, last), (start, _, first, _) in zip(
        csr.chunks[:-1], csr.chunks[1:], strict=True
    ):
        assert end == start and end in starts and last == first
    for e0, e1, n0, n1 in csr.chunks:  # each chunk owns the receivers n0, …, n1 − 1
        assert csr.receiver[e0] == n0 and csr.receiver[e1 - 1] == n1 - 1
        assert torch.equal(csr.local_receiver[e0:e1], csr.receiver[e0:e1] - n0)


def test_edge_moments_equal_the_direct_mean_and_variance_and_their_gradients():
    g = torch.Generator().manual_seed(0)
    ei = erdos_renyi_graph(9, 0.5)
    csr = ReceiverCSR.from_edge_index(ei, 9)
    a, b = (5 + torch.randn(9, 4, generator=g, dtype=torch.float64) for _ in range(2))
    inv = torch.randn(csr.num_edges, 2, generator=g, dtype=torch.float64)
    W = torch.randn(4, 2, generator=g, dtype=torch.float64)
    z = a[csr.receiver] + b[csr.sender] + inv @ W.T
    mean, var = edge_moments(a, b, inv, W, csr)
    torch.testing.assert_close(mean, z.mean(0), rtol=1e-12, atol=0)
    torch.testing.assert_close(var, z.var(0, correction=0), rtol=1e-12, atol=0)
    inputs = tuple(t.clone().requires_grad_() for t in (a, b, inv, W))
    assert torch.autograd.gradcheck(lambda *t: edge_moments(*t, csr), inputs)


def test_gradcheck_of_the_fused_block_in_training_mode():
    conv = make_conv("minkowski", channels=3, scalars=1, fused=True, clamp=None).train()
    h, pos, ei, s = graph([3, 4], channels=3, scalars=1)
    csr = ReceiverCSR.from_edge_index(ei, 7, chunk_edges=4)
    names, params = zip(*conv.named_parameters(), strict=True)

    def block(h, pos, *weights):
        state = dict(zip(names, weights, strict=True))
        out_h, out_x = torch.func.functional_call(conv, state, (h, pos, ei, s), {"graph": csr})
        return out_h, out_x

    inputs = (h, pos, *(p.detach().clone() for p in params))
    inputs = tuple(t.requires_grad_() for t in inputs)
    assert torch.autograd.gradcheck(block, inputs, fast_mode=True)
    weights = inputs[2:]  # and the full Jacobian in h and x
    assert torch.autograd.gradcheck(lambda h, pos: block(h, pos, *weights), inputs[:2])


def test_fused_block_keeps_no_edge_by_channel_tensor_for_backward():
    """Memory O(|V|·F + |E|·(n + k)): nothing of size |E| × F is saved for the backward."""
    channels = 16
    h, pos, ei, s = graph([30, 25], channels=channels)
    E = ei.size(1)
    for fused in (False, True):
        conv = make_conv("minkowski", channels=channels, fused=fused).train()
        sizes = []

        def pack(t, sizes=sizes):
            sizes.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            conv(h.requires_grad_(), pos, ei, s)
        largest = max(sizes)
        if fused:
            assert largest < E * channels / 2
        else:
            assert largest >= E * channels


def test_fused_block_rejects_a_single_edge_in_training_like_batchnorm():
    conv = make_conv("minkowski", fused=True).train()
    h, pos, _, s = graph([2])
    with pytest.raises(ValueError, match="more than 1 value"):
        conv(h, pos, torch.tensor([[0], [1]]), s)


def test_auto_picks_the_fused_block_on_cpu_and_the_plain_path_elsewhere():
    h, pos, ei, _ = graph([4])
    auto = LieGNNConv("minkowski", 8, fused="auto").double()
    assert auto.uses_fused(h, pos, ei)
    assert not LieGNNConv("minkowski", 8, fused=False).uses_fused(h, pos, ei)
    assert not auto.uses_fused(h.half(), pos.half(), ei)  # half precision: plain path
    assert not auto.uses_fused(h, pos, ei[:, :0])  # no edges: plain path
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not auto.uses_fused(h.float(), pos.float(), ei)
    with pytest.raises(ValueError, match="fused"):
        LieGNNConv("minkowski", 8, fused="yes")


def test_liegnn_fused_training_steps_equal_the_plain_ones():
    from test_liegnn import jets

    batch = Batch.from_data_list(jets([5, 9, 3, 7]))
    models = []
    for fused in (False, True):
        torch.manual_seed(0)
        models.append(LieGNN("minkowski", hidden=8, n_layers=3, dropout=0.0, fused=fused).double())
    # SGD: Adam's g / √v would blow up the rounding noise of gradients that vanish exactly
    optims = [torch.optim.SGD(m.parameters(), lr=1e-2, momentum=0.9) for m in models]
    for _ in range(3):
        losses = []
        for model, opt in zip(models, optims, strict=True):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model.train()(batch), batch.y)
            loss.backward()
            opt.step()
            losses.append(loss)
        torch.testing.assert_close(losses[1], losses[0], rtol=1e-12, atol=0)
    for a, b in zip(models[1].state_dict().values(), models[0].state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(models[1].eval()(batch), models[0].eval()(batch), rtol=1e-12, atol=0)


def test_one_or_several_worker_threads_give_the_same_deterministic_result():
    plain, fused = pair()
    plain.train(), fused.train()
    h, pos, ei, s = graph([9, 12, 7])
    csr = ReceiverCSR.from_edge_index(ei, len(h), chunk_edges=16)
    threads = torch.get_num_threads()
    try:
        results = []
        for n in (1, 2, 2):
            torch.set_num_threads(n)
            results.append(outputs_and_grads(fused, h, pos, ei, s, csr))
            assert torch.get_num_threads() == n  # the workers leave the setting as it was
    finally:
        torch.set_num_threads(threads)
    assert_same(results[1], results[0], 1e-13)
    for a, b in zip(results[2][1], results[1][1], strict=True):  # deterministic gradients
        assert torch.equal(a, b)
    assert_same(results[1], outputs_and_grads(plain, h, pos, ei, s), 1e-12)
