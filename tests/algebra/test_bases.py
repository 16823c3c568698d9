import math

import pytest
import torch

from liegnn.algebra import (
    affine,
    bases,
    closure_error,
    direct_sum,
    gl,
    lorentz,
    minkowski_metric,
    replicate,
    scaling,
    se,
    so,
    so_pq,
    sp,
    su2,
    symplectic_form,
    translations,
)

F64 = torch.float64


def _preserves(L: torch.Tensor, form: torch.Tensor) -> float:
    return float((L.transpose(-1, -2) @ form + form @ L).abs().max())


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_so_n_is_antisymmetric_with_dimension_n_n_minus_1_over_2(n):
    L = so(n, dtype=F64)
    assert L.shape == (n * (n - 1) // 2, n, n)
    assert _preserves(L, torch.eye(n, dtype=F64)) == 0.0


@pytest.mark.parametrize("p, q", [(1, 3), (2, 2), (2, 1), (1, 1)])
def test_so_pq_preserves_eta(p, q):
    n = p + q
    L = so_pq(p, q, dtype=F64)
    assert L.shape == (n * (n - 1) // 2, n, n)
    assert _preserves(L, minkowski_metric(p, q, dtype=F64)) == 0.0


def test_minkowski_metric_is_diag_plus_minus_minus_minus():
    assert torch.equal(minkowski_metric(dtype=F64), torch.diag(torch.tensor([1.0, -1, -1, -1])))


def test_lorentz_spans_so_13_and_preserves_eta():
    L = lorentz(dtype=F64)
    assert _preserves(L, minkowski_metric(dtype=F64)) == 0.0
    # rotations antisymmetric, boosts symmetric
    assert torch.equal(L[:3].transpose(1, 2), -L[:3])
    assert torch.equal(L[3:].transpose(1, 2), L[3:])
    M = torch.cat([L.flatten(1), so_pq(1, 3, dtype=F64).flatten(1)])
    assert torch.linalg.matrix_rank(M) == 6


def test_lorentz_boost_and_rotation_conventions():
    L = lorentz(dtype=F64)
    t = 0.7
    boost_x = torch.linalg.matrix_exp(t * L[3])
    at_rest = torch.tensor([1.0, 0, 0, 0], dtype=F64)
    expected = torch.tensor([math.cosh(t), math.sinh(t), 0, 0], dtype=F64)
    assert torch.allclose(boost_x @ at_rest, expected)
    rot_z = torch.linalg.matrix_exp(t * L[2])  # J_z rotates p_x towards p_y
    px = torch.tensor([0.0, 1, 0, 0], dtype=F64)
    assert torch.allclose(rot_z @ px, torch.tensor([0, math.cos(t), math.sin(t), 0], dtype=F64))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_sp_preserves_symplectic_form(n):
    L = sp(n, dtype=F64)
    assert L.shape == (n * (2 * n + 1), 2 * n, 2 * n)
    assert _preserves(L, symplectic_form(n, dtype=F64)) == 0.0
    assert torch.linalg.matrix_rank(L.flatten(1)) == L.shape[0]


def test_gl_and_scaling_dimensions():
    assert gl(3, dtype=F64).shape == (9, 3, 3)
    assert torch.linalg.matrix_rank(gl(3, dtype=F64).flatten(1)) == 9
    assert torch.equal(scaling(4, dtype=F64)[0], torch.eye(4, dtype=F64))


def test_translations_shift_homogeneous_coordinates():
    t = torch.tensor([0.5, -2.0, 3.0], dtype=F64)
    T = translations(3, dtype=F64)
    g = torch.linalg.matrix_exp(torch.einsum("i,ijk->jk", t, T))
    x = torch.tensor([1.0, 2.0, 3.0, 1.0], dtype=F64)
    assert torch.allclose(g @ x, torch.cat([x[:3] + t, x[3:]]))


def test_se_is_rotations_then_translations():
    L = se(3, dtype=F64)
    assert L.shape == (6, 4, 4)
    assert torch.equal(L[:3], affine(so(3, dtype=F64)))
    assert torch.equal(L[3:], translations(3, dtype=F64))


def test_su2_relations():
    L = su2()
    assert L.dtype == torch.complex128
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        assert torch.allclose(L[i] @ L[j] - L[j] @ L[i], L[k])
    assert torch.allclose(L.conj().transpose(1, 2), -L)  # anti-Hermitian
    assert torch.allclose(torch.diagonal(L, dim1=1, dim2=2).sum(-1), torch.zeros(3, dtype=L.dtype))
    g = torch.linalg.matrix_exp(0.9 * L[0] + 0.4 * L[2])
    assert torch.allclose(g.conj().T @ g, torch.eye(2, dtype=L.dtype))
    assert torch.allclose(torch.linalg.det(g), torch.ones((), dtype=L.dtype))


def test_replicate_applies_the_same_matrix_to_every_block():
    L = so(3, dtype=F64)
    R = replicate(L, 4)
    assert R.shape == (3, 12, 12)
    w = torch.tensor([0.3, -0.2, 1.1], dtype=F64)
    g = torch.linalg.matrix_exp(torch.einsum("i,ijk->jk", w, R))
    g1 = torch.linalg.matrix_exp(torch.einsum("i,ijk->jk", w, L))
    x = torch.randn(4, 3, dtype=F64)
    assert torch.allclose(g @ x.flatten(), (x @ g1.T).flatten())


def test_direct_sum_is_block_diagonal():
    D = direct_sum(so(2, dtype=F64), lorentz(dtype=F64))
    assert D.shape == (7, 6, 6)
    assert torch.equal(D[0, :2, :2], so(2, dtype=F64)[0])
    assert torch.equal(D[1:, 2:, 2:], lorentz(dtype=F64))
    assert D[0, 2:].abs().sum() == 0 and D[1:, :2].abs().sum() == 0


@pytest.mark.parametrize(
    "algebra",
    [
        so(4, dtype=F64),
        lorentz(dtype=F64),
        so_pq(2, 2, dtype=F64),
        sp(2, dtype=F64),
        se(3, dtype=F64),
        translations(3, dtype=F64),
        replicate(so(3, dtype=F64), 3),
        su2(),
    ],
    ids=["so4", "lorentz", "so22", "sp4", "se3", "translations", "replicated_so3", "su2"],
)
def test_every_basis_closes_under_the_bracket(algebra):
    assert closure_error(algebra) < 1e-12


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="n must be an integer"):
        so(1)
    with pytest.raises(ValueError, match="n must be an integer"):
        so(2.5)
    with pytest.raises(ValueError, match="p \\+ q"):
        so_pq(1, 0)
    with pytest.raises(ValueError, match="copies"):
        replicate(so(3), 0)
    with pytest.raises(ValueError, match="complex"):
        su2(dtype=torch.float64)
    with pytest.raises(ValueError, match="at least one"):
        direct_sum()


@pytest.mark.parametrize(
    "name, expected",
    [
        ("so(3)", lambda: bases.so(3)),
        ("SO3", lambda: bases.so(3)),
        ("so(1, 3)", lambda: bases.so_pq(1, 3)),
        ("lorentz", lambda: bases.lorentz()),
        ("sp(4)", lambda: bases.sp(2)),
        ("se(2)", lambda: bases.se(2)),
        ("su(2)", lambda: bases.su2()),
        ("translations(3)", lambda: bases.translations(3)),
    ],
)
def test_by_name_returns_the_named_basis(name, expected):
    assert torch.equal(bases.by_name(name), expected())


@pytest.mark.parametrize("name", ["so", "foo(3)", "sp(3)", "so(1,2,3)"])
def test_by_name_rejects_unknown_names(name):
    with pytest.raises(ValueError, match="algebra"):
        bases.by_name(name)
