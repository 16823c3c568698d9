import math

import pytest
import torch

from liegnn.algebra import lorentz, so
from liegnn.discovery.regularizers import (
    channel_regularizer,
    channel_similarity,
    identity_regularizer,
)


def test_identity_regularizer_is_one_for_the_identity_and_small_for_large_rotations():
    x = torch.randn(1000, 2, dtype=torch.float64)
    assert float(identity_regularizer(x, x)) == pytest.approx(1.0)
    quarter = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)
    assert float(identity_regularizer(x, x @ quarter.T)) == pytest.approx(0.0, abs=1e-12)
    half = -x
    assert float(identity_regularizer(x, half)) == pytest.approx(1.0)  # |mean cos| = |-1|


def test_identity_regularizer_ignores_padded_points():
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    gx = x.clone()
    gx[:, 3:] = -x[:, 3:]
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[:, 3:] = False
    assert float(identity_regularizer(x, gx, mask)) == pytest.approx(1.0)
    assert float(identity_regularizer(x, gx)) == pytest.approx(0.2)


def test_identity_regularizer_on_complex_data_uses_the_real_part_of_the_inner_product():
    z = torch.randn(500, 2, dtype=torch.complex128)
    phase = z * torch.exp(torch.tensor(1j * math.pi / 3, dtype=torch.complex128))
    assert float(identity_regularizer(z, phase)) == pytest.approx(0.5, abs=1e-12)


def test_identity_regularizer_gradient_pushes_away_from_identity():
    theta = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    x = torch.randn(200, 2, dtype=torch.float64)
    c, s = torch.cos(theta), torch.sin(theta)
    R = torch.stack([torch.stack([c, -s]), torch.stack([s, c])])
    identity_regularizer(x, x @ R.T).backward()
    assert float(theta.grad) < 0  # increasing the angle lowers the penalty


def test_channel_cosine_vanishes_for_an_orthogonal_basis_and_is_one_for_repeats():
    L = so(3)
    assert float(channel_regularizer(L)) == pytest.approx(0.0)
    repeated = torch.stack([L[0], 2 * L[0], -L[0]])
    assert float(channel_regularizer(repeated)) == pytest.approx(3.0)


def test_channel_regularizer_is_zero_for_one_channel():
    assert float(channel_regularizer(torch.randn(1, 4, 4))) == 0.0


def test_killing_similarity_is_scale_free_and_sees_lorentz_orthogonality():
    L = lorentz(dtype=torch.float64)
    S = channel_similarity(L, "killing")
    assert torch.allclose(S, torch.eye(6, dtype=S.dtype), atol=1e-12)
    S2 = channel_similarity(L * torch.arange(1, 7)[:, None, None], "killing")
    assert torch.allclose(S, S2)


def test_channel_regularizer_gradient_separates_two_close_channels():
    L = torch.stack([so(3)[0], so(3)[0] + 0.1 * so(3)[1]]).requires_grad_()
    opt = torch.optim.Adam([L], lr=0.05)
    before = float(channel_regularizer(L).detach())
    for _ in range(40):
        loss = channel_regularizer(L)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(channel_regularizer(L).detach()) < 0.2 * before


def test_unknown_similarity_is_rejected():
    with pytest.raises(ValueError, match="similarity"):
        channel_regularizer(so(3), "trace")


def test_sparsity_regularizer_is_the_entrywise_p_norm():
    from liegnn.discovery.regularizers import sparsity_regularizer

    L = torch.tensor([[[1.0, -2.0], [0.0, 3.0]], [[0.5, 0.0], [0.0, -0.5]]])
    assert torch.isclose(sparsity_regularizer(L, 1), torch.tensor(7.0))
    assert torch.isclose(sparsity_regularizer(L, 2), torch.tensor(14.5).sqrt())
    L.requires_grad_(True)
    sparsity_regularizer(L, 1).backward()
    assert torch.equal(L.grad, torch.sign(L.detach()))  # lasso: constant pull towards zero
    with pytest.raises(ValueError, match="p must be > 0"):
        sparsity_regularizer(L, 0)
