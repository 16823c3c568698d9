import numpy as np
import pytest
import torch

from liegnn.algebra import (
    channel_cosine,
    generator_mae,
    lorentz,
    match_channels,
    principal_cosines,
    so,
    su2,
    subspace_similarity,
)

F64 = torch.float64


def _mix(L: torch.Tensor, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(L.shape[0], L.shape[0], generator=g, dtype=F64)
    return torch.einsum("ij,jkl->ikl", A.to(L.dtype), L)


def test_channel_cosine_ignores_scale_and_sign():
    L = lorentz(dtype=F64)
    scale = torch.tensor([2.0, -3.0, 0.5, -1.0, 7.0, 1.0], dtype=F64)[:, None, None]
    cos = channel_cosine(scale * L, L)
    assert cos.shape == (6,)
    assert torch.allclose(cos, torch.ones(6, dtype=F64))


def test_channel_cosine_known_value():
    L = so(3, dtype=F64)
    found = L + torch.roll(L, 1, dims=0)  # each channel: truth + an orthogonal channel
    assert torch.allclose(channel_cosine(found, L), torch.full((3,), 2**-0.5, dtype=F64))


def test_channel_cosine_match_recovers_a_permutation():
    L = lorentz(dtype=F64)
    perm = torch.tensor([4, 0, 5, 2, 1, 3])
    found = -2.0 * L[perm]
    assert torch.equal(match_channels(found, L), perm)
    assert torch.allclose(channel_cosine(found, L, match=True), torch.ones(6, dtype=F64))
    assert channel_cosine(found, L).max() < 1e-12  # unmatched: every pair orthogonal


def test_channel_cosine_unmatched_extra_channels_score_zero():
    L = so(3, dtype=F64)
    found = torch.cat([L[[2, 0]], L[1:2], torch.ones(1, 3, 3, dtype=F64)])
    cos = channel_cosine(found, L, match=True)
    assert torch.allclose(cos, torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=F64))
    assert match_channels(found, L)[3] == -1


def test_channel_cosine_needs_match_for_different_counts():
    with pytest.raises(ValueError, match="match=True"):
        channel_cosine(so(3, dtype=F64)[:2], so(3, dtype=F64))


def test_channel_cosine_complex_and_numpy_input():
    L = su2()
    assert torch.allclose(channel_cosine(1j * L, L), torch.ones(3, dtype=F64))
    cos = channel_cosine(np.asarray(so(3, dtype=F64)), so(3, dtype=F64))
    assert torch.allclose(cos, torch.ones(3, dtype=F64))


def test_subspace_similarity_is_one_under_change_of_basis():
    L = lorentz(dtype=F64)
    assert subspace_similarity(_mix(L), L) == pytest.approx(1.0, abs=1e-12)
    assert subspace_similarity(_mix(L, 1), _mix(L, 2)) == pytest.approx(1.0, abs=1e-12)


def test_subspace_similarity_of_different_spans_is_below_one():
    # so(4) and so(1, 3) share the three rotations; so(4)'s other three are orthogonal to boosts
    assert subspace_similarity(so(4, dtype=F64), lorentz(dtype=F64)) == pytest.approx(0.5)
    cos = principal_cosines(so(4, dtype=F64), lorentz(dtype=F64))
    assert torch.allclose(cos, torch.tensor([1.0, 1, 1, 0, 0, 0], dtype=F64), atol=1e-12)


def test_subspace_similarity_measures_smaller_span_inside_bigger():
    L = lorentz(dtype=F64)
    assert subspace_similarity(L[:3], L) == pytest.approx(1.0, abs=1e-12)
    assert subspace_similarity(L, _mix(L[:3])) == pytest.approx(1.0, abs=1e-12)
    g = torch.Generator().manual_seed(0)
    noisy = _mix(L) + 1e-2 * torch.randn(6, 4, 4, generator=g, dtype=F64)
    assert 0.99 < subspace_similarity(noisy, L) < 1.0


def test_subspace_similarity_counts_dependent_channels_once():
    L = so(3, dtype=F64)
    assert principal_cosines(torch.cat([L, L[:1] + L[1:2]]), L).shape == (3,)


def test_subspace_similarity_of_complex_real_form():
    L = su2()
    assert subspace_similarity(_mix(L), L, real=True) == pytest.approx(1.0, abs=1e-12)
    # over ℂ, su(2) and i·su(2) are the same span; over ℝ they are orthogonal
    assert subspace_similarity(1j * L, L) == pytest.approx(1.0, abs=1e-12)
    assert subspace_similarity(1j * L, L, real=True) == pytest.approx(0.0, abs=1e-12)


def test_generator_mae_up_to_sign():
    L = so(3, dtype=F64)[2:]
    assert generator_mae(-L, L) == 0.0
    assert generator_mae(-L, L, up_to_sign=False) == pytest.approx(float(2 * L.abs().mean()))
    assert generator_mae(L + 0.01, L) == pytest.approx(0.01)


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="dimension"):
        channel_cosine(so(3, dtype=F64), so(4, dtype=F64)[:3])
    with pytest.raises(ValueError, match="NaN"):
        subspace_similarity(torch.full((1, 3, 3), float("inf")), so(3))
    with pytest.raises(ValueError, match="shape"):
        generator_mae(so(3, dtype=F64), so(3, dtype=F64)[:2])
    with pytest.raises(ValueError, match="empty span"):
        subspace_similarity(torch.zeros(2, 3, 3), so(3))
    with pytest.raises(ValueError, match="square"):
        channel_cosine(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))
