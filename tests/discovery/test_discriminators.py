import pytest
import torch

from liegnn.discovery.discriminators import (
    DeepSetsDiscriminator,
    EmbeddingDiscriminator,
    MLPDiscriminator,
    PairwiseDiscriminator,
)


def test_mlp_discriminator_is_the_papers_three_layer_network():
    D = MLPDiscriminator(80)
    linears = [m for m in D.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(80, 512), (512, 512), (512, 1)]
    slopes = {m.negative_slope for m in D.modules() if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.2}


def test_mlp_discriminator_reads_trajectories_and_targets():
    D = MLPDiscriminator(5 * 8 + 5 * 8, hidden=32)
    out = D(torch.randn(7, 5, 8), torch.randn(7, 5, 8))
    assert out.shape == (7,)


def test_mlp_discriminator_reads_complex_data_as_real_and_imaginary_parts():
    D = MLPDiscriminator(2 * 4 + 2, hidden=16)
    assert D(
        torch.randn(3, 4, dtype=torch.complex64), torch.randn(3, 1, dtype=torch.complex64)
    ).shape == (3,)


def test_embedding_discriminator_depends_on_the_label():
    torch.manual_seed(0)
    D = EmbeddingDiscriminator(8, n_classes=2, hidden=32)
    x = torch.randn(4, 2, 4)
    a = D(x, torch.zeros(4, dtype=torch.long))
    b = D(x, torch.ones(4, dtype=torch.long))
    assert a.shape == (4,) and not torch.allclose(a, b)
    with pytest.raises(ValueError, match="labels"):
        D(x)


def test_deepsets_discriminator_is_permutation_invariant_and_ignores_padding():
    torch.manual_seed(0)
    D = DeepSetsDiscriminator(4, point_features=5, y_features=1, hidden=32).double()
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    f = torch.randn(3, 6, 5, dtype=torch.float64)
    y = torch.randn(3, 1, dtype=torch.float64)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[:, 5] = False
    out = D(x, y, point_mask=mask, features=f)
    perm = torch.tensor([4, 2, 0, 1, 3, 5])
    assert torch.allclose(out, D(x[:, perm], y, point_mask=mask[:, perm], features=f[:, perm]))
    x2 = x.clone()
    x2[:, 5] = 1e3  # change only the padded point
    assert torch.allclose(out, D(x2, y, point_mask=mask, features=f))


def test_deepsets_discriminator_needs_point_clouds():
    with pytest.raises(ValueError, match="point clouds"):
        DeepSetsDiscriminator(4)(torch.randn(3, 4))


def _molecules(n=3, p=6, seed=0):
    """Affine atoms (x, y, z, 1), one-hot types and a mask with the last point padded."""
    g = torch.Generator().manual_seed(seed)
    pos = torch.randn(n, p, 3, generator=g, dtype=torch.float64)
    x = torch.cat([pos, torch.ones(n, p, 1, dtype=torch.float64)], dim=-1)
    f = torch.eye(5, dtype=torch.float64)[torch.randint(5, (n, p), generator=g)]
    mask = torch.ones(n, p, dtype=torch.bool)
    mask[:, -1] = False
    return x, f, mask


def test_pairwise_discriminator_is_permutation_invariant_and_ignores_padding():
    torch.manual_seed(0)
    D = PairwiseDiscriminator(4, point_features=5, hidden=32, spatial_dims=3).double()
    x, f, mask = _molecules()
    out = D(x, point_mask=mask, features=f)
    perm = torch.tensor([4, 2, 0, 1, 3, 5])
    assert torch.allclose(out, D(x[:, perm], point_mask=mask[:, perm], features=f[:, perm]))
    x2, f2 = x.clone(), f.clone()
    x2[:, -1, :3], f2[:, -1] = 1e3, 0.0  # change only the padded point
    assert torch.allclose(out, D(x2, point_mask=mask, features=f2))


def test_pair_term_is_invariant_under_rotation_and_translation_but_not_a_stretch():
    torch.manual_seed(0)
    D = PairwiseDiscriminator(4, point_features=5, hidden=32, spatial_dims=3).double()
    x, f, mask = _molecules()
    pair = D.pair_term(x, mask, f)
    R = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64)).Q
    moved = x.clone()
    moved[..., :3] = x[..., :3] @ R.T + torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    assert torch.allclose(D.pair_term(moved, mask, f), pair, atol=1e-10)
    stretched = x.clone()
    stretched[..., 1] *= 1.3
    assert not torch.allclose(D.pair_term(stretched, mask, f), pair, atol=1e-4)
    # the whole D reads coordinates too, so it does see the rotation
    assert not torch.allclose(D(moved, point_mask=mask, features=f), D(x, None, mask, f))


def test_pairwise_discriminator_uses_only_the_spatial_coordinates_for_distances():
    torch.manual_seed(0)
    D = PairwiseDiscriminator(4, hidden=16, spatial_dims=3).double()
    x, _, mask = _molecules()
    other = x.clone()
    other[..., 3] = 7.0  # the homogeneous coordinate plays no part in the distances
    assert torch.allclose(D.pair_term(other, mask), D.pair_term(x, mask))
