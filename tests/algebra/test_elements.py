import math

import pytest
import torch

import liegnn.algebra as algebra
from liegnn.algebra import group_elements, lorentz, normalize_channels, sample_coefficients, so
from liegnn.training import augmentation

F64 = torch.float64


def test_normalized_channels_have_frobenius_norm_sqrt_n_and_keep_direction():
    L = lorentz(dtype=F64) * torch.tensor([1.0, 3.0, 0.1, 7.0, 2.0, 0.5], dtype=F64)[:, None, None]
    N = normalize_channels(L)
    assert torch.allclose(N.flatten(1).norm(dim=1), torch.full((6,), 2.0, dtype=F64))
    cos = (N * L).flatten(1).sum(1) / (N.flatten(1).norm(dim=1) * L.flatten(1).norm(dim=1))
    assert torch.allclose(cos, torch.ones(6, dtype=F64))


def test_unit_speed_rotation_exponentiates_to_the_rotation_by_the_coefficient():
    L = normalize_channels(so(2, dtype=F64) * 5)  # norm √2: ±[[0, −1], [1, 0]], L² = −I
    assert torch.allclose(L[0].abs(), torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=F64))
    g = group_elements(L, torch.tensor([[0.3], [-1.2]], dtype=F64))
    for gi, t in zip(g, (0.3, -1.2), strict=True):
        R = math.cos(t) * torch.eye(2, dtype=F64) + math.sin(t) * L[0]  # rotation by t
        assert torch.allclose(gi, R, atol=1e-12)


def test_group_elements_of_lorentz_preserve_minkowski():
    torch.manual_seed(0)
    w = sample_coefficients(16, 6, "normal", 0.5)
    g = group_elements(lorentz(dtype=F64), w)
    eta = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=F64))
    assert torch.allclose(g.mT @ eta @ g, eta.expand(16, 4, 4), atol=1e-10)


def test_coefficient_shapes_are_checked():
    with pytest.raises(ValueError, match=r"\(N, 6\)"):
        group_elements(lorentz(dtype=F64), torch.zeros(3, 2, dtype=F64))
    with pytest.raises(ValueError, match="distribution"):
        sample_coefficients(3, 1, "cauchy")


def test_augmentation_reexports_the_one_implementation():
    assert augmentation.normalize_generators is algebra.normalize_channels
    assert augmentation.group_elements is algebra.group_elements
    assert augmentation.sample_coefficients is algebra.sample_coefficients
