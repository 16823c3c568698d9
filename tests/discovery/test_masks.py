import pytest
import torch

from liegnn.algebra import replicate, se, so
from liegnn.discovery import masks


def test_nbody_blocks_cover_the_rotation_generator_of_every_vector():
    M = masks.nbody_blocks(2)
    assert M.shape == (8, 8) and int(M.sum()) == 16
    truth = replicate(so(2), 4)[0].float()
    assert torch.equal(truth * M, truth)  # the true generator lies in the search space


def test_position_momentum_blocks_never_mix_q_and_p():
    M = masks.position_momentum_blocks(2)
    q = [0, 1, 4, 5]
    p = [2, 3, 6, 7]
    assert int(M[q][:, p].sum()) == 0 and int(M[p][:, q].sum()) == 0
    assert int(M[q][:, q].sum()) == 16 and int(M[p][:, p].sum()) == 16


def test_affine_mask_contains_se3_and_keeps_homogeneous_coordinate():
    M = masks.affine(3)
    assert M.shape == (4, 4)
    assert int(M[3].sum()) == 0  # last row zero: exp keeps the 1
    L = se(3).float()
    assert torch.equal(L * M, L)
    only_rotations = masks.affine(3, linear=torch.ones(3, 3), translations=False)
    assert int(only_rotations[:, 3].sum()) == 0


def test_kronecker_tied_repeats_one_block_on_every_step():
    L = torch.randn(1, 3, 3)
    K = masks.kronecker_tied(L, 4)
    assert K.shape == (1, 12, 12)
    for t in range(4):
        assert torch.equal(K[0, 3 * t : 3 * t + 3, 3 * t : 3 * t + 3], L[0])
    assert float(K[0, :3, 3:].abs().sum()) == 0.0


def test_blocks_finds_independent_coordinate_sets():
    assert masks.blocks(masks.nbody_blocks(2)) == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert masks.blocks(torch.ones(4, 4)) is None
    per_channel = torch.zeros(2, 4, 4)
    per_channel[0, 0, 1] = 1
    per_channel[1, 2, 3] = 1
    assert masks.blocks(per_channel) == [[0, 1], [2, 3]]


@pytest.mark.parametrize(
    "mask, match",
    [
        (torch.ones(3, 3), "shape"),
        (torch.ones(2, 4, 4, 4), "shape"),
        (torch.full((4, 4), 0.5), "0 and 1"),
        (torch.zeros(4, 4), "no free entry"),
        (torch.tensor([[float("nan")] * 4] * 4), "NaN"),
    ],
)
def test_as_mask_rejects_bad_masks_naming_the_problem(mask, match):
    with pytest.raises(ValueError, match=match):
        masks.as_mask(mask, 4, 1)


def test_as_mask_accepts_per_channel_masks_of_matching_count():
    assert masks.as_mask(torch.ones(2, 3, 3), 3, 2).shape == (2, 3, 3)
    with pytest.raises(ValueError, match="shape"):
        masks.as_mask(torch.ones(2, 3, 3), 3, 3)
