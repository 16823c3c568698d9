import math

import pytest
import torch

from liegnn.discovery.actions import Affine, Image, Standard, Trivial, as_action


def _rotations(angles: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(angles), torch.sin(angles)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def test_standard_action_on_vectors():
    g = torch.randn(5, 3, 3, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64)
    out = Standard()(g, x)
    assert out.shape == (5, 3)
    assert torch.allclose(out, (g @ x[:, :, None])[:, :, 0])


def test_same_group_element_acts_on_every_time_step():
    g = torch.randn(4, 8, 8, dtype=torch.float64)
    x = torch.randn(4, 10, 8, dtype=torch.float64)
    out = Standard()(g, x)
    assert out.shape == (4, 10, 8)
    for t in range(10):
        assert torch.allclose(out[:, t], (g @ x[:, t, :, None])[..., 0])
    # equivalently I_T ⊗ g on the flattened trajectory
    big = torch.stack([torch.kron(torch.eye(10, dtype=g.dtype), gi) for gi in g])
    assert torch.allclose(out.reshape(4, -1), (big @ x.reshape(4, -1, 1))[..., 0])


def test_point_cloud_rotation_preserves_pairwise_distances_and_padding():
    g = _rotations(torch.rand(3, dtype=torch.float64) * 2 * math.pi)
    x = torch.randn(3, 6, 2, dtype=torch.float64)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[:, 4:] = False
    out = Standard()(g, x, mask)
    assert torch.allclose(torch.cdist(out[:, :4], out[:, :4]), torch.cdist(x[:, :4], x[:, :4]))
    assert torch.equal(out[:, 4:], x[:, 4:])  # padded points untouched


def test_trivial_action_leaves_labels_unchanged():
    y = torch.arange(5)
    assert Trivial()(torch.randn(5, 2, 2), y) is y


def test_affine_action_translates_points():
    t = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64)
    g = torch.eye(4, dtype=torch.float64)[None].clone()
    g[0, :3, 3] = t
    x = torch.randn(1, 7, 3, dtype=torch.float64)
    assert torch.allclose(Affine()(g, x), x + t[:, None, :])


def test_user_representation_dual_inverse_transpose():
    rep = lambda g: torch.linalg.inv(g).mT  # the dual representation
    action = as_action(rep)
    g = torch.linalg.matrix_exp(0.3 * torch.randn(4, 3, 3, dtype=torch.float64))
    x, v = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    # a covector paired with a vector stays invariant
    pairing = (action(g, x) * Standard()(g, v)).sum(-1)
    assert torch.allclose(pairing, (x * v).sum(-1))


def test_complex_action_on_complex_doublets():
    g = torch.linalg.matrix_exp(1j * torch.randn(2, 4, 4, dtype=torch.complex128))
    z = torch.randn(2, 4, dtype=torch.complex128)
    assert torch.allclose(Standard()(g, z), (g @ z[..., None])[..., 0])


def test_image_action_rotation_by_quarter_turn_matches_rot90():
    img = torch.zeros(1, 1, 8, 8)
    img[0, 0, 1, 2:6] = 1.0  # a bar near the top
    g = torch.eye(3)[None].clone()
    g[0, :2, :2] = _rotations(torch.tensor([math.pi / 2]))[0]
    out = Image()(g, img)
    # content at pixel p moves to R p; with y pointing down this is a clockwise quarter turn
    assert torch.allclose(out, torch.rot90(img, k=-1, dims=(2, 3)), atol=1e-5)


def test_actions_check_shapes_naming_the_data():
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3\)"):
        Standard().check(torch.randn(5, 4), 3, "x")
    with pytest.raises(ValueError, match="affine"):
        Affine().check(torch.randn(5, 4), 4, "x")
    with pytest.raises(ValueError, match="unknown action"):
        as_action("rotation")


def test_rep_action_of_v_times_v_on_flattened_outer_products():
    from liegnn.reps import V

    g = torch.linalg.matrix_exp(0.3 * torch.randn(6, 3, 3, dtype=torch.float64))
    x = torch.randn(6, 3, dtype=torch.float64)
    xx = (x[:, :, None] * x[:, None, :]).reshape(6, 9)
    gx = Standard()(g, x)
    action = as_action(V * V)
    assert not action.trivial
    assert torch.allclose(action(g, xx), (gx[:, :, None] * gx[:, None, :]).reshape(6, 9))
    action.check(xx, 3, "x")
    with pytest.raises(ValueError, match=r"x must have shape \(N, 9\)"):
        action.check(x, 3, "x")


def test_rep_action_of_scalars_is_trivial_and_of_v_is_standard():
    from liegnn.reps import Scalar, V

    assert as_action(2 * Scalar).trivial
    g = torch.randn(4, 3, 3, dtype=torch.float64)
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    assert torch.allclose(as_action(V)(g, x), Standard()(g, x))
