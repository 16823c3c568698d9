import math

import pytest
import torch

from liegnn.algebra import so
from liegnn.discovery import LieGAN, masks


def _ring(n=2000, seed=0):
    """Points on a noisy circle: a rotation-invariant density in the plane."""
    g = torch.Generator().manual_seed(seed)
    theta = torch.rand(n, generator=g) * 2 * math.pi
    r = 1 + 0.1 * torch.randn(n, generator=g)
    return torch.stack([r * theta.cos(), r * theta.sin()], 1)


def _shell(n=3000, seed=0):
    """Points on a noisy unit sphere: an isotropic density in R³."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(n, 3, generator=g)
    return v / v.norm(dim=1, keepdim=True) * (1 + 0.1 * torch.randn(n, 1, generator=g))


def _c7(n=20000, seed=0, k=7):
    """The paper's C_k task: y = x3 / (1 + mod(atan2(x2, x1), 2π/k))."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = x[:, 2] / (1 + torch.remainder(torch.atan2(x[:, 1], x[:, 0]), 2 * math.pi / k))
    return x, y[:, None]


def _small(**options):
    """A fast configuration for tests: a narrower discriminator, tuned learning rates."""
    defaults = dict(hidden=128, lr_g=1e-2, lr_d=1e-3, identity_weight=0.1, progress=False)
    defaults.update(options)
    return defaults


# -- end to end ----------------------------------------------------------------------------------


def test_ring_distribution_discovers_so2():
    fit = _small()
    progress = fit.pop("progress")
    gan = LieGAN(2, seed=0, **fit)
    res = gan.fit(_ring(), epochs=4, steps_per_epoch=50, truth=so(2), progress=progress)
    assert res.compare(so(2))["subspace_similarity"] >= 0.99
    assert res.history["subspace_similarity"][-1] >= 0.99  # history tracks the truth


def test_isotropic_shell_with_three_channels_spans_so3():
    gan = LieGAN(3, 3, hidden=128, lr_g=2e-2, lr_d=1e-3, identity_weight=1.0, seed=0)
    res = gan.fit(_shell(), epochs=8, steps_per_epoch=50, progress=False)
    assert res.compare(so(3))["subspace_similarity"] >= 0.98
    # three independent directions, not one generator found three times
    assert torch.linalg.matrix_rank(res.generators.flatten(1), rtol=0.1) == 3


# -- determinism and resuming -----------------------------------------------------------------


def _tiny_run(seed=0, **fit):
    gan = LieGAN(2, seed=seed, hidden=16, batch_size=32)
    return gan.fit(_ring(256), epochs=fit.pop("epochs", 3), progress=False, **fit)


def test_same_seed_gives_identical_generators():
    a, b = _tiny_run(seed=3), _tiny_run(seed=3)
    assert torch.equal(a.generators, b.generators)
    assert a.history["loss_d"] == b.history["loss_d"]
    assert not torch.equal(a.generators, _tiny_run(seed=4).generators)


def test_resume_after_interruption_gives_the_uninterrupted_result(tmp_path):
    full = _tiny_run(epochs=4)
    ckpt = tmp_path / "run.ckpt"

    def interrupt(epoch, row):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _tiny_run(epochs=4, checkpoint=ckpt, callback=interrupt)
    resumed = _tiny_run(epochs=4, resume=ckpt, checkpoint=ckpt)
    assert torch.equal(resumed.generators, full.generators)
    assert resumed.history["loss_d"] == full.history["loss_d"]
    assert torch.load(ckpt, weights_only=True)["epoch"] == 4


