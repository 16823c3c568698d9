import math

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from liegnn.nn.graphs import (
    LorentzNetInputs,
    MoleculeGraph,
    complete_graph,
    complete_graph_from_batch,
)
from liegnn.nn.psi import psi


def reference_complete_graph(sizes):
    edges, offset = [], 0
    for n in sizes:
        edges += [(offset + j, offset + i) for i in range(n) for j in range(n) if i != j]
        offset += n
    return torch.tensor(edges, dtype=torch.long).T.reshape(2, -1)


def test_complete_graph_has_every_ordered_pair_of_each_graph_and_no_self_loop():
    sizes = [3, 1, 0, 5, 2, 4]
    edge_index = complete_graph(sizes)
    assert torch.equal(edge_index, reference_complete_graph(sizes))
    assert edge_index.shape == (2, sum(n * (n - 1) for n in sizes))
    assert not (edge_index[0] == edge_index[1]).any()


def test_complete_graph_is_sorted_by_receiver():
    edge_index = complete_graph(torch.randint(0, 30, (50,)))
    assert (edge_index[1][1:] >= edge_index[1][:-1]).all()


def test_complete_graph_of_many_varied_graphs_matches_reference():
    sizes = torch.randint(0, 12, (300,), generator=torch.Generator().manual_seed(0)).tolist()
    assert torch.equal(complete_graph(sizes), reference_complete_graph(sizes))


def test_complete_graph_from_batch_matches_sizes():
    batch = torch.tensor([0, 0, 0, 1, 3, 3])
    assert torch.equal(complete_graph_from_batch(batch), complete_graph([3, 1, 0, 2]))


def test_complete_graph_from_batch_rejects_unsorted_batch():
    with pytest.raises(ValueError, match="sorted"):
        complete_graph_from_batch(torch.tensor([0, 1, 0]))


def test_complete_graph_rejects_negative_sizes():
    with pytest.raises(ValueError, match="non-negative"):
        complete_graph([2, -1])


def jet(n=5, padding=0):
    p = torch.rand(n, 3, dtype=torch.float64) * 50
    m = torch.rand(n, dtype=torch.float64)
    e = (p.pow(2).sum(-1) + m**2).sqrt()
    pos = torch.cat([e[:, None], p], -1)
    return torch.cat([pos, torch.zeros(padding, 4, dtype=torch.float64)]), m


def test_lorentznet_inputs_adds_beams_and_mass_scalars():
    pos, m = jet(5, padding=3)
    data = LorentzNetInputs()(Data(pos=pos, y=torch.tensor([1])))
    assert data.pos.shape == (7, 4)
    s2 = math.sqrt(2.0)
    assert torch.allclose(data.pos[:2], torch.tensor([[s2, 0, 0, 1], [s2, 0, 0, -1]]).double())
    assert torch.allclose(data.pos[2:], pos[:5])
    # columns (particle, beam): ψ(mass) in the row's own column, 0 in the other
    assert torch.allclose(data.x[:2, 1], torch.full((2,), math.log(2.0)).double())
    assert torch.all(data.x[:2, 0] == 0)
    assert torch.allclose(data.x[2:, 0], psi(m), atol=1e-9)
    assert torch.all(data.x[2:, 1] == 0)
    assert torch.equal(data.edge_index, complete_graph([7]))
    assert data.y.item() == 1


def test_lorentznet_inputs_rejects_wrong_vector_size_and_nan():
    with pytest.raises(ValueError, match=r"\(num_nodes, 4\)"):
        LorentzNetInputs()(Data(pos=torch.randn(5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        LorentzNetInputs()(Data(pos=torch.full((2, 4), float("nan"))))


def test_transformed_jets_batch_into_disjoint_complete_graphs():
    data = [LorentzNetInputs()(Data(pos=jet(n)[0].float(), y=torch.tensor([0]))) for n in (3, 8, 1)]
    batch = next(iter(DataLoader(data, batch_size=3)))
    assert torch.equal(batch.edge_index, complete_graph([5, 10, 3]))
    assert torch.equal(batch.edge_index, complete_graph_from_batch(batch.batch))


def test_molecule_graph_one_hot_species_centred_positions():
    z = torch.tensor([8, 1, 1])
    pos = torch.tensor([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
    data = MoleculeGraph()(Data(z=z, pos=pos))
    assert torch.equal(
        data.x, torch.tensor([[0, 0, 0, 1, 0], [1, 0, 0, 0, 0], [1, 0, 0, 0, 0]]).float()
    )
    assert torch.allclose(data.pos.mean(0), torch.zeros(3), atol=1e-6)
    assert torch.allclose(data.pos[1] - data.pos[0], pos[1] - pos[0])
    assert torch.equal(data.edge_index, complete_graph([3]))


def test_molecule_graph_charge_powers_as_in_egnn():
    t = MoleculeGraph(charge_power=2)
    data = t(Data(z=torch.tensor([6, 9]), pos=torch.randn(2, 3)))
    assert data.x.shape == (2, t.num_scalars) == (2, 15)
    assert torch.allclose(data.x[0, 3:6], torch.tensor([1.0, 6 / 9, (6 / 9) ** 2]))
    assert torch.allclose(data.x[1, 12:15], torch.tensor([1.0, 1.0, 1.0]))


def test_molecule_graph_rejects_unknown_species_and_shape_mismatch():
    with pytest.raises(ValueError, match=r"\[17\]"):
        MoleculeGraph()(Data(z=torch.tensor([6, 17]), pos=torch.randn(2, 3)))
    with pytest.raises(ValueError, match="atoms"):
        MoleculeGraph()(Data(z=torch.tensor([6]), pos=torch.randn(2, 3)))
