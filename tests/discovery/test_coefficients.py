import math

import pytest
import torch

from liegnn.discovery.coefficients import (
    GaussianMixture,
    IntegerGrid,
    Normal,
    Uniform,
    make_coefficients,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_normal_has_requested_moments_and_shape():
    w = Normal(3, sigma=2.0, mu=0.5).sample(200_000, generator=_gen())
    assert w.shape == (200_000, 3)
    assert torch.allclose(w.mean(0), torch.full((3,), 0.5), atol=0.03)
    assert torch.allclose(w.std(0), torch.full((3,), 2.0), atol=0.03)


def test_centred_normal_is_symmetric():
    w = Normal(1).sample(200_000, generator=_gen())
    # g and g^-1 equally likely: the distribution of w equals that of -w
    q = torch.tensor([0.1, 0.25, 0.5, 0.75, 0.9])
    assert torch.allclose(torch.quantile(w[:, 0], q), -torch.quantile(w[:, 0], 1 - q), atol=0.02)


def test_fixed_normal_has_no_parameters():
    assert list(Normal(2).parameters()) == []
    assert not Normal(2).learnable


def test_learnable_normal_fits_a_target_by_reparameterisation():
    dist = Normal(1, sigma=1.0, learnable=True)
    opt = torch.optim.Adam(dist.parameters(), lr=0.1)
    g = _gen()
    for _ in range(150):
        w = dist.sample(256, generator=g)
        loss = ((w - 3.0) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert abs(float(dist.mu.detach()) - 3.0) < 0.1
    assert float(dist.sigma.detach()) < 0.1


def test_uniform_support_is_symmetric_interval():
    w = Uniform(2, u=1.5).sample(100_000, generator=_gen())
    assert float(w.min()) >= -1.5 and float(w.max()) <= 1.5
    assert float(w.min()) < -1.49 and float(w.max()) > 1.49
    assert abs(float(w.mean())) < 0.02


def test_learnable_uniform_width_receives_gradient():
    dist = Uniform(1, u=1.0, learnable=True)
    w = dist.sample(1000, generator=_gen())
    (-(w.abs().mean())).backward()  # widening lowers the loss
    assert dist.log_u.grad is not None and float(dist.log_u.grad) < 0


def test_integer_grid_includes_both_ends_and_only_integers():
    w = IntegerGrid(1, u=3).sample(50_000, generator=_gen())
    values = torch.unique(w)
    assert values.tolist() == [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    counts = torch.stack([(w == v).sum() for v in values]).double()
    assert float(counts.std() / counts.mean()) < 0.05  # uniform over the grid
    assert IntegerGrid.discrete


def test_integer_grid_curriculum_grows_the_bound_by_epoch():
    dist = IntegerGrid(1, u=3, u_start=1, grow_every=2)
    seen = []
    for epoch in range(8):
        dist.set_epoch(epoch)
        seen.append(int(dist.sample(2000, generator=_gen(epoch)).abs().max()))
    assert seen == [1, 1, 2, 2, 3, 3, 3, 3]


def test_integer_grid_rejects_non_integer_bound():
    with pytest.raises(ValueError, match="u must be an integer"):
        IntegerGrid(1, u=2.5)


def test_gaussian_mixture_samples_near_its_means():
    gmm = GaussianMixture(1, n_components=3, means=[-2.0, 0.0, 2.0], sigma=0.05)
    w = gmm.sample(30_000, generator=_gen())[:, 0].detach()
    nearest = torch.tensor([-2.0, 0.0, 2.0])[
        (w[:, None] - torch.tensor([-2.0, 0.0, 2.0])).abs().argmin(1)
    ]
    assert float((w - nearest).abs().max()) < 0.5
    share = torch.stack([(nearest == m).float().mean() for m in (-2.0, 0.0, 2.0)])
    assert torch.allclose(share, torch.full((3,), 1 / 3), atol=0.02)


def test_gaussian_mixture_means_and_weights_are_learnable():
    gmm = GaussianMixture(1, n_components=2, means=[-1.0, 1.0], sigma=0.1)
    opt = torch.optim.Adam(gmm.parameters(), lr=0.1)
    g = _gen()
    for _ in range(120):
        w = gmm.sample(128, generator=g)
        loss = ((w - 2.0) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    # every component moves to the target or loses its weight
    assert float((gmm.weights * (gmm.means - 2.0).abs()).sum().detach()) < 0.2
    assert gmm.logits.grad is not None


def test_make_coefficients_by_name_and_channel_check():
    assert isinstance(make_coefficients("integer", 2, u=4), IntegerGrid)
    with pytest.raises(ValueError, match="channels"):
        make_coefficients(Normal(2), 3)
    with pytest.raises(ValueError, match="coefficients must be one of"):
        make_coefficients("cauchy", 1)


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_channels_must_be_positive_integers(bad):
    with pytest.raises(ValueError, match="n_channels"):
        Normal(bad)


def test_normal_rejects_non_positive_sigma():
    with pytest.raises(ValueError, match="sigma"):
        Normal(1, sigma=0.0)
    with pytest.raises(ValueError, match="NaN"):
        Normal(1, mu=math.nan)