def test_resume_refuses_other_settings_or_data(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    _tiny_run(epochs=1, checkpoint=ckpt)
    with pytest.raises(ValueError, match="different settings.*lr_g"):
        LieGAN(2, hidden=16, batch_size=32, lr_g=0.5).fit(
            _ring(256), epochs=2, resume=ckpt, progress=False
        )
    with pytest.raises(ValueError, match="different training data"):
        LieGAN(2, hidden=16, batch_size=32).fit(
            _ring(256, seed=1), epochs=2, resume=ckpt, progress=False
        )


def test_callback_can_stop_training_early():
    seen = []
    res = _tiny_run(epochs=10, callback=lambda e, row: seen.append(e) or e == 2)
    assert seen == [1, 2] and len(res.history["loss_d"]) == 2


# -- data interfaces ------------------------------------------------------------------------------


def test_trajectories_are_acted_on_step_by_step_with_flat_input():
    x = torch.randn(64, 4 * 6)
    gan = LieGAN(4, mask=masks.block_diagonal(2, 2), hidden=16, rep_y="standard")
    res = gan.fit(x, torch.randn(64, 4 * 6), steps=6, epochs=1, progress=False)
    assert res.generators.shape == (1, 4, 4)
    assert float((res.generators * (1 - masks.block_diagonal(2, 2))).abs().max()) == 0.0


def test_label_embedding_discriminator_is_chosen_for_integer_labels():
    gan = LieGAN(4, 2, hidden=16)
    gan.fit(torch.randn(40, 2, 4), torch.randint(0, 2, (40,)), epochs=1, progress=False)
    assert type(gan.discriminator).__name__ == "EmbeddingDiscriminator"


def test_point_clouds_with_padding_use_a_set_discriminator():
    x = torch.randn(40, 6, 4)
    x[..., 3] = 1.0  # homogeneous coordinate
    mask = torch.rand(40, 6) > 0.3
    mask[:, 0] = True
    gan = LieGAN(4, 2, mask=masks.affine(3), hidden=16)
    res = gan.fit(x, point_mask=mask, features=torch.randn(40, 6, 5), epochs=1, progress=False)
    assert type(gan.discriminator).__name__ == "DeepSetsDiscriminator"
    assert float(res.generators[:, 3].abs().max()) == 0.0  # affine: last row stays zero


def test_complex_data_with_complex_generators_runs():
    z = torch.randn(64, 4, dtype=torch.complex64)
    res = LieGAN(4, 3, complex=True, hidden=16).fit(z, epochs=1, progress=False)
    assert res.generators.is_complex() and res.generators.shape == (3, 4, 4)


def test_subgroup_discovery_puts_mixture_peaks_at_multiples_of_2pi_over_7():
    """Sec. 4.2: with L = J_z fixed, a learnable mixture γ moves to the angles of C₇."""
    from liegnn.discovery import GaussianMixture

    x, y = _c7(8000)
    Jz = torch.zeros(1, 3, 3)
    Jz[0, 1, 0], Jz[0, 0, 1] = 1.0, -1.0
    start = torch.tensor([0.4, 1.3, 2.2, 3.1])  # each ~0.4 rad from the nearest multiple
    gamma = GaussianMixture(1, n_components=4, means=start, sigma=0.1)
    gan = LieGAN(
        3,
        init=Jz,
        learn_generators=False,
        coefficients=gamma,
        identity_weight=0.0,
        hidden=128,
        fourier_features=64,
        fourier_scale=2.0,
        batch_size=128,
        lr_g=1e-2,
        lr_d=2e-3,
        seed=0,
    )
    res = gan.fit(x, y, epochs=8, steps_per_epoch=50, progress=False)
    means, sigma = res.coefficients["means"][0], res.coefficients["log_sigma"][0].exp()
    step = 2 * math.pi / 7
    off = (means / step - torch.round(means / step)).abs() * step
    assert off.max() < 0.1, (means, off)
    assert sigma.median() < 0.1  # the peaks sharpen


def test_moving_average_of_the_generator_is_the_result():
    gan = LieGAN(2, seed=0, hidden=16, batch_size=32, ema=0.9)
    res = gan.fit(_ring(256), epochs=3, progress=False)
    G, avg = gan.generator.generators.detach(), gan.generator_average.module.generators
    assert torch.equal(res.generators, avg)
    assert not torch.equal(res.generators, G)  # it trails the last iterate
    assert torch.linalg.vector_norm(res.generators - G) < torch.linalg.vector_norm(G)


def test_resume_restores_the_moving_average(tmp_path):
    full = LieGAN(2, seed=0, hidden=16, batch_size=32, ema=0.9)
    ref = full.fit(_ring(256), epochs=3, progress=False)
    ckpt = tmp_path / "run.ckpt"
    first = LieGAN(2, seed=0, hidden=16, batch_size=32, ema=0.9)
    first.fit(_ring(256), epochs=1, checkpoint=ckpt, progress=False)
    second = LieGAN(2, seed=0, hidden=16, batch_size=32, ema=0.9)
    res = second.fit(_ring(256), epochs=3, resume=ckpt, progress=False)
    assert torch.equal(res.generators, ref.generators)


def test_sparsity_regularizer_acts_from_its_start_epoch_on():
    fit = dict(epochs=4, steps_per_epoch=25, progress=False)
    opts = dict(hidden=32, lr_g=1e-2, lr_d=1e-3, identity_weight=0.1, seed=0)
    plain = LieGAN(2, **opts).fit(_ring(), **fit).generators
    late = LieGAN(2, **opts, sparsity_weight=1.0, sparsity_start=4).fit(_ring(), **fit).generators
    assert torch.equal(late, plain)  # never switched on within 4 epochs
    on = LieGAN(2, **opts, sparsity_weight=0.05, sparsity_start=2).fit(_ring(), **fit).generators
    assert on.abs().sum() < 0.8 * plain.abs().sum()  # the L1 prior shrinks the generator


def test_discriminator_uses_its_own_adam_betas():
    gan = LieGAN(2, hidden=16, betas=(0.5, 0.999), betas_d=(0.8, 0.99))
    assert gan.config()["betas"] == [0.5, 0.999] and gan.config()["betas_d"] == [0.8, 0.99]
    assert LieGAN.paper(2).config()["betas_d"] == [0.9, 0.999]  # the paper code's D: Adam's
    assert LieGAN(2).config()["betas_d"] == [0.5, 0.999]  # the defaults: β₁ = 0.5 for D too


def test_subgroup_discovery_learns_only_the_coefficients():
    gan = LieGAN(2, init=so(2), learn_generators=False, coefficients="gmm", hidden=16)
    res = gan.fit(_ring(128), epochs=1, progress=False)
    assert torch.equal(res.generators, so(2).float())
    assert set(res.coefficients) == {"means", "log_sigma", "logits"}


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x, y, options, match",
    [
        (torch.full((10, 2), float("nan")), None, {}, "x contains NaN"),
        (torch.tensor([[1.0, float("inf")]] * 10), None, {}, "x contains NaN or Inf"),
        (torch.randn(10, 3), None, {}, r"x must have shape \(N, 2\)"),
        (torch.randn(10, 2), torch.randn(9, 1), {}, "y has 9 samples but x has 10"),
        (
            torch.randn(10, 2),
            torch.randn(10, 1),
            {"discriminator": "embedding"},
            "labels y must be integers",
        ),
        (torch.randn(10, 2), torch.full((10, 1), float("nan")), {}, "y contains NaN"),
        (torch.randn(10, 2), None, {"rep_y": "standard"}, "no y was given"),
    ],
)
def test_bad_data_is_rejected_before_training(x, y, options, match):
    gan = LieGAN(2, hidden=16, **options)
    with pytest.raises(ValueError, match=match):
        gan.fit(x, y, epochs=1, progress=False)
    assert gan.discriminator is None  # nothing was built or trained


