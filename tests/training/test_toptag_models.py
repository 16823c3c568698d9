"""Top-tagging models with a given or learnable metric J, and node scalars that follow J."""

import json

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from liegnn.nn.graphs import LorentzNetInputs
from liegnn.nn.liegnn import LieGNN
from liegnn.training.experiments import MassScalars, toptag_model, train_toptag
from liegnn.training.symmetry import load_metric, parse_symmetry

from .test_experiments import TINY, _jet_file

ETA = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))


def _conjugated(seed=0):
    """A random J = Sᵀ η S and a transformation g = S⁻¹ Λ S with gᵀ J g = J (Λ Lorentz, with
    rapidities ~0.4), in float64."""
    g = torch.Generator().manual_seed(seed)
    S = torch.eye(4, dtype=torch.float64) + 0.3 * torch.randn(
        4, 4, generator=g, dtype=torch.float64
    )
    X = torch.zeros(4, 4, dtype=torch.float64)
    X[0, 1:] = X[1:, 0] = torch.tensor([0.4, -0.3, 0.2], dtype=torch.float64)  # boosts
    X[1, 2], X[2, 1] = 0.7, -0.7  # a rotation
    Lam = torch.linalg.matrix_exp(X)
    assert torch.allclose(Lam.T @ ETA @ Lam, ETA, atol=1e-12)
    return S.T @ ETA @ S, torch.linalg.solve(S, Lam @ S)


def _jet_graphs(transform, n_graphs=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    graphs = []
    for i in range(n_graphs):
        p3 = torch.randn(6 + i, 3, generator=g, dtype=torch.float64) * 20
        p3[:, 2] += 200
        E = (p3.square().sum(-1, keepdim=True) + 0.02).sqrt()
        graphs.append(transform(Data(pos=torch.cat([E, p3], 1), y=torch.tensor([i % 2]))))
    return Batch.from_data_list(graphs)


def _liegnn(J):
    torch.manual_seed(0)
    return LieGNN(J, 2, 8, 2, 2, dropout=0.0).double().eval()


def test_mass_metric_none_is_the_reference_minkowski_mass():
    data = _jet_graphs(LorentzNetInputs(), 1)
    p = data.pos
    mass = (p[:, 0] ** 2 - (p[:, 1:] ** 2).sum(-1)).abs().sqrt()
    expected = torch.sign(mass) * torch.log1p(mass)
    torch.testing.assert_close(data.x.sum(-1), expected)
    given = _jet_graphs(LorentzNetInputs(mass_metric=ETA), 1)
    torch.testing.assert_close(given.x, data.x)


def test_mass_metric_model_leaves_the_bare_one_hot():
    data = _jet_graphs(LorentzNetInputs(mass_metric="model"), 1)
    assert data.x[:2].tolist() == [[0.0, 1.0], [0.0, 1.0]] and (data.x[2:, 0] == 1).all()
    with pytest.raises(ValueError, match="mass_metric"):
        LorentzNetInputs(mass_metric="minkowski-ish")


def test_model_with_node_scalars_from_its_j_is_exactly_invariant_and_with_eta_it_is_not():
    """J = Sᵀ η S random, g = S⁻¹ Λ S preserves it; every node (beams included) moves by g.
    With the model's own J in ψ(m) (MassScalars) the logits agree to 1e-10 in float64; with
    the reference η scalars (not preserved by g) they move by > 1e-2 (measured 8e-17 and 0.18)."""
    J, g = _conjugated()
    batch = _jet_graphs(LorentzNetInputs(mass_metric="model"))
    moved = batch.clone()
    moved.pos = batch.pos @ g.T
    assert (moved.pos - batch.pos).abs().max() > 10
    model = MassScalars(_liegnn(J))
    with torch.no_grad():
        a, b = model(batch), model(moved)
    assert (a - b).abs().max() < 1e-10 * a.abs().max()

    net = _liegnn(J)  # the same weights, x = onehot · ψ(Minkowski mass) of its own input

    def eta_scalars(data):
        return data.x * LorentzNetInputs.mass_scalars(data.pos)[:, None]

    with torch.no_grad():
        c = net(eta_scalars(batch), batch.pos, batch.edge_index, batch.batch)
        d = net(eta_scalars(moved), moved.pos, moved.edge_index, moved.batch)
    assert (c - d).abs().max() > 1e-2


def test_transform_with_a_fixed_metric_matches_mass_scalars():
    J, _ = _conjugated(1)
    fixed = _jet_graphs(LorentzNetInputs(mass_metric=J))
    bare = _jet_graphs(LorentzNetInputs(mass_metric="model"))
    net = _liegnn(J)
    with torch.no_grad():
        torch.testing.assert_close(net(fixed), MassScalars(net)(bare))


def test_load_metric_keeps_the_given_scale_and_flips_only_when_asked(tmp_path):
    J = torch.diag(torch.tensor([2.0, -3.0, -1.0, -0.5]))
    torch.save(J, tmp_path / "J.pt")
    np.save(tmp_path / "J.npy", J.numpy())
    np.savez(tmp_path / "J.npz", metric=J.numpy(), other=np.zeros(2))
    for name in ("J.pt", "J.npy", "J.npz"):
        torch.testing.assert_close(load_metric(tmp_path / name), J)
    torch.testing.assert_close(load_metric(tmp_path / "J.pt", flip_sign=True), -J)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (torch.zeros(3, 4, 4), r"\(n, n\) matrix"),
        (torch.eye(3), "size 3"),
        (
            torch.tensor([[1.0, 0.5, 0, 0], [0, -1, 0, 0], [0, 0, -1, 0], [0, 0, 0, -1]]),
            "symmetric",
        ),
        (torch.diag(torch.tensor([1.0, float("nan"), -1, -1])), "NaN"),
        (torch.diag(torch.tensor([1.0, 0.0, -1, -1])), "singular"),
    ],
)
def test_load_metric_refuses_bad_metrics(value, match):
    with pytest.raises(ValueError, match=match):
        load_metric(value)


