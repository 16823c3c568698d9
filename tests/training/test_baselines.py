import pytest
import torch
from torch_geometric.data import Batch, Data

from liegnn.algebra import bases
from liegnn.training.baselines import MLP, DeepSets


def _jets(seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for k in (4, 6):
        p = torch.randn(k, 3, generator=g, dtype=torch.float64) * 10
        pos = torch.cat([p.norm(dim=1, keepdim=True) + 1, p], 1)
        out.append(Data(x=torch.rand(k, 2, generator=g, dtype=torch.float64), pos=pos))
    return out


def _model():
    torch.manual_seed(0)
    return DeepSets(2, 4, hidden=16, n_layers=2).double().eval()


def test_deepsets_is_invariant_under_permutations_of_the_constituents():
    jets = _jets()
    perm = torch.randperm(6)
    shuffled = [jets[0], Data(x=jets[1].x[perm], pos=jets[1].pos[perm])]
    model = _model()
    torch.testing.assert_close(
        model(Batch.from_data_list(shuffled)),
        model(Batch.from_data_list(jets)),
        atol=1e-12,
        rtol=0,
    )


def test_deepsets_is_not_lorentz_invariant():
    jets = _jets()
    boost = torch.linalg.matrix_exp(0.5 * bases.so_pq(1, 3, dtype=torch.float64)[3])
    boosted = [Data(x=j.x, pos=j.pos @ boost.T) for j in jets]
    model = _model()
    out, ref = model(Batch.from_data_list(boosted)), model(Batch.from_data_list(jets))
    assert (out - ref).abs().max() > 1e-4


def test_deepsets_output_shape_and_errors():
    model = _model()
    assert model(Batch.from_data_list(_jets())).shape == (2, 2)
    with pytest.raises(ValueError, match="data.pos"):
        model(Data(x=torch.zeros(3, 2, dtype=torch.float64), pos=torch.zeros(3, 3)))
    with pytest.raises(ValueError):
        DeepSets(2, 4, readout="max")


def test_mlp_maps_windows_to_windows():
    model = MLP((5, 8), (3, 8), hidden=16, n_layers=2)
    assert model(torch.zeros(7, 5, 8)).shape == (7, 3, 8)
    with pytest.raises(ValueError, match="expected input"):
        model(torch.zeros(7, 40))
