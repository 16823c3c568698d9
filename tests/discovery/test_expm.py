import pytest
import torch

from liegnn.algebra import replicate, so
from liegnn.discovery.expm import expm2, expm_combination
from liegnn.discovery.masks import blocks, nbody_blocks


def _dense(L, w):
    return torch.linalg.matrix_exp(torch.einsum("bc,cij->bij", w, L))


def test_closed_form_2x2_matches_matrix_exp_across_all_regimes():
    A = torch.randn(2000, 2, 2, dtype=torch.float64) * 3
    # elliptic (rotation), hyperbolic (boost), parabolic (defective, δ = 0) cases
    A[0] = torch.tensor([[0.0, -2.0], [2.0, 0.0]])
    A[1] = torch.tensor([[0.0, 1.5], [1.5, 0.0]])
    A[2] = torch.tensor([[0.3, 1.0], [0.0, 0.3]])
    assert torch.allclose(expm2(A), torch.linalg.matrix_exp(A), rtol=1e-10, atol=1e-10)


def test_closed_form_2x2_gradient_is_exact_at_the_parabolic_point():
    A = torch.tensor([[[0.3, 1.0], [0.0, 0.3]], [[0.0, -1.0], [1.0, 0.0]]], dtype=torch.float64)
    assert torch.autograd.gradcheck(expm2, (A.requires_grad_(),))


def test_block_diagonal_shortcut_equals_dense_exponential_and_gradient():
    M = nbody_blocks(2).double()
    L = (torch.randn(2, 8, 8, dtype=torch.float64) * M).requires_grad_()
    w = torch.randn(6, 2, dtype=torch.float64)
    assert torch.allclose(expm_combination(L, w, blocks=blocks(M)), _dense(L, w), atol=1e-12)
    assert torch.autograd.gradcheck(lambda L: expm_combination(L, w, blocks=blocks(M)), (L,))


def test_one_eigendecomposition_serves_every_sample():
    L = torch.randn(1, 5, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(9, 1, dtype=torch.float64, requires_grad=True)
    assert torch.allclose(expm_combination(L, w, method="eig"), _dense(L, w), atol=1e-10)
    assert torch.autograd.gradcheck(lambda L, w: expm_combination(L, w, method="eig"), (L, w))


def test_eig_gradient_is_finite_and_exact_at_repeated_eigenvalues():
    # the 2-body rotation generator has eigenvalues ±i, each four times
    R = replicate(so(2, dtype=torch.float64), 4).requires_grad_()
    w = torch.randn(7, 1, dtype=torch.float64)
    G = torch.randn(7, 8, 8, dtype=torch.float64)
    (a,) = torch.autograd.grad((expm_combination(R, w, method="eig") * G).sum(), R)
    (b,) = torch.autograd.grad((_dense(R, w) * G).sum(), R)
    assert torch.isfinite(a).all() and torch.allclose(a, b, atol=1e-10)


def test_eig_falls_back_for_a_defective_generator():
    J = torch.tensor([[[0.0, 1.0], [0.0, 0.0]]], dtype=torch.float64)  # nilpotent, defective
    w = torch.linspace(-2, 2, 5, dtype=torch.float64)[:, None]
    assert torch.allclose(expm_combination(J, w, method="eig"), _dense(J, w))


def test_distinct_coefficients_shortcut_equals_dense():
    L = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randint(-2, 3, (50, 2)).double()
    assert torch.allclose(expm_combination(L, w, distinct=True), _dense(L, w), atol=1e-12)
    (a,) = torch.autograd.grad(expm_combination(L, w, distinct=True).sum(), L)
    (b,) = torch.autograd.grad(_dense(L, w).sum(), L)
    assert torch.allclose(a, b, atol=1e-10)


def test_complex_generators_exponentiate_correctly():
    L = torch.randn(1, 4, 4, dtype=torch.complex128)
    w = torch.randn(3, 1, dtype=torch.float64)
    assert torch.allclose(expm_combination(L, w, method="eig"), _dense(L, w.to(L.dtype)))


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="method"):
        expm_combination(torch.zeros(1, 2, 2), torch.zeros(3, 1), method="pade")
