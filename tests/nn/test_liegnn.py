import pytest
import torch
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader

from liegnn.nn.conv import LieGNNConv
from liegnn.nn.graphs import LorentzNetInputs, MoleculeGraph
from liegnn.nn.liegnn import LieGNN

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
    phi = torch.tensor(rapidity, dtype=torch.float64)
    boost = torch.eye(4, dtype=torch.float64)
    boost[0, 0] = torch.cosh(phi)
    boost[0, 1:] = boost[1:, 0] = torch.sinh(phi) * n
    boost[1:, 1:] += (torch.cosh(phi) - 1) * torch.outer(n, n)
    rot = torch.eye(4, dtype=torch.float64)
    rot[1:, 1:] = rotation(g)
    return boost @ rot


def jets(sizes, seed=0):
    g = torch.Generator().manual_seed(seed)
    data = []
    for n in sizes:
        p = torch.randn(n, 3, generator=g, dtype=torch.float64) * 20
        e = (p.pow(2).sum(-1) + torch.rand(n, generator=g, dtype=torch.float64)).sqrt()
        pos = torch.cat([e[:, None], p], -1)
        data.append(LorentzNetInputs()(Data(pos=pos, y=torch.randint(0, 2, (1,), generator=g))))
    return data


def molecules(sizes, seed=0):
    g = torch.Generator().manual_seed(seed)
    species = torch.tensor([1, 6, 7, 8, 9])
    return [
        MoleculeGraph()(
            Data(
                z=species[torch.randint(0, 5, (n,), generator=g)],
                pos=torch.randn(n, 3, generator=g, dtype=torch.float64) * 1.5,
            )
        )
        for n in sizes
    ]


def transformed(data_list, g):
    """The same graphs with every position mapped x ↦ x gᵀ."""
    out = []
    for d in data_list:
        d = d.clone()
        d.pos = d.pos @ g.T
        out.append(d)
    return out


