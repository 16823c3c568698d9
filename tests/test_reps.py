import time

import pytest
import torch

from liegnn import reps
from liegnn.algebra import lorentz, so
from liegnn.reps import Group, ProductRep, Scalar, SumRep, TensorRep, V, parse_rep

L3 = so(3, dtype=torch.float64)
LORENTZ = lorentz(dtype=torch.float64)


def _bracket(a, b):
    return a @ b - b @ a


def test_dimensions_follow_the_generators():
    assert V.dim(L3) == 3 and V.dim(LORENTZ) == 4
    assert Scalar.dim(L3) == 1
    assert (V**3).dim(L3) == 27
    assert (3 * V + Scalar).dim(LORENTZ) == 13
    assert ((V + Scalar) * (V + Scalar)).dim(L3) == 16
    assert (V * V.T).size(5) == 25


def test_reps_compare_and_hash_structurally():
    assert V * V == V**2 and hash(V * V) == hash(V**2)
    assert V.T.T == V
    assert V * Scalar == V and Scalar * V == V
    assert V**0 == Scalar
    assert 2 * V == V + V
    assert V * V.T != V.T * V
    assert len({V**2, V * V, V.T, V.T}) == 2
    assert sum([V, Scalar, V]) == V + Scalar + V


def test_repr_is_the_expression():
    for rep in [V, Scalar, V.T, V**2, V * V.T, 3 * V + Scalar, (V + Scalar) * V, V(3) ** 2]:
        assert eval(repr(rep), {"V": V, "Scalar": Scalar}) == rep


@pytest.mark.parametrize(
    "rep", [V, V.T, V**2, V * V.T * V, 2 * V + Scalar, (V + Scalar) * V.T, (V + V.T) ** 2]
)
@pytest.mark.parametrize("L", [L3, LORENTZ], ids=["so3", "so13"])
def test_drho_is_a_lie_algebra_homomorphism(rep, L):
    # dρ([A, B]) = [dρ(A), dρ(B)] for every pair of generators
    c = L.shape[0]
    D = rep.drho(L)
    lhs = rep.drho(_bracket(L[:, None], L[None, :]).reshape(c * c, *L.shape[1:]))
    rhs = _bracket(D[:, None], D[None, :]).reshape(c * c, *D.shape[1:])
    assert torch.allclose(lhs, rhs, atol=1e-12)


@pytest.mark.parametrize("rep", [V, V.T, V**2 * V.T, 2 * V + Scalar, (V + Scalar) * V.T])
def test_rho_of_exp_is_exp_of_drho(rep):
    g = torch.Generator().manual_seed(0)
    c = 0.4 * torch.randn(6, generator=g, dtype=torch.float64)
    X = torch.einsum("i,ijk->jk", c, LORENTZ)
    rho = rep.rho(torch.linalg.matrix_exp(X))[0]
    expected = torch.linalg.matrix_exp(rep.drho(X[None])[0])
    assert torch.allclose(rho, expected, atol=1e-10)


