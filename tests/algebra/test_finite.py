"""Finite matrix groups: closure, orders, exact snapping, generating sets, cycle notation."""

import math

import pytest
import torch

from liegnn.algebra.finite import (
    close_group,
    cycle_notation,
    element_distance,
    element_order,
    generating_set,
    signed_permutations,
    snap_order,
    snap_signed_permutation,
)


def _rotation(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def _perm(images: list[int]) -> torch.Tensor:
    """P e_j = e_{images[j]} (0-based)."""
    n = len(images)
    p = torch.zeros(n, n, dtype=torch.float64)
    p[images, range(n)] = 1.0
    return p


def test_closure_of_a_transposition_and_a_three_cycle_is_s3():
    group, closed = close_group(torch.stack([_perm([1, 0, 2]), _perm([1, 2, 0])]))
    assert closed and len(group) == 6
    assert torch.equal(group[0], torch.eye(3, dtype=torch.float64))
    products = group[:, None] @ group[None]  # closed under products
    assert all(bool((element_distance(group, g) < 1e-9).any()) for g in products.reshape(-1, 3, 3))


@pytest.mark.parametrize("k", [2, 5, 7, 12])
def test_closure_of_a_rotation_by_two_pi_over_k_has_order_k(k):
    group, closed = close_group(_rotation(2 * math.pi / k)[None])
    assert closed and len(group) == k
    assert element_order(_rotation(2 * math.pi / k)) == k


def test_closure_of_an_irrational_rotation_stops_at_the_limit():
    group, closed = close_group(_rotation(1.0)[None], tol=1e-3, max_order=50)
    assert not closed and len(group) == 51
    assert element_order(_rotation(1.0), tol=1e-3, max_order=50) is None


def test_snap_order_gives_an_exact_element_close_to_the_input():
    g = _rotation(2 * math.pi / 7 + 3e-3) @ torch.linalg.matrix_exp(
        1e-3 * torch.randn(3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    )
    exact = snap_order(g, 7)
    eye = torch.eye(3, dtype=torch.float64)
    assert float(element_distance(torch.linalg.matrix_power(exact, 7), eye)) < 1e-12
    assert float(element_distance(exact, g)) < 5e-3
    assert float(element_distance(torch.linalg.matrix_power(g, 7), eye)) > 1e-2


def test_snap_signed_permutation_within_tolerance_only():
    p = _perm([2, 0, 1, 3]) * torch.tensor([1.0, -1.0, 1.0, 1.0], dtype=torch.float64)
    noisy = p + 0.03 * torch.randn(4, 4, generator=torch.Generator().manual_seed(1), dtype=p.dtype)
    assert torch.equal(snap_signed_permutation(noisy, tol=0.2), p)
    assert snap_signed_permutation(noisy, tol=0.01) is None
    assert snap_signed_permutation(_rotation(0.7), tol=0.2) is None


def test_signed_permutations_are_every_signed_permutation_once():
    mats = signed_permutations(3)
    assert mats.shape == (48, 3, 3)
    assert len({tuple(m.flatten().tolist()) for m in mats}) == 48
    assert torch.allclose(mats @ mats.transpose(-1, -2), torch.eye(3, dtype=torch.float64))
    assert signed_permutations(4, signs=False).shape == (24, 4, 4)


def test_generating_set_generates_the_group_and_is_small():
    s3, _ = close_group(torch.stack([_perm([1, 0, 2]), _perm([1, 2, 0])]))
    gens = generating_set(s3)
    assert len(gens) == 2
    regenerated, closed = close_group(gens)
    assert closed and len(regenerated) == 6
    c6, _ = close_group(_rotation(math.pi / 3)[None])
    assert len(generating_set(c6)) == 1
    assert generating_set(torch.eye(3, dtype=torch.float64)[None]).shape == (0, 3, 3)


def test_cycle_notation_names_cycles_and_sign_flips():
    assert cycle_notation(_perm([1, 2, 0])) == "(1 2 3)"
    assert cycle_notation(_perm([2, 3, 0, 1])) == "(1 3)(2 4)"
    assert cycle_notation(-torch.eye(3)) == "flip(1 2 3)"
    flip3 = _perm([1, 0, 2]) * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    assert cycle_notation(flip3) == "(1 2) flip(3)"
    assert cycle_notation(torch.eye(4)) == "()"
