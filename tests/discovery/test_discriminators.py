import pytest
import torch

from liegnn.discovery.discriminators import (
    DeepSetsDiscriminator,
    EmbeddingDiscriminator,
    MLPDiscriminator,
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
