import math

import pytest
import torch
from torch_geometric.data import Batch, Data

from liegnn.algebra import bases
from liegnn.datasets.nbody import rotation_generator
from liegnn.training.augmentation import (
    SymmetryAugmentation,
    group_elements,
    normalize_generators,
    sample_coefficients,
)

L_ROT = rotation_generator(2)  # so(2) on (q1, p1, q2, p2), Frobenius norm √8


class Affine(torch.nn.Module):
    """f(x) = a x + c on the last axis: equivariant under rotations iff c = 0."""

    def __init__(self, a=2.0, c=None):
        super().__init__()
        self.a, self.c = a, c

    def forward(self, x):
        return self.a * x + (0 if self.c is None else self.c)


def test_group_element_of_the_rotation_generator_is_the_rotation():
    theta = torch.tensor([[0.7]], dtype=torch.float64)
    g = group_elements(L_ROT, theta)[0]
    R = torch.tensor(
        [[math.cos(0.7), -math.sin(0.7)], [math.sin(0.7), math.cos(0.7)]], dtype=torch.float64
    )
    torch.testing.assert_close(g, torch.block_diag(R, R, R, R), atol=1e-12, rtol=0)


def test_normalisation_keeps_the_unit_speed_rotation_and_rescales_others():
    torch.testing.assert_close(normalize_generators(L_ROT), L_ROT)
    torch.testing.assert_close(normalize_generators(5 * L_ROT), L_ROT)


def test_augmenting_an_equivariant_function_changes_nothing():
    x = torch.randn(16, 5, 8, dtype=torch.float64)
    aug = SymmetryAugmentation(Affine(2.0), L_ROT, L_ROT).train()
    torch.testing.assert_close(aug(x), 2.0 * x, atol=1e-12, rtol=0)


def test_augmenting_an_invariant_target_transforms_only_the_input():
    x = torch.randn(32, 8, dtype=torch.float64)
    norm = lambda v: (v**2).sum(-1, keepdim=True)
    aug = SymmetryAugmentation(torch.nn.Identity(), L_ROT).train()
    out = aug(x)
    assert not torch.allclose(out, x)  # the input was rotated ...
    torch.testing.assert_close(norm(out), norm(x), atol=1e-12, rtol=0)  # ... by a rotation


def test_averaging_over_draws_symmetrises_a_non_equivariant_function():
    # f(x) = x + c: f̃(x) = x + ρ(g)⁻¹ c, whose average over uniform angles is x
    c = torch.tensor([1.0, 0.0] * 4, dtype=torch.float64)
    x = torch.randn(4, 8, dtype=torch.float64)
    torch.manual_seed(0)
    aug = SymmetryAugmentation(Affine(1.0, c), L_ROT, L_ROT, eval_samples=4000).eval()
    assert (aug(x) - x).abs().max() < 0.06
    plain = SymmetryAugmentation(Affine(1.0, c), L_ROT, L_ROT).eval()
    torch.testing.assert_close(plain(x), x + c)  # eval_samples=0: f̃ = f


def test_same_seed_same_draws():
    x = torch.randn(8, 8, dtype=torch.float64)
    aug = SymmetryAugmentation(torch.nn.Identity(), L_ROT).train()
    torch.manual_seed(1)
    a = aug(x)
    torch.manual_seed(1)
    assert torch.equal(aug(x), a)


def _graphs():
    g = torch.Generator().manual_seed(0)
    return Batch.from_data_list(
        [Data(pos=torch.randn(k, 3, generator=g, dtype=torch.float64)) for k in (3, 5, 4)]
    )


class SumPos(torch.nn.Module):
    def forward(self, data):
        from torch_geometric.nn import global_add_pool

        return global_add_pool(data.pos, data.batch)


def test_graphs_get_one_group_element_each():
    batch = _graphs()
    out = SymmetryAugmentation(SumPos(), bases.so(3, dtype=torch.float64)).train()(batch)
    ref = SumPos()(batch)
    assert not torch.allclose(out, ref)
    # one rotation per graph keeps the norm of each graph's sum of positions
    torch.testing.assert_close(out.norm(dim=1), ref.norm(dim=1), atol=1e-12, rtol=0)
    assert batch.pos.shape == (12, 3) and torch.equal(SumPos()(batch), ref)  # input untouched


def test_affine_se3_moves_molecules_rigidly():
    batch = _graphs()
    seen = {}

    class Record(torch.nn.Module):
        def forward(self, data):
            seen["pos"] = data.pos
            return torch.zeros(data.num_graphs, 1)

    SymmetryAugmentation(Record(), bases.se(3, dtype=torch.float64), affine=True).train()(batch)
    moved = seen["pos"]
    for k in range(3):
        a, b = batch.pos[batch.batch == k], moved[batch.batch == k]
        torch.testing.assert_close(torch.cdist(b, b), torch.cdist(a, a), atol=1e-10, rtol=0)
    assert (moved.mean(0) - batch.pos.mean(0)).abs().max() > 1e-3  # translated too


