import pytest
import torch
from torch import nn

from liegnn.nn.conv import LieGNNConv
from liegnn.nn.graphs import complete_graph
from liegnn.nn.metric_tensor import MetricTensor
from liegnn.nn.psi import psi

ETA = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))


def rotation(g, n=3):
    q, r = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def lorentz(g, rapidity):
    """A proper orthochronous Lorentz transformation: a rotation, then a boost of given rapidity."""
    n = torch.randn(3, generator=g, dtype=torch.float64)
    n = n / n.norm()
    boost = torch.eye(4, dtype=torch.float64)
    boost[0, 0] = torch.cosh(torch.tensor(rapidity, dtype=torch.float64))
    boost[0, 1:] = boost[1:, 0] = torch.sinh(torch.tensor(rapidity, dtype=torch.float64)) * n
    boost[1:, 1:] += (boost[0, 0] - 1) * torch.outer(n, n)
    rot = torch.eye(4, dtype=torch.float64)
    rot[1:, 1:] = rotation(g)
    return boost @ rot


def graph(sizes, dim=4, channels=8, scalars=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    N = sum(sizes)
    h = torch.randn(N, channels, generator=g, dtype=torch.float64)
    p = torch.randn(N, dim - 1, generator=g, dtype=torch.float64) if dim == 4 else None
    if dim == 4:  # physical 4-momenta: E ≥ |p|, a few GeV
        e = (p.pow(2).sum(-1) + torch.rand(N, generator=g, dtype=torch.float64)).sqrt()
        pos = torch.cat([e[:, None], p], -1) * 3
    else:
        pos = torch.randn(N, dim, generator=g, dtype=torch.float64)
    s = torch.randn(N, scalars, generator=g, dtype=torch.float64)
    return h, pos, complete_graph(sizes), s


def make_conv(metric, channels=8, scalars=2, seed=0, **kwargs):
    """A float64 block with a sizeable coordinate update, so that its equivariance is tested."""
    torch.manual_seed(seed)
    conv = LieGNNConv(metric, channels, scalars, c_weight=1.0, **kwargs).double()
    if conv.phi_x is not None:
        nn.init.normal_(conv.phi_x[2].weight, std=0.3)
    with torch.no_grad():  # non-trivial BatchNorm statistics for eval mode
        for m in conv.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
    return conv.eval()


def rel(a, b):
    return float((a - b).detach().norm() / b.detach().norm())


def check_equivariance(conv, h, pos, edge_index, s, g):
    """Relative errors of h (invariant), x (equivariant) and the update x' − x, under x ↦ x gᵀ."""
    h1, x1 = conv(h, pos, edge_index, s)
    h2, x2 = conv(h, pos @ g.T, edge_index, s)
    return rel(h2, h1), rel(x2, x1 @ g.T), rel(x2 - pos @ g.T, (x1 - pos) @ g.T)


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("rapidity", [0.5, 3.0])
def test_invariant_and_equivariant_under_lorentz_boost(rapidity, fused):
    g = torch.Generator().manual_seed(1)
    # the ±100 clamp is a safety net that is not equivariant once active; keep it out of the way
    conv = make_conv("minkowski", clamp=None, fused=fused)
    h, pos, ei, s = graph([6, 9])
    for _ in range(3):
        L = lorentz(g, rapidity)
        assert torch.allclose(L.T @ ETA @ L, ETA, atol=1e-9)
        errors = check_equivariance(conv, h, pos, ei, s, L)
        assert max(errors) < 1e-6, errors


@pytest.mark.parametrize("fused", [False, True])
def test_equivariant_under_rotations_and_reflections_for_euclidean_metric(fused):
    g = torch.Generator().manual_seed(2)
    conv = make_conv("euclidean", clamp=None, fused=fused)
    h, pos, ei, s = graph([5, 7], dim=3)
    for reflect in (False, True):
        Q = rotation(g)
        if reflect:
            Q = Q @ torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))
        assert max(check_equivariance(conv, h, pos, ei, s, Q)) < 1e-6


