import math

import torch

from liegnn.nn.psi import psi


def test_psi_is_signed_log_one_plus_abs():
    a = torch.tensor([-1e8, -3.0, -1e-3, 0.0, 1e-3, 3.0, 1e8], dtype=torch.float64)
    expected = torch.tensor(
        [math.copysign(math.log1p(abs(v)), v) for v in a.tolist()], dtype=torch.float64
    )
    assert torch.allclose(psi(a), expected, rtol=1e-14, atol=0)


def test_psi_is_odd_and_close_to_identity_near_zero():
    a = torch.logspace(-12, 12, 50, dtype=torch.float64)
    assert torch.equal(psi(-a), -psi(a))
    small = a[a < 1e-8]
    assert torch.allclose(psi(small), small, rtol=1e-8, atol=0)


def test_psi_gradient_is_finite_and_decays_for_huge_invariants():
    a = torch.tensor([-1e30, -1.0, 1.0, 1e30], dtype=torch.float64, requires_grad=True)
    psi(a).sum().backward()
    assert torch.isfinite(a.grad).all()
    assert torch.allclose(a.grad, 1 / (a.detach().abs() + 1))
