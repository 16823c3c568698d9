import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from liegnn.algebra import bases
from liegnn.nn.graphs import MoleculeGraph
from liegnn.training.augmentation import SymmetryAugmentation, bond_length_change
from liegnn.training.experiments import train_qm9
from liegnn.training.experiments.qm9 import augmentation_bond_lengths
from liegnn.training.schnet import CutoffGraph, SchNetRegressor, _count, schnet_hidden_for_budget

from .test_experiments import TINY, _qm9_folder


def _molecules(sizes=(4, 7), seed=0):
    g = torch.Generator().manual_seed(seed)
    species = torch.tensor([1, 6, 7, 8, 9])
    data = [
        Data(z=species[torch.randint(0, 5, (n,), generator=g)], pos=torch.randn(n, 3, generator=g))
        for n in sizes
    ]
    return Batch.from_data_list([MoleculeGraph()(d) for d in data])


def _rotation(seed=0, dtype=torch.float64):
    w = torch.randn(3, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    return torch.linalg.matrix_exp(torch.einsum("i,ijk->jk", w, bases.so(3, dtype=dtype)))


def test_cutoff_graph_keeps_the_pairs_of_a_molecule_within_the_cutoff():
    pos = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [3.0, 0, 0], [0.0, 0, 0], [0.5, 0, 0]])
    batch = torch.tensor([0, 0, 0, 1, 1])
    edge_index, d = CutoffGraph(cutoff=2.5)(pos, batch)
    pairs = {(int(j), int(i)): float(w) for (j, i), w in zip(edge_index.T, d, strict=True)}
    assert pairs == {(0, 1): 1.0, (1, 0): 1.0, (1, 2): 2.0, (2, 1): 2.0, (3, 4): 0.5, (4, 3): 0.5}


def test_schnet_prediction_is_invariant_under_rotation_and_translation():
    torch.manual_seed(0)
    model = SchNetRegressor(hidden=16, n_layers=2).double().eval()
    batch = _molecules()
    batch.pos = batch.pos.double()
    y = model(batch)
    moved = batch.clone()
    moved.pos = batch.pos @ _rotation().T + torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    assert y.shape == (2, 1)
    torch.testing.assert_close(model(moved), y, atol=1e-5, rtol=0)


def test_schnet_width_for_a_budget_is_the_closest_width():
    widths = range(2, 40)
    counts = {h: _count(h, 2, 50) for h in widths}
    for target in (counts[10] + 1, (counts[20] + counts[21]) // 2, 10, 10**9):
        best = min(widths, key=lambda h: (abs(counts[h] - target), h))
        assert schnet_hidden_for_budget(target, n_layers=2, widths=widths) == best
    assert schnet_hidden_for_budget(counts[17], n_layers=2) == 17


def test_tiny_qm9_schnet_run_reports_mae(tmp_path):
    result = train_qm9(
        "euclidean",
        model="schnet",
        target="homo",
        source=_qm9_folder(tmp_path / "csv"),
        subset=20,
        out=tmp_path / "q",
        root=tmp_path / "cache",
        **{**TINY, "epochs": 1},
    )
    assert result["model"] == "SchNet (PyG)" and np.isfinite(result["test"]["mae_meV"])
    assert result["n_parameters"] == _count(TINY["hidden"], TINY["n_layers"], 50)


@pytest.mark.parametrize(
    "kwargs",
    [dict(symmetry="none"), dict(symmetry="euclidean", augment=True)],
)
def test_schnet_needs_euclidean_without_augmentation(kwargs):
    with pytest.raises(ValueError, match="model='schnet' is E\\(3\\)-invariant"):
        train_qm9(model="schnet", **kwargs)


def test_rotations_leave_bond_lengths_unchanged():
    batch = _molecules(sizes=(6, 9, 5))
    pos = batch.pos.double()
    R = torch.stack([_rotation(seed) for seed in range(3)])  # one rotation per molecule
    stats = bond_length_change(pos, batch.batch, lambda x, b: (R[b] @ x[..., None])[..., 0])
    assert stats["n_bonds"] > 0 and stats["n_graphs"] == 3
    assert stats["max"] < 1e-12 and stats["fraction_above"] == 0.0


@pytest.mark.parametrize("s", [0.5, 2.0, 1.3])
def test_a_scaling_by_s_changes_every_bond_by_s_minus_one(s):
    batch = _molecules(sizes=(6, 9))
    stats = bond_length_change(batch.pos.double(), batch.batch, lambda x, b: s * x)
    for key in ("median", "p90", "max"):
        assert stats[key] == pytest.approx(abs(s - 1), abs=1e-12)
    assert stats["fraction_above"] == 1.0


def test_bonds_are_the_pairs_closer_than_the_cutoff():
    pos = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0]], dtype=torch.float64)
    stats = bond_length_change(pos, None, lambda x, b: x, bond_cutoff=1.5)
    assert stats["n_bonds"] == 2 and stats["max"] == 0.0
    with pytest.raises(ValueError, match="bond_cutoff"):
        bond_length_change(pos, None, lambda x, b: x, bond_cutoff=0.5)


def test_se3_augmentation_keeps_bond_lengths_and_a_dilation_does_not():
    batch = _molecules(sizes=(6, 9, 7))
    se3 = SymmetryAugmentation(torch.nn.Identity(), bases.se(3), affine=True)
    stats = bond_length_change(batch.pos, batch.batch, se3.transform_positions)
    assert stats["max"] < 1e-5  # float32 rounding only
    dilation = torch.eye(4, dtype=torch.float64)[None].clone()
    dilation[0, 3, 3] = 0.0  # x ↦ e^w x on (x, y, z, 1)
    grow = SymmetryAugmentation(torch.nn.Identity(), dilation, affine=True, normalize=False)
    torch.manual_seed(0)
    stats = bond_length_change(batch.pos.double(), batch.batch, grow.transform_positions)
    assert stats["median"] > 0.1 and stats["max"] < math.e**math.pi


def test_qm9_bond_lengths_follow_the_training_augmentation(tmp_path):
    source, cache = _qm9_folder(tmp_path / "csv"), tmp_path / "cache"
    common = dict(source=source, root=cache, subset=20, molecules=10, bond_cutoff=2.0)
    se3 = augmentation_bond_lengths("euclidean", affine=True, **common)
    assert se3["n_graphs"] == 10 and se3["n_bonds"] > 0 and se3["max"] < 1e-5
    dilation = torch.eye(4, dtype=torch.float64)[None].clone()
    dilation[0, 3, 3] = 0.0
    basis = tmp_path / "dilation.npy"
    np.save(basis, dilation.numpy())
    options = dict(distribution="normal", scale=1.0, normalize=False)
    state = torch.random.get_rng_state()
    found = augmentation_bond_lengths(f"discovered:{basis}", augment_options=options, **common)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global stream is untouched
    assert found["median"] > 0.05
    again = augmentation_bond_lengths(f"discovered:{basis}", augment_options=options, **common)
    assert again == found  # seeded
