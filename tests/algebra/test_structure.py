import pytest
import torch

from liegnn.algebra import (
    bracket,
    closure_error,
    gl,
    gl_killing_form,
    killing_cosine,
    killing_form,
    lorentz,
    se,
    so,
    structure_constants,
    su2,
    translations,
)

F64 = torch.float64


def _mix(L: torch.Tensor, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(L.shape[0], L.shape[0], generator=g, dtype=F64)
    return torch.einsum("ij,jkl->ikl", A.to(L.dtype), L)


def test_bracket_is_antisymmetric_and_satisfies_jacobi():
    g = torch.Generator().manual_seed(0)
    X, Y, Z = torch.randn(3, 4, 4, generator=g, dtype=F64)
    assert torch.allclose(bracket(X, Y), -bracket(Y, X))
    jacobi = bracket(X, bracket(Y, Z)) + bracket(Y, bracket(Z, X)) + bracket(Z, bracket(X, Y))
    assert jacobi.abs().max() < 1e-12


def test_structure_constants_of_so3_are_levi_civita_up_to_sign():
    C = structure_constants(so(3, dtype=F64))
    # basis E01−E10, E02−E20, E12−E21: [L0, L1] = −L2, [L1, L2] = −L0, [L0, L2] = L1
    assert torch.allclose(C[0, 1], torch.tensor([0.0, 0, -1], dtype=F64))
    assert torch.allclose(C[1, 2], torch.tensor([-1.0, 0, 0], dtype=F64))
    assert torch.allclose(C[0, 2], torch.tensor([0.0, 1, 0], dtype=F64))
    assert torch.allclose(C, -C.transpose(0, 1))


@pytest.mark.parametrize("algebra", ["lorentz", "se3", "su2"])
def test_structure_constants_reconstruct_every_bracket(algebra):
    L = {"lorentz": lorentz(dtype=F64), "se3": se(3, dtype=F64), "su2": su2()}[algebra]
    C = structure_constants(L)
    assert not C.is_complex()
    rebuilt = torch.einsum("ijk,kab->ijab", C.to(L.dtype), L)
    assert (rebuilt - bracket(L[:, None], L[None])).abs().max() < 1e-12


def test_su2_structure_constants_are_real_levi_civita():
    C = structure_constants(su2())
    assert torch.allclose(C[0, 1], torch.tensor([0.0, 0, 1], dtype=F64))
    assert torch.allclose(C[1, 2], torch.tensor([1.0, 0, 0], dtype=F64))


def test_closure_error_is_zero_for_algebras_in_any_basis():
    for L in [so(4, dtype=F64), lorentz(dtype=F64), se(3, dtype=F64), su2()]:
        assert closure_error(L) < 1e-12
        assert closure_error(_mix(L)) < 1e-12


def test_closure_error_is_large_for_a_span_that_does_not_close():
    X = torch.zeros(2, 3, 3, dtype=F64)
    X[0, 0, 1], X[0, 1, 0] = 1.0, -1.0  # a rotation
    X[1, 0, 1] = X[1, 1, 0] = 1.0  # a symmetric map: [X0, X1] = 2 (E00 − E11) is outside
    assert closure_error(X) == pytest.approx(2**0.5, rel=1e-12)  # the largest possible


def test_closure_error_independent_of_basis_and_scale():
    L = lorentz(dtype=F64)
    L = torch.cat([L[:2], L[3:4]])  # J_x, J_y, K_x: does not close
    e = closure_error(L)
    assert e > 0.1
    assert closure_error(_mix(L, 1)) == pytest.approx(e, rel=1e-10)
    assert closure_error(1e3 * L) == pytest.approx(e, rel=1e-10)


def test_closure_error_of_noisy_algebra_is_of_noise_order():
    g = torch.Generator().manual_seed(0)
    for L in [lorentz(dtype=F64), translations(3, dtype=F64)]:
        noisy = L + 1e-4 * torch.randn(L.shape, generator=g, dtype=F64)
        assert 1e-6 < closure_error(noisy) < 1e-3


def test_closure_error_ignores_a_redundant_channel():
    L = so(3, dtype=F64)
    assert closure_error(torch.cat([L, 2 * L[:1]])) < 1e-12
    assert closure_error(L[:1]) == 0.0


def test_killing_form_signatures():
    assert torch.allclose(killing_form(so(3, dtype=F64)), -2 * torch.eye(3, dtype=F64))
    eig = torch.linalg.eigvalsh(killing_form(lorentz(dtype=F64)))
    assert (eig < -1).sum() == 3 and (eig > 1).sum() == 3  # so(1, 3) is not compact
    assert killing_form(translations(3, dtype=F64)).abs().max() == 0  # abelian
    B = killing_form(_mix(so(3, dtype=F64)))
    assert torch.linalg.eigvalsh(B).max() < 0  # negative definite in any basis


def test_gl_killing_form_is_the_killing_form_of_gl_n():
    G = gl(3, dtype=F64)
    assert torch.allclose(gl_killing_form(G[:, None], G[None]), killing_form(G), atol=1e-10)


def test_gl_killing_form_is_differentiable():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2, 3, 3, generator=g, dtype=F64, requires_grad=True)
    Y = torch.randn(3, 3, generator=g, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(gl_killing_form, (X, Y))


def test_killing_cosine_of_orthogonal_so3_basis_is_identity():
    K = killing_cosine(so(3, dtype=F64))
    assert torch.allclose(K, torch.eye(3, dtype=F64), atol=1e-12)
    L = so(3, dtype=F64).clone().requires_grad_(True)
    killing_cosine(L).triu(1).sum().backward()
    assert torch.isfinite(L.grad).all()


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="square"):
        bracket(torch.zeros(2, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="NaN"):
        structure_constants(torch.full((2, 3, 3), float("nan")))
    with pytest.raises(ValueError, match="shape"):
        closure_error(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="same size"):
        gl_killing_form(torch.zeros(3, 3), torch.zeros(4, 4))