def test_load_metric_refuses_a_pickled_file(tmp_path):
    path = tmp_path / "J.pt"
    torch.save({"metric": torch.eye(4), "note": object()}, path)
    with pytest.raises(ValueError, match="not a safe"):
        load_metric(path)


def test_toptag_model_uses_a_given_metric_unscaled_and_wraps_for_model_scalars():
    J = 3.0 * ETA.float()
    net, info = toptag_model(None, hidden=8, n_layers=2, metric=J, node_scalars="model")
    assert isinstance(net, MassScalars) and info["node_scalars"] == "model"
    np.testing.assert_allclose(info["metric"], J.numpy())
    torch.testing.assert_close(net.metric(), J)
    with pytest.raises(ValueError, match="either a symmetry or a metric"):
        toptag_model(parse_symmetry("minkowski"), metric=J)
    with pytest.raises(ValueError, match="Deep Sets"):
        toptag_model(parse_symmetry("none"), learnable_metric=True)


def test_learnable_metric_run_reports_the_learned_metric(tmp_path):
    jets = _jet_file(tmp_path / "jets.h5")
    np.save(tmp_path / "J.npy", np.diag([1.0, -1.2, -0.8, -1.0]))
    out = tmp_path / "run"
    result = train_toptag(
        metric=tmp_path / "J.npy",
        learnable_metric=True,
        node_scalars="model",
        data=jets,
        out=out,
        root=tmp_path / "cache",
        **{**TINY, "epochs": 1},
    )
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["learnable_metric"] and saved["node_scalars"] == "model"
    assert saved["metric_source"].endswith("J.npy")
    np.testing.assert_allclose(saved["metric"], np.diag([1.0, -1.2, -0.8, -1.0]), atol=1e-6)
    final = np.array(saved["metric_final"])
    assert final.shape == (4, 4) and np.allclose(final, final.T)
    assert 0 < np.abs(final - np.array(saved["metric"])).max() < 0.1  # trained, not rescaled
    assert saved["metric_best_epoch"] == saved["metric_final"]  # one epoch: the best is the last
    assert result["metric_final"] == saved["metric_final"]


def test_a_discovered_symmetry_can_start_a_learnable_metric():
    from liegnn import Symmetry
    from liegnn.algebra import bases

    sym = parse_symmetry(Symmetry(bases.lorentz(dtype=torch.float64)))
    net, info = toptag_model(sym, hidden=8, n_layers=2, learnable_metric=True)
    assert net.metric.learnable and info["learnable_metric"] and info["model"] == "LieGNN"
    assert info["metric_similarity_minkowski"] == pytest.approx(1.0, abs=1e-6)
    assert any(name.endswith("metric.weight") for name, _ in net.named_parameters())
