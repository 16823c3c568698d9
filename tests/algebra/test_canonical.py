import pytest
import torch

from liegnn.algebra import canonicalize, lorentz, se, so, sp, span_pivots, su2, subspace_similarity

F64 = torch.float64


def _mix(L: torch.Tensor, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(L.shape[0], L.shape[0], generator=g, dtype=F64)
    return torch.einsum("ij,jkl->ikl", A.to(L.dtype), L)


@pytest.mark.parametrize("sparsify", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_change_of_basis_of_so3_canonicalises_like_so3(sparsify, seed):
    L = so(3, dtype=F64)
    expected = canonicalize(L, sparsify=sparsify)
    assert torch.allclose(canonicalize(_mix(L, seed), sparsify=sparsify), expected, atol=1e-12)


def test_canonical_so3_is_the_plane_rotation_basis():
    L = so(3, dtype=F64)
    assert torch.allclose(canonicalize(_mix(L), sparsify=True), L, atol=1e-12)
    assert torch.allclose(canonicalize(_mix(L)), L / 2**0.5, atol=1e-12)


@pytest.mark.parametrize("algebra", ["lorentz", "se3", "sp4"])
def test_sparsify_of_recombined_algebra_returns_sparse_generators(algebra):
    L = {
        "lorentz": lorentz,
        "se3": lambda dtype: se(3, dtype=dtype),
        "sp4": lambda dtype: sp(2, dtype=dtype),
    }[algebra](dtype=F64)
    S = canonicalize(_mix(L, 3), sparsify=True, atol=1e-12)
    assert S.shape == L.shape
    assert subspace_similarity(S, L) == pytest.approx(1.0, abs=1e-12)
    # as sparse as the textbook basis: the same number of non-zero entries per generator
    assert sorted((S != 0).flatten(1).sum(1).tolist()) == sorted(
        (L != 0).flatten(1).sum(1).tolist()
    )
    assert torch.allclose(S, canonicalize(L, sparsify=True), atol=1e-12)


def test_sparse_lorentz_is_boosts_then_rotations_with_unit_entries():
    S = canonicalize(_mix(lorentz(dtype=F64)), sparsify=True, atol=1e-12)
    nonzero = S[S != 0].abs()
    assert nonzero.numel() == 12 and torch.allclose(nonzero, torch.ones_like(nonzero))
    assert torch.allclose(S[:3], S[:3].transpose(1, 2))  # pivots (0,1), (0,2), (0,3): boosts
    assert torch.allclose(S[3:], -S[3:].transpose(1, 2))  # then the rotations


def test_canonical_basis_is_orthonormal_and_pivots_positive():
    L = _mix(lorentz(dtype=F64), 5)
    Q = canonicalize(L).flatten(1)
    assert torch.allclose(Q @ Q.T, torch.eye(6, dtype=F64), atol=1e-12)
    piv = span_pivots(L)
    assert piv == sorted(piv)
    assert (Q[torch.arange(6), piv] > 0).all()


def test_redundant_channels_are_dropped():
    L = so(3, dtype=F64)
    redundant = torch.cat([_mix(L), L[:1] - L[2:]])
    assert canonicalize(redundant).shape == (3, 3, 3)


def test_noisy_basis_canonicalises_close_to_truth():
    g = torch.Generator().manual_seed(0)
    L = lorentz(dtype=F64)
    noisy = _mix(L, 7) + 1e-4 * torch.randn(6, 4, 4, generator=g, dtype=F64)
    S = canonicalize(noisy, sparsify=True)
    assert (S - canonicalize(L, sparsify=True)).abs().max() < 1e-2


def test_complex_su2_canonicalises_over_the_reals():
    L = su2()
    S = canonicalize(_mix(L), sparsify=True)
    assert S.is_complex() and S.shape == (3, 2, 2)
    assert torch.allclose(S, canonicalize(L, sparsify=True), atol=1e-12)
    assert subspace_similarity(S, L, real=True) == pytest.approx(1.0, abs=1e-12)


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="all-zero"):
        canonicalize(torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="NaN"):
        canonicalize(torch.full((1, 2, 2), float("nan")))
    with pytest.raises(ValueError, match="non-negative"):
        canonicalize(so(3), atol=-1.0)