@pytest.mark.parametrize("fused", [False, True])
def test_equivariant_under_conjugated_lorentz_group_for_transformed_metric(fused):
    """J' = P⁻ᵀ η P⁻¹ is preserved by P Λ P⁻¹; positions x' = P x."""
    g = torch.Generator().manual_seed(3)
    P = torch.eye(4, dtype=torch.float64) + 0.3 * torch.randn(
        4, 4, generator=g, dtype=torch.float64
    )
    P_inv = torch.linalg.inv(P)
    J = P_inv.T @ ETA @ P_inv
    conv = make_conv(J, clamp=None, fused=fused)
    h, pos, ei, s = graph([6, 8])
    pos = pos @ P.T
    for rapidity in (1.0, 3.0):
        G = P @ lorentz(g, rapidity) @ P_inv
        assert max(check_equivariance(conv, h, pos, ei, s, G)) < 1e-6


def test_not_invariant_under_a_transformation_outside_the_metric_group():
    """The tests above can fail: J = I is not preserved by a boost."""
    conv = make_conv("euclidean", dim=4, clamp=None)
    h, pos, ei, s = graph([6])
    h_err, x_err, _ = check_equivariance(
        conv, h, pos, ei, s, lorentz(torch.Generator().manual_seed(4), 1.0)
    )
    assert h_err > 1e-3


@pytest.mark.parametrize("fused", [False, True])
def test_permuting_nodes_permutes_outputs(fused):
    conv = make_conv("minkowski", fused=fused)
    h, pos, ei, s = graph([7])
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(5))
    h1, x1 = conv(h, pos, ei, s)
    h2, x2 = conv(h[perm], pos[perm], ei, s[perm])
    assert torch.allclose(h2, h1[perm], atol=1e-12)
    assert torch.allclose(x2, x1[perm], atol=1e-12)


def reference_block(conv, h, pos, edge_index, s):
    """LorentzNet's block computed the direct way: φ_e on the per-edge concatenation."""
    j, i = edge_index
    J = conv.metric()
    diff = pos[i] - pos[j]
    norm = psi(((diff @ J) * diff).sum(-1, keepdim=True))
    dot = psi(((pos[i] @ J) * pos[j]).sum(-1, keepdim=True))
    m = conv.phi_e(torch.cat([h[i], h[j], norm, dot], dim=1))
    m = m * conv.phi_m(m)
    trans = (diff * conv.phi_x(m)).clamp(-100, 100)
    count = torch.zeros(len(h), 1, dtype=h.dtype).index_add_(
        0, i, torch.ones(len(i), 1, dtype=h.dtype)
    )
    agg_x = torch.zeros_like(pos).index_add_(0, i, trans) / count.clamp(min=1)
    agg_m = torch.zeros_like(h).index_add_(0, i, m)
    return h + conv.phi_h(torch.cat([h, agg_m, s], dim=1)), pos + conv.c_weight * agg_x


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("train", [False, True])
def test_split_first_layer_equals_concatenated_lorentznet_block(train, fused):
    conv = make_conv("minkowski", fused=fused).train(train)
    h, pos, ei, s = graph([4, 6, 3])
    ref_h, ref_x = reference_block(conv, h, pos, ei, s)
    out_h, out_x = conv(h, pos, ei, s)
    assert rel(out_h, ref_h) < 1e-12 and rel(out_x, ref_x) < 1e-12


def test_last_block_keeps_positions_and_has_no_coordinate_network():
    conv = make_conv("minkowski", update_pos=False)
    assert conv.phi_x is None
    h, pos, ei, s = graph([5])
    _, x = conv(h, pos, ei, s)
    assert torch.equal(x, pos)


def test_egnn_variant_is_invariant_under_translations():
    conv = make_conv(
        "euclidean",
        activation="silu",
        norm=None,
        use_psi=False,
        use_dot=False,
        pos_aggr="sum",
        clamp=None,
    )
    assert not any(isinstance(m, nn.BatchNorm1d) for m in conv.modules())
    assert conv.phi_e[0].in_features == 2 * 8 + 1
    h, pos, ei, s = graph([6], dim=3)
    shift = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    h1, x1 = conv(h, pos, ei, s)
    h2, x2 = conv(h, pos + shift, ei, s)
    assert rel(h2, h1) < 1e-12 and rel(x2, x1 + shift) < 1e-12