def test_dual_pairs_invariantly():
    # ⟨ρ*(h) a, ρ(h) b⟩ = ⟨a, b⟩ for any invertible h
    h = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 3.0]], dtype=torch.float64)
    a, b = torch.randn(3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    assert torch.allclose((V.T.rho(h)[0] @ a) @ (V.rho(h)[0] @ b), a @ b)
    assert torch.allclose(V.T.drho(L3), -L3.transpose(-1, -2))


def test_tensor_product_of_sums_keeps_kronecker_layout():
    rep = (V + Scalar) * (V + Scalar)
    assert isinstance(rep, ProductRep)
    g = torch.Generator().manual_seed(1)
    c = torch.randn(3, generator=g, dtype=torch.float64)
    h = torch.linalg.matrix_exp(torch.einsum("i,ijk->jk", c, L3))
    r1 = (V + Scalar).rho(h)[0]
    assert torch.allclose(rep.rho(h)[0], torch.kron(r1, r1), atol=1e-12)
    blocks = rep.blocks(3)
    assert [b for b, _ in blocks] == [V**2, V, V, Scalar]
    assert sorted(torch.cat([i for _, i in blocks]).tolist()) == list(range(16))


def test_blocks_cover_a_direct_sum_in_order():
    rep = 2 * V + Scalar + V.T
    assert isinstance(rep, SumRep)
    blocks = rep.blocks(4)
    assert [b for b, _ in blocks] == [V, V, Scalar, V.T]
    assert torch.equal(torch.cat([i for _, i in blocks]), torch.arange(13))


def test_declared_dimension_disagreeing_with_generators_is_rejected():
    with pytest.raises(ValueError, match="dimension 4"):
        V(4).dim(L3)
    with pytest.raises(ValueError, match="dimension"):
        (V(3) ** 2).drho(LORENTZ)
    with pytest.raises(ValueError, match="cannot combine"):
        V(3) * V(4)
    assert (V(3) + Scalar).dim(L3) == 4


def test_bad_operands_are_rejected():
    with pytest.raises(ValueError, match="multiplicity"):
        -1 * V
    with pytest.raises(ValueError, match="tensor power"):
        V**-1
    with pytest.raises(ValueError, match="factors"):
        TensorRep((2,))
    with pytest.raises(ValueError, match="NaN"):
        V.drho(torch.full((1, 3, 3), float("nan")))
    with pytest.raises(ValueError, match="square"):
        V.drho(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="invertible"):
        V.T.rho(torch.zeros(3, 3))
    with pytest.raises(TypeError):
        V + 1.5


def test_group_validates_and_reports_dimension():
    G = Group(L3, -torch.eye(3, dtype=torch.float64))
    assert G.n == 3 and G.discrete_generators.shape == (1, 3, 3)
    assert (V**2).dim(G) == 9
    with pytest.raises(ValueError, match="complex"):
        Group(torch.zeros(1, 2, 2, dtype=torch.complex128))
    with pytest.raises(ValueError, match="dimension"):
        Group(L3, torch.eye(4))


@pytest.mark.parametrize(
    "text, rep",
    [
        ("V", V),
        ("V**2 + 3*Scalar", V**2 + 3 * Scalar),
        ("V*V.T", V * V.T),
        ("2*V + V**3", 2 * V + V**3),
    ],
)
def test_parse_rep_builds_the_written_rep(text, rep):
    assert parse_rep(text) == rep


@pytest.mark.parametrize("text", ['__import__("os")', "V +", "3", "W"])
def test_parse_rep_rejects_anything_but_rep_expressions(text):
    with pytest.raises(ValueError):
        parse_rep(text)


@pytest.mark.parametrize("text", ["V**(9**9**9)", "(10**10**10)*V", "V**(2**64)"])
def test_parse_rep_refuses_a_huge_integer_without_computing_it(text):
    start = time.perf_counter()
    with pytest.raises(ValueError, match="above every size limit"):
        parse_rep(text)
    assert time.perf_counter() - start < 0.5


def test_parse_rep_evaluates_integer_arithmetic_within_the_limits():
    assert parse_rep("V**(2**2) + (2*3 + 1)*Scalar") == V**4 + 7 * Scalar
    assert parse_rep("(3**8)*V").size(3) == 3**9


def test_tensor_powers_and_multiplicities_above_the_limits_are_refused(monkeypatch):
    with pytest.raises(ValueError, match=r"tensor power of 33 .*MAX_TENSOR_POWER"):
        V**33
    with pytest.raises(ValueError, match=r"multiplicity of 1000001 .*MAX_MULTIPLICITY"):
        parse_rep("1000001*V")
    monkeypatch.setattr(reps, "MAX_TENSOR_POWER", 40)
    assert (V**33).size(2) == 2**33  # a value: nothing of that size is built
    monkeypatch.setattr(reps, "MAX_MULTIPLICITY", 10)
    with pytest.raises(ValueError, match="multiplicity of 11"):
        parse_rep("11*V")
    monkeypatch.setattr(reps, "MAX_MULTIPLICITY", 1000)
    assert parse_rep("11*V").size(3) == 33
    assert len(((V + Scalar) ** 9).blocks(1)) == 512
    with pytest.raises(ValueError, match=r"number of summands .* 1024 .*MAX_MULTIPLICITY"):
        ((V + Scalar) ** 10).blocks(1)


def _lorentz_elements(k: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    w = 0.5 * torch.randn(k, 6, generator=g, dtype=torch.float64)
    return torch.linalg.matrix_exp(torch.einsum("bi,ijk->bjk", w, LORENTZ))


def test_tensor_square_acts_on_outer_products_as_g_x_x_transpose_g_transpose():
    g = _lorentz_elements(5)
    x = torch.randn(5, 4, dtype=torch.float64)
    xx = (x[:, :, None] * x[:, None, :]).reshape(5, 16)
    gx = (g @ x[..., None])[..., 0]
    expected = (gx[:, :, None] * gx[:, None, :]).reshape(5, 16)
    assert torch.allclose((V * V).act(g, xx), expected, atol=1e-10)


def test_act_moves_every_point_and_leaves_masked_points():
    g = _lorentz_elements(2, seed=1)
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    mask = torch.tensor([[True, False, True], [True, True, False]])
    out = V.act(g, x, mask)
    for b in range(2):
        for p in range(3):
            expected = g[b] @ x[b, p] if mask[b, p] else x[b, p]
            assert torch.allclose(out[b, p], expected)


def test_dual_action_keeps_the_pairing_with_vectors():
    g = _lorentz_elements(4, seed=2)
    a, b = torch.randn(4, 4, dtype=torch.float64), torch.randn(4, 4, dtype=torch.float64)
    pairing = (V.T.act(g, a) * V.act(g, b)).sum(-1)
    assert torch.allclose(pairing, (a * b).sum(-1))


def test_act_rejects_data_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"\(2, \.\.\., 16\)"):
        (V * V).act(_lorentz_elements(2), torch.randn(2, 4, dtype=torch.float64))


def test_defining_rep_needs_no_inverse():
    h = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)  # singular
    assert torch.equal(V.rho(h)[0], h)