def test_bad_point_mask_is_rejected():
    with pytest.raises(ValueError, match="point_mask must have shape"):
        LieGAN(2).fit(
            torch.randn(5, 3, 2), point_mask=torch.ones(5, 4, dtype=torch.bool), progress=False
        )


@pytest.mark.parametrize(
    "args, options, match",
    [
        ((2, 0), {}, "n_channels"),
        ((2,), {"mask": torch.ones(3, 3)}, "mask must have shape"),
        ((2,), {"mask": torch.ones(2, 2, 2), "n_channels": 1}, "mask must have shape"),
        ((2,), {"identity_weight": -1.0}, "identity_weight"),
        ((2,), {"batch_size": 0}, "batch_size"),
        ((2,), {"coefficients": "cauchy"}, "coefficients must be one of"),
        ((2,), {"channel_similarity": "trace"}, "channel_similarity"),
        ((2,), {"sparsity_weight": -0.1}, "sparsity_weight"),
        ((2,), {"sparsity_norm": 0.0}, "sparsity_norm"),
        ((2,), {"ema": 1.0}, "ema must lie"),
    ],
)
def test_bad_configuration_is_rejected(args, options, match):
    if "n_channels" in options:
        args = (args[0], options.pop("n_channels"))
    with pytest.raises(ValueError, match=match):
        LieGAN(*args, **options)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fit_on_cuda_matches_cpu_shapes_and_finds_so2():
    fit = _small()
    fit.pop("progress")
    res = LieGAN(2, device="cuda", **fit).fit(_ring(), epochs=4, steps_per_epoch=50, progress=False)
    assert res.generators.device.type == "cpu"
    assert res.compare(so(2))["subspace_similarity"] >= 0.99