def test_learnable_metric_is_trained_and_stays_symmetric():
    conv = make_conv("minkowski", learnable_metric=True).train()
    h, pos, ei, s = graph([5, 4])
    opt = torch.optim.SGD(conv.parameters(), lr=0.1)
    out_h, out_x = conv(h, pos, ei, s)
    (out_h.pow(2).sum() + out_x.sum()).backward()
    assert conv.metric.weight.grad is not None and conv.metric.weight.grad.abs().sum() > 0
    opt.step()
    J = conv.metric()
    assert torch.equal(J, J.T) and not torch.equal(J, ETA)


def test_fixed_metric_is_a_buffer_shared_between_blocks():
    metric = MetricTensor("minkowski")
    a, b = LieGNNConv(metric, 8), LieGNNConv(metric, 8)
    assert a.metric is b.metric
    assert "metric.J" in dict(a.named_buffers()) and not any(
        "metric" in n for n, _ in a.named_parameters()
    )


@pytest.mark.parametrize(
    "metric, match",
    [
        (torch.tensor([[1.0, 2.0], [0.0, 1.0]]), "symmetric"),
        (torch.tensor([[1.0, 1.0], [1.0, 1.0]]), "singular"),
        (torch.ones(2, 3), "square"),
        ("lorentzian", "unknown metric"),
    ],
)
def test_rejects_a_bad_metric(metric, match):
    with pytest.raises(ValueError, match=match):
        LieGNNConv(metric, 8)


def test_rejects_positions_of_the_wrong_dimension():
    conv = LieGNNConv("minkowski", 8)
    with pytest.raises(ValueError, match="4×4 metric"):
        conv(torch.randn(3, 8), torch.randn(3, 3), complete_graph([3]))
    with pytest.raises(ValueError, match="scalars"):
        LieGNNConv("minkowski", 8, 2)(torch.randn(3, 8), torch.randn(3, 4), complete_graph([3]))


def test_graph_without_edges_updates_h_from_its_own_features_only():
    conv = make_conv("minkowski").train()
    h, pos, _, s = graph([3])
    empty = torch.empty(2, 0, dtype=torch.long)
    out_h, out_x = conv(h, pos, empty, s)
    assert torch.equal(out_x, pos)
    expected = h + conv.phi_h(torch.cat([h, torch.zeros_like(h), s], dim=1))
    assert torch.allclose(out_h, expected)


@pytest.mark.parametrize("fused", [False, True])
def test_gradients_finite_under_large_boosts(fused):
    conv = make_conv("minkowski", fused=fused).train()
    h, pos, ei, s = graph([6, 5])
    pos = (pos * 100) @ lorentz(torch.Generator().manual_seed(6), 3.0).T  # energies ~ 10⁴
    pos.requires_grad_(True)
    out_h, out_x = conv(h, pos, ei, s)
    (out_h.pow(2).sum() + out_x.pow(2).sum()).backward()
    grads = [p.grad for p in conv.parameters()] + [pos.grad]
    assert all(torch.isfinite(g).all() for g in grads)


@pytest.mark.slow
def test_torch_compile_matches_eager():
    torch.manual_seed(0)
    conv = LieGNNConv("minkowski", 16, 2)
    h, pos, ei, s = graph([5, 7], channels=16)
    h, pos, s = h.float(), pos.float(), s.float()
    compiled = torch.compile(conv)
    out, ref = compiled(h, pos, ei, s), conv(h, pos, ei, s)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(out, ref, strict=True))
    (out[0].sum() + out[1].sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in conv.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda_like_on_cpu():
    conv = make_conv("minkowski")
    h, pos, ei, s = graph([6, 4])
    ref = conv(h, pos, ei, s)
    out = conv.cuda()(h.cuda(), pos.cuda(), ei.cuda(), s.cuda())
    assert all(rel(a.cpu(), b) < 1e-10 for a, b in zip(out, ref, strict=True))
