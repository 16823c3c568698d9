import pytest
import torch
from e3nn import o3
from torch_geometric.data import Batch, Data

from liegnn.nn.e3nn_gate import E3nnGateNetwork
from liegnn.nn.graphs import MoleculeGraph


def _molecules(seed=0, sizes=(5, 3, 7)):
    g = torch.Generator().manual_seed(seed)
    graph = MoleculeGraph(charge_power=2, center=False)
    data = []
    for n in sizes:
        z = torch.tensor([1, 6, 7, 8, 9])[torch.randint(0, 5, (n,), generator=g)]
        pos = 1.5 * torch.randn(n, 3, generator=g, dtype=torch.float64)
        data.append(graph(Data(z=z, pos=pos)))
    b = Batch.from_data_list(data)
    b.x, b.pos = b.x.double(), b.pos.double()
    return b


def _model(**kw):
    torch.manual_seed(0)
    return E3nnGateNetwork(15, 2, mul=8, mul_vec=4, n_layers=2, **kw).double()


@pytest.fixture(scope="module")
def model():
    return _model()


def _moved(b, R, t):
    c = b.clone()
    c.pos = b.pos @ R.T + t
    return c


def _max_change(model, b, n_trials=2):
    g = torch.Generator().manual_seed(1)
    y = model(b)
    err = 0.0
    for _ in range(n_trials):
        R = o3.rand_matrix(dtype=torch.float64)
        t = 3 * torch.randn(3, generator=g, dtype=torch.float64)
        err = max(err, float((model(_moved(b, R, t)) - y).abs().max().detach()))
    return err, float(y.abs().max().detach())


@pytest.mark.parametrize("lmax", [1, 2])
def test_invariant_under_rotations_and_translations(lmax, model):
    b = _molecules()
    err, scale = _max_change(model if lmax == 1 else _model(lmax=lmax), b)
    assert scale > 1e-3  # not trivially zero
    assert err < 1e-10


def test_invariant_under_reflections(model):
    b = _molecules()
    P = -torch.eye(3, dtype=torch.float64)
    with torch.no_grad():
        err = (model(_moved(b, P, torch.zeros(3, dtype=torch.float64))) - model(b)).abs().max()
    assert float(err) < 1e-10


class _DistortedHarmonics(E3nnGateNetwork):
    """A wrong network: the x component of the l = 1 harmonics doubled (not a rotation of the
    harmonics, so no longer equivariant; a permutation of components would still be)."""

    def edge_attributes(self, vec):
        sh, basis = super().edge_attributes(vec)
        return sh * sh.new_tensor([1.0, 2.0, 1.0, 1.0]), basis


def test_a_non_equivariant_change_is_caught():
    torch.manual_seed(0)
    wrong = _DistortedHarmonics(15, 2, mul=8, mul_vec=4, n_layers=2).double()
    err, scale = _max_change(wrong, _molecules())
    assert err > 1e-4 * scale


def test_output_per_molecule_and_complete_graph_by_default(model):
    b = _molecules(sizes=(4, 6))
    out = model(b)
    assert out.shape == (2, 2)
    del b.edge_index
    assert torch.allclose(model(b), out, atol=1e-12)  # MoleculeGraph's edges = complete graph
    single = Batch.from_data_list([b.get_example(1)])
    assert torch.allclose(model(single)[0], out[1], atol=1e-12)  # molecules do not interact


def test_edges_beyond_the_cutoff_carry_nothing():
    b = _molecules(sizes=(2,))
    far = b.clone()
    far.pos = far.pos.clone()
    far.pos[1] = far.pos[0] + torch.tensor([6.0, 0.0, 0.0], dtype=torch.float64)
    farther = far.clone()
    farther.pos = far.pos.clone()
    farther.pos[1, 0] += 3.0
    model = _model(r_max=5.0)
    assert torch.allclose(model(far), model(farther), atol=1e-12)


def test_trains_on_a_toy_invariant():
    b = _molecules(sizes=(4, 5, 6, 3))
    target = torch.stack([(d.pos - d.pos.mean(0)).norm(dim=1).sum() for d in b.to_data_list()])
    torch.manual_seed(0)
    model = E3nnGateNetwork(15, 1, mul=8, mul_vec=4, n_layers=1).double()
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    first = None
    for _ in range(30):
        loss = (model(b)[:, 0] - target).pow(2).mean()
        first = first if first is not None else float(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.1 * first


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [(dict(mul=0), "mul"), (dict(r_max=-1.0), "r_max"), (dict(readout="max"), "readout")],
)
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        E3nnGateNetwork(15, **kwargs)


def test_bad_input_shapes_raise(model):
    b = _molecules()
    b.x = b.x[:, :5]
    with pytest.raises(ValueError, match="data.x"):
        model(b)