def test_coefficient_distributions_have_the_asked_width():
    torch.manual_seed(0)
    u = sample_coefficients(20000, 2, "uniform", 0.5)
    assert u.abs().max() <= 0.5 and u.abs().max() > 0.49
    n = sample_coefficients(20000, 1, "normal", 2.0)
    assert n.std().item() == pytest.approx(2.0, rel=0.03)


@pytest.mark.parametrize(
    "make",
    [
        lambda: SymmetryAugmentation(torch.nn.Identity(), L_ROT, bases.so(3)),
        lambda: SymmetryAugmentation(torch.nn.Identity(), L_ROT, distribution="cauchy"),
        lambda: SymmetryAugmentation(torch.nn.Identity(), L_ROT, scale=0.0),
        lambda: SymmetryAugmentation(torch.nn.Identity(), L_ROT, eval_samples=-1),
        lambda: SymmetryAugmentation(torch.nn.Identity(), torch.zeros(2, 3)),
        lambda: SymmetryAugmentation(torch.nn.Identity(), L_ROT).train()(torch.zeros(4, 3)),
    ],
)
def test_bad_inputs_raise(make):
    with pytest.raises(ValueError):
        make()


def test_input_is_moved_by_the_standard_action_of_the_drawn_group_element():
    from liegnn.discovery.actions import Standard

    L = bases.so(3, dtype=torch.float64) * 3.0
    x = torch.randn(6, 4, 3, dtype=torch.float64)
    aug = SymmetryAugmentation(torch.nn.Identity(), L).train()
    torch.manual_seed(5)
    out = aug(x)
    torch.manual_seed(5)
    g = group_elements(normalize_generators(L), sample_coefficients(6, 3))
    torch.testing.assert_close(out, Standard()(g, x), atol=1e-12, rtol=0)


def test_affine_augmentation_uses_the_affine_action():
    from liegnn.discovery.actions import Affine as AffineAction

    L = bases.se(3, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64)
    aug = SymmetryAugmentation(torch.nn.Identity(), L, affine=True).train()
    torch.manual_seed(7)
    out = aug(x)
    torch.manual_seed(7)
    g = group_elements(normalize_generators(L), sample_coefficients(5, L.shape[0]))
    torch.testing.assert_close(out, AffineAction()(g, x), atol=1e-12, rtol=0)


class Record(torch.nn.Module):
    """Returns its input: what the wrapped model was given."""

    def forward(self, x):
        return x


def test_a_symmetry_with_parity_augments_with_both_components():
    from liegnn import Symmetry

    o3 = Symmetry(bases.so(3, dtype=torch.float64), -torch.eye(3, dtype=torch.float64))
    aug = SymmetryAugmentation(Record(), o3).train()
    torch.manual_seed(1)
    # each sample holds the three basis vectors: its rows come back as g e_k, so det = det g
    moved = aug(torch.eye(3, dtype=torch.float64).repeat(400, 1, 1))
    torch.testing.assert_close(moved.norm(dim=-1), torch.ones(400, 3, dtype=torch.float64))
    dets = torch.linalg.det(moved)
    assert (dets > 0.5).sum() > 100 and (dets < -0.5).sum() > 100


def test_an_affine_symmetry_sets_the_affine_action_itself():
    from liegnn import Symmetry

    se3 = Symmetry.known("se(3)", dtype=torch.float64)
    aug = SymmetryAugmentation(Record(), se3).train()
    assert aug.affine and aug.n == 3
    points = torch.randn(8, 5, 3, dtype=torch.float64)
    moved = aug(points)
    torch.testing.assert_close(torch.cdist(moved, moved), torch.cdist(points, points))


def test_a_finite_group_augments_by_its_elements_only():
    from liegnn import Symmetry

    swap = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    sym = Symmetry(torch.zeros(0, 2, 2, dtype=torch.float64), swap)
    aug = SymmetryAugmentation(Record(), sym).train()
    x = torch.tensor([[1.0, 2.0]], dtype=torch.float64).repeat(200, 1)
    out = aug(x)
    swapped = (out == x.flip(1)).all(1)
    assert ((out == x).all(1) | swapped).all() and 40 < int(swapped.sum()) < 160


def test_equivariant_output_undoes_the_discrete_element_too():
    from liegnn import Symmetry

    o3 = Symmetry(bases.so(3, dtype=torch.float64), -torch.eye(3, dtype=torch.float64))
    aug = SymmetryAugmentation(Affine(a=2.0), o3, o3).train()
    x = torch.randn(64, 3, dtype=torch.float64)
    torch.testing.assert_close(aug(x), 2.0 * x)  # f equivariant: f̃ = f exactly
    with pytest.raises(ValueError, match="discrete elements"):
        SymmetryAugmentation(Affine(), o3, bases.so(3, dtype=torch.float64))
