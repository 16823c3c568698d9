import math

import pytest
import torch

from liegnn.datasets.synthetic import (
    affine_warp,
    discrete_rotation,
    discrete_rotation_generator,
    discrete_rotation_target,
    partial_permutation,
    partial_permutation_target,
    rotated_digits,
    su2_generators,
    su2_superpotential,
    su2_superpotential_target,
)


def _rot_z(theta: float) -> torch.Tensor:
    c, s = math.cos(theta), math.sin(theta)
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def _away_from_branch_cut(x: torch.Tensor, k: int, margin: float = 1e-6) -> torch.Tensor:
    a = torch.remainder(torch.atan2(x[:, 1], x[:, 0]), 2 * math.pi / k)
    return (a > margin) & (a < 2 * math.pi / k - margin)


def test_discrete_rotation_shapes_and_determinism():
    x, y = discrete_rotation(k=7, n_samples=500, seed=1)
    assert x.shape == (500, 3) and y.shape == (500, 1) and x.dtype == torch.float32
    x2, y2 = discrete_rotation(k=7, n_samples=500, seed=1)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    torch.testing.assert_close(y, discrete_rotation_target(x.double(), 7).float())


@pytest.mark.parametrize("k", [6, 7, 8])
def test_discrete_rotation_invariant_under_ck(k):
    x = torch.randn(4000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ok = _away_from_branch_cut(x, k)
    for m in range(1, k):
        gx = x @ _rot_z(2 * math.pi * m / k).T
        diff = discrete_rotation_target(gx, k) - discrete_rotation_target(x, k)
        assert diff[ok].abs().max() < 1e-9


@pytest.mark.parametrize("k", [6, 7, 8])
def test_discrete_rotation_not_invariant_under_other_rotations(k):
    x = torch.randn(4000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    gx = x @ _rot_z(math.pi / k).T  # half the C_k angle
    diff = discrete_rotation_target(gx, k) - discrete_rotation_target(x, k)
    assert diff.abs().mean() > 0.1


def test_discrete_rotation_generator_exponentiates_to_ck():
    L = discrete_rotation_generator(7)[0]
    torch.testing.assert_close(torch.linalg.matrix_exp(L), _rot_z(2 * math.pi / 7))


def test_partial_permutation_invariant_under_s3_on_first_three():
    x, y = partial_permutation(n_samples=2000, seed=2)
    x = x.double()
    f = partial_permutation_target(x)
    for perm in ([1, 0, 2], [0, 2, 1], [2, 0, 1], [1, 2, 0], [2, 1, 0]):
        px = x[:, perm + [3, 4]]
        torch.testing.assert_close(partial_permutation_target(px), f)
    torch.testing.assert_close(y, f.float())


@pytest.mark.parametrize("perm", [[0, 1, 2, 4, 3], [3, 1, 2, 0, 4], [0, 1, 4, 3, 2]])
def test_partial_permutation_not_invariant_when_x4_or_x5_move(perm):
    x, _ = partial_permutation(n_samples=2000, seed=2)
    x = x.double()
    diff = partial_permutation_target(x[:, perm]) - partial_permutation_target(x)
    assert diff.abs().mean() > 0.1


def _random_su2(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, 4, dtype=torch.float64, generator=g)
    a, b, c, d = (q / q.norm(dim=1, keepdim=True)).unbind(-1)
    alpha, beta = torch.complex(a, b), torch.complex(c, d)
    return torch.stack(
        [torch.stack([alpha, -beta.conj()], -1), torch.stack([beta, alpha.conj()], -1)], -2
    )


def test_su2_superpotential_invariant_under_su2():
    z, W = su2_superpotential(n_samples=1000, seed=0)
    assert z.shape == (1000, 4) and W.shape == (1000, 1) and z.dtype == torch.complex64
    z = z.to(torch.complex128)
    U = _random_su2(1000, 1)
    eye = torch.eye(2, dtype=torch.complex128)
    torch.testing.assert_close(U @ U.conj().transpose(-1, -2), eye.expand(1000, 2, 2))
    gz = torch.cat([(U @ z[:, :2, None])[..., 0], (U @ z[:, 2:, None])[..., 0]], dim=1)
    torch.testing.assert_close(su2_superpotential_target(gz), su2_superpotential_target(z))
    # acting on the first doublet only is not a symmetry
    hz = torch.cat([(U @ z[:, :2, None])[..., 0], z[:, 2:]], dim=1)
    diff = su2_superpotential_target(hz) - su2_superpotential_target(z)
    assert diff.abs().mean() > 0.1
    # nor is a U(1) phase on both doublets
    diff = su2_superpotential_target(1j * z) - su2_superpotential_target(z)
    assert diff.abs().mean() > 0.1


def test_su2_generators_annihilate_superpotential_to_first_order():
    z, _ = su2_superpotential(n_samples=200, seed=3)
    z = z.to(torch.complex128)
    W = su2_superpotential_target(z)
    for L in su2_generators():
        assert torch.allclose(L.conj().T, -L)  # anti-Hermitian: su(2)
        eps = 1e-6
        dW = (su2_superpotential_target(z + eps * z @ L.T) - W) / eps
        assert dW.abs().max() < 1e-4


def test_su2_target_rejects_real_input():
    with pytest.raises(ValueError, match="complex"):
        su2_superpotential_target(torch.randn(3, 4))


def test_rotated_digits_transform_is_recorded_and_invertible():
    pytest.importorskip("sklearn")  # [digits] extra
    images, labels, moves = rotated_digits(400, size=24, max_shift=1.5, seed=0)
    base, labels0, _ = rotated_digits(400, size=24, max_shift=0.0, seed=0, rotate=False)
    assert images.shape == (400, 1, 24, 24) and labels.shape == (400,)
    assert torch.equal(labels, labels0)
    assert moves[:, 0].abs().max() <= math.pi and moves[:, 1:].abs().max() <= 1.5

    def undo(angle):
        c, s = torch.cos(-angle), torch.sin(-angle)
        R = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
        return affine_warp(images, -angle, -(R @ moves[:, 1:, None])[..., 0])

    err = lambda x: ((x - base).norm() / base.norm()).item()
    # bilinear interpolation twice blurs (~0.3); a wrong angle is far worse
    assert err(undo(moves[:, 0])) < 0.4
    assert err(undo(moves[:, 0] + 1.0)) > 0.7


def test_rotated_digits_distribution_is_rotation_invariant():
    pytest.importorskip("sklearn")
    images, _, _ = rotated_digits(3000, size=16, seed=1)
    upright, _, _ = rotated_digits(3000, size=16, seed=1, rotate=False, max_shift=0.0)

    def asymmetry(x):
        m = x.mean(0)[0]
        return ((m - torch.rot90(m, 1)).norm() / m.norm()).item()

    assert asymmetry(images) < 0.06
    assert asymmetry(upright) > 0.5


def test_affine_warp_rotates_a_point_about_the_centre():
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 8, 12] = 1.0  # (x, y) = (12, 8): 4.5 px right of, 0.5 px below the centre 7.5
    y = affine_warp(x, torch.tensor([math.pi / 2]), torch.zeros(1, 2))
    assert (y[0, 0] > 0.3).nonzero().tolist() == [[12, 7]]


def test_rotated_digits_without_sklearn_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"liegnn\[digits\]"):
        rotated_digits(10)
