import numpy as np
import pytest
import torch

from liegnn.algebra.kronecker import (
    at_factor,
    kron,
    kron_product_apply,
    kron_sum,
    kron_sum_apply,
    kron_sum_sparse,
)

F64 = torch.float64


def _mats(dims, c=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (lambda d: (d, d)) if c is None else (lambda d: (c, d, d))
    return [torch.randn(*shape(d), generator=g, dtype=F64) for d in dims]


def _explicit_sum(mats):
    """Σ_j I ⊗ … ⊗ A_j ⊗ … ⊗ I written with torch.kron, factor by factor."""
    dims = [A.shape[-1] for A in mats]
    total = 0
    for j, A in enumerate(mats):
        term = torch.ones(1, 1, dtype=A.dtype)
        for i, d in enumerate(dims):
            term = torch.kron(term, A if i == j else torch.eye(d, dtype=A.dtype))
        total = total + term
    return total


@pytest.mark.parametrize("dims", [(3,), (2, 3), (3, 2, 4)])
def test_dense_kron_sum_is_the_sum_of_identity_padded_factors(dims):
    mats = _mats(dims, c=2)
    D = kron_sum(mats)
    for i in range(2):
        assert torch.allclose(D[i], _explicit_sum([A[i] for A in mats]), atol=1e-12)


@pytest.mark.parametrize("dims", [(3, 3), (2, 3, 4)])
def test_sparse_and_matrix_free_forms_equal_the_dense_one(dims):
    mats = _mats(dims)
    dense = _explicit_sum(mats)
    sparse = kron_sum_sparse([A.numpy() for A in mats])
    assert np.allclose(sparse.toarray(), dense.numpy(), atol=1e-12)
    v = torch.randn(dense.shape[0], 5, dtype=F64)
    assert torch.allclose(kron_sum_apply(mats, v), dense @ v, atol=1e-12)


def test_product_apply_is_the_kronecker_product_of_the_factors():
    mats = _mats((2, 3, 2), seed=1)
    v = torch.randn(12, 4, dtype=F64)
    full = torch.kron(torch.kron(mats[0], mats[1]), mats[2])
    assert torch.allclose(kron_product_apply(mats, v), full @ v, atol=1e-12)


def test_at_factor_acts_on_one_axis_of_the_reshaped_tensor():
    A = torch.randn(3, 3, dtype=F64)
    v = torch.randn(2 * 3 * 4, 1, dtype=F64)
    out = at_factor(A, v, (2, 3, 4), 1).reshape(2, 3, 4)
    assert torch.allclose(out, torch.einsum("ij,ajb->aib", A, v.reshape(2, 3, 4)), atol=1e-12)


def test_batched_kron_matches_torch_kron():
    a, b = torch.randn(3, 2, 3, dtype=F64), torch.randn(3, 4, 2, dtype=F64)
    out = kron(a, b)
    assert out.shape == (3, 8, 6)
    assert all(torch.allclose(out[i], torch.kron(a[i], b[i])) for i in range(3))