def make_model(metric="minkowski", seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault("hidden", 16)
    kwargs.setdefault("n_layers", 3)
    model = LieGNN(metric, **kwargs).double()
    with torch.no_grad():  # coordinate updates that matter, non-trivial BatchNorm statistics
        for conv in model.convs:
            conv.c_weight = 0.5
            if conv.phi_x is not None:
                nn.init.normal_(conv.phi_x[2].weight, std=0.1)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def rel(a, b):
    return float((a - b).detach().norm() / b.detach().norm())


def test_defaults_are_lorentznet_size():
    model = LieGNN("minkowski")
    n_params = sum(p.numel() for p in model.parameters())
    assert abs(n_params - 224_072) <= 0.01 * 224_072
    assert n_params == 224_072  # the same layers as LorentzNet's release
    assert len(model.convs) == 6 and model.convs[-1].phi_x is None
    assert all(c.phi_x is not None for c in model.convs[:-1])


def test_egnn_preset_uses_silu_plain_norm_and_sums():
    model = LieGNN.egnn(5, dim=3)
    conv = model.convs[0]
    assert isinstance(conv.phi_e[2], nn.SiLU) and isinstance(conv.phi_e[1], nn.Identity)
    assert not conv.use_psi and not conv.use_dot
    assert conv.pos_aggr_module.__class__.__name__ == "SumAggregation"
    assert torch.equal(model.metric(), torch.eye(3))


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("rapidity", [1.0, 3.0])
def test_graph_output_invariant_under_lorentz_transformations(rapidity, fused):
    model = make_model(update_last_pos=True, fused=fused)
    data = jets([5, 9, 3])
    batch = Batch.from_data_list(data)
    g = torch.Generator().manual_seed(1)
    ref = model(batch)
    for _ in range(3):
        out = model(Batch.from_data_list(transformed(data, lorentz(g, rapidity))))
        assert rel(out, ref) < 1e-6


def test_coordinates_equivariant_under_lorentz_transformations():
    model = make_model(update_last_pos=True, clamp=None)
    batch = Batch.from_data_list(jets([6, 4]))
    L = lorentz(torch.Generator().manual_seed(2), 3.0)
    h1, x1 = model.encode(batch.x, batch.pos, batch.edge_index)
    h2, x2 = model.encode(batch.x, batch.pos @ L.T, batch.edge_index)
    assert rel(h2, h1) < 1e-6
    assert rel(x2 - batch.pos @ L.T, (x1 - batch.pos) @ L.T) < 1e-6  # the update itself


@pytest.mark.parametrize("fused", [False, True])
def test_graph_output_invariant_under_rotations_and_reflections_for_euclidean_metric(fused):
    model = make_model("euclidean", in_scalars=5, out_dim=3, fused=fused)
    data = molecules([4, 7])
    ref = model(Batch.from_data_list(data))
    g = torch.Generator().manual_seed(3)
    for reflect in (1.0, -1.0):
        Q = rotation(g) @ torch.diag(torch.tensor([1.0, 1.0, reflect], dtype=torch.float64))
        assert rel(model(Batch.from_data_list(transformed(data, Q))), ref) < 1e-6


@pytest.mark.parametrize("fused", [False, True])
def test_graph_output_invariant_for_metric_of_a_conjugated_group(fused):
    g = torch.Generator().manual_seed(4)
    P = torch.eye(4, dtype=torch.float64) + 0.3 * torch.randn(
        4, 4, generator=g, dtype=torch.float64
    )
    P_inv = torch.linalg.inv(P)
    model = make_model(P_inv.T @ ETA @ P_inv, fused=fused)
    data = transformed(jets([5, 6]), P)  # x' = P x
    ref = model(Batch.from_data_list(data))
    for rapidity in (1.0, 3.0):
        G = P @ lorentz(g, rapidity) @ P_inv
        assert rel(model(Batch.from_data_list(transformed(data, G))), ref) < 1e-6


def test_graph_output_changes_under_a_boost_for_the_wrong_metric():
    model = make_model("euclidean", dim=4)
    data = jets([6])
    ref = model(Batch.from_data_list(data))
    out = model(
        Batch.from_data_list(transformed(data, lorentz(torch.Generator().manual_seed(5), 1.0)))
    )
    assert rel(out, ref) > 1e-3


def test_graph_output_invariant_under_node_permutation():
    model = make_model()
    data = jets([8])[0]
    perm = torch.randperm(data.num_nodes, generator=torch.Generator().manual_seed(6))
    # a complete graph's edge_index is unchanged by relabelling its nodes
    shuffled = Data(x=data.x[perm], pos=data.pos[perm], edge_index=data.edge_index)
    assert rel(model(shuffled), model(data)) < 1e-12


def test_batch_gives_the_same_outputs_as_graphs_one_at_a_time_in_eval_mode():
    model = make_model()
    data = jets([5, 1, 9, 3])
    batched = model(Batch.from_data_list(data))
    single = torch.cat([model(Batch.from_data_list([d])) for d in data])
    assert batched.shape == (4, 2)
    assert rel(batched, single) < 1e-12


def test_batch_equivalence_in_train_mode_without_batchnorm():
    # BatchNorm (LorentzNet's default) mixes the graphs of a batch in train mode; without it the
    # graphs stay independent in training too.
    model = make_model(norm=None, dropout=0.0).train()
    data = jets([4, 7])
    batched = model(Batch.from_data_list(data))
    single = torch.cat([model(Batch.from_data_list([d])) for d in data])
    assert rel(batched, single) < 1e-12


def test_single_node_graph_works_in_eval_mode_and_within_a_batch():
    model = make_model()
    lone = Data(x=torch.rand(1, 2, dtype=torch.float64), pos=torch.rand(1, 4, dtype=torch.float64))
    assert torch.isfinite(model(lone)).all()
    model.train()
    out = model(Batch.from_data_list([lone] + jets([4])))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


def test_single_node_graph_alone_fails_clearly_in_train_mode_with_batchnorm():
    model = make_model().train()
    lone = Data(x=torch.rand(1, 2, dtype=torch.float64), pos=torch.rand(1, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="more than 1 value"):
        model(lone)


def test_empty_batch_fails_clearly():
    model = make_model()
    empty = Data(
        x=torch.zeros(0, 2, dtype=torch.float64), pos=torch.zeros(0, 4, dtype=torch.float64)
    )
    with pytest.raises(ValueError, match="empty"):
        model(empty)


def test_rejects_scalars_of_the_wrong_size():
    model = make_model()
    bad = Data(x=torch.zeros(3, 5, dtype=torch.float64), pos=torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(num_nodes, 2\)"):
        model(bad)


def test_missing_edge_index_is_built_as_complete_graphs():
    model = make_model()
    batch = Batch.from_data_list(jets([4, 6]))
    without = batch.clone()
    del without.edge_index
    assert rel(model(without), model(batch)) < 1e-14


def test_node_task_gives_invariant_per_node_outputs():
    model = make_model(task="node", out_dim=3)
    data = jets([5, 4])
    out = model(Batch.from_data_list(data))
    assert out.shape == (sum(d.num_nodes for d in data), 3)
    L = lorentz(torch.Generator().manual_seed(7), 2.0)
    assert rel(model(Batch.from_data_list(transformed(data, L))), out) < 1e-6


def test_sum_readout_scales_with_repeated_graph_where_mean_does_not():
    data = jets([5])
    for readout, factor in (("mean", 1.0), ("sum", 2.0)):
        model = make_model(readout=readout)
        model.decoder = nn.Identity()
        one = model(Batch.from_data_list(data))
        # the same jet twice, as one disconnected graph: each node keeps its own neighbourhood
        d = data[0]
        n = d.num_nodes
        twice = Data(
            x=torch.cat([d.x, d.x]),
            pos=torch.cat([d.pos, d.pos]),
            edge_index=torch.cat([d.edge_index, d.edge_index + n], dim=1),
        )
        assert rel(model(twice), factor * one) < 1e-12


def test_learnable_metric_is_one_parameter_shared_by_all_blocks():
    model = LieGNN("minkowski", learnable_metric=True, hidden=8, n_layers=3)
    assert all(conv.metric is model.metric for conv in model.convs)
    assert sum(p.numel() for n, p in model.named_parameters() if "metric" in n) == 16


def test_state_dict_round_trip_gives_the_same_model():
    model = make_model()
    clone = make_model(seed=1)
    batch = Batch.from_data_list(jets([4, 5]))
    assert not torch.equal(clone(batch), model(batch))
    clone.load_state_dict(model.state_dict())
    assert torch.equal(clone(batch), model(batch))


def test_gradients_finite_under_large_boosts():
    model = make_model().train()
    data = transformed(jets([6, 8]), lorentz(torch.Generator().manual_seed(8), 3.0))
    batch = Batch.from_data_list([d.clone() for d in data])
    batch.pos = (batch.pos * 50).requires_grad_(True)  # energies ~ 10⁴–10⁵
    out = model(batch)
    nn.functional.cross_entropy(out, batch.y).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert torch.isfinite(batch.pos.grad).all()


def test_trains_in_a_plain_pyg_loop_with_dataloader():
    torch.manual_seed(0)
    # class 1: jets boosted along z, class 0: at rest; invariants tell them apart via the beams
    data = []
    g = torch.Generator().manual_seed(9)
    for k in range(32):
        d = jets([6], seed=100 + k)[0]
        d.pos, d.x = d.pos.float(), d.x.float()
        if k % 2:
            boost = lorentz(g, 1.5).float()
            d.pos = torch.cat([d.pos[:2], d.pos[2:] @ boost.T])
        d.y = torch.tensor([k % 2])
        data.append(d)
    loader = DataLoader(data, batch_size=8, shuffle=True)
    model = LieGNN("minkowski", hidden=16, n_layers=2, dropout=0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        for batch in loader:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(batch), batch.y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert sum(losses[-4:]) / 4 < 0.5 * sum(losses[:4]) / 4


def test_conv_is_the_building_block():
    assert all(isinstance(c, LieGNNConv) for c in LieGNN("minkowski", hidden=8, n_layers=2).convs)


def test_tensor_call_as_pyg_models_take_equals_the_data_call():
    batch = Batch.from_data_list(jets([5, 9, 3], seed=4))
    model = LieGNN("minkowski", 2, hidden=8, n_layers=2).double().eval()
    from_data = model(batch)
    from_tensors = model(batch.x, batch.pos, batch.edge_index, batch.batch, batch.num_graphs)
    torch.testing.assert_close(from_tensors, from_data)
    # without edge_index and num_graphs: complete graphs are built from batch
    torch.testing.assert_close(model(batch.x, batch.pos, batch=batch.batch), from_data)


def test_tensor_call_names_mismatched_shapes():
    batch = Batch.from_data_list(jets([4, 6]))
    model = LieGNN("minkowski", 2, hidden=8, n_layers=1).double()
    with pytest.raises(ValueError, match=r"pos must have shape \(num_nodes, 4\)"):
        model(batch.x, batch.pos[:, :3], batch=batch.batch)
    with pytest.raises(ValueError, match=r"batch must have shape \(num_nodes,\)"):
        model(batch.x, batch.pos, batch=batch.batch[:-1])
    with pytest.raises(ValueError, match="not both"):
        model(batch, batch.pos)


def test_reset_parameters_redraws_the_weights_and_keeps_the_metric():
    J = torch.diag(torch.tensor([2.0, -1.0, -1.0, -0.5]))
    model = LieGNN(J, 2, hidden=8, n_layers=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(123)
    model.reset_parameters()
    after = model.state_dict()
    changed = [k for k in before if k.endswith("weight") and not torch.equal(before[k], after[k])]
    assert "embedding.weight" in changed and "decoder.3.weight" in changed
    assert any(k.startswith("convs.1.") for k in changed)
    torch.testing.assert_close(model.metric(), J)


def test_liegnn_takes_the_metric_of_a_symmetry_and_is_invariant_under_its_group():
    from liegnn import Symmetry
    from liegnn.algebra import lorentz as lorentz_algebra

    g = torch.Generator().manual_seed(7)
    noise = torch.randn(4, 4, generator=g, dtype=torch.float64)
    A = torch.eye(4, dtype=torch.float64) + 0.3 * noise
    sym = Symmetry(A @ lorentz_algebra(dtype=torch.float64) @ torch.linalg.inv(A))
    model = LieGNN(sym, 2, hidden=8, n_layers=2, use_psi=True).double().eval()
    batch = Batch.from_data_list(molecules([5, 7], seed=1))
    x = torch.rand(batch.num_nodes, 2, generator=g, dtype=torch.float64)
    pos = torch.randn(batch.num_nodes, 4, generator=g, dtype=torch.float64)
    h = sym.sample(1, scale=1.0, generator=g)[0]
    out = model(x, pos, batch=batch.batch)
    moved = model(x, pos @ h.T, batch=batch.batch)
    torch.testing.assert_close(moved, out, atol=1e-9, rtol=1e-7)
    assert (pos @ h.T - pos).abs().max() > 0.1


@pytest.mark.slow
def test_compile_switch_matches_eager():
    batch = Batch.from_data_list(jets([5, 7]))
    batch.x, batch.pos = batch.x.float(), batch.pos.float()
    torch.manual_seed(0)
    eager = LieGNN("minkowski", hidden=8, n_layers=2).eval()
    compiled = LieGNN("minkowski", hidden=8, n_layers=2, compile=True).eval()
    compiled.load_state_dict(eager.state_dict())
    torch.testing.assert_close(compiled(batch), eager(batch), rtol=1e-5, atol=1e-6)
