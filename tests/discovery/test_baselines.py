import math

import pytest
import torch

from liegnn.algebra import so
from liegnn.discovery import AugerinoPlus, SymmetryGAN, masks
from liegnn.discovery.baselines import matrix_log


def _ring(n=2000, seed=0):
    g = torch.Generator().manual_seed(seed)
    theta = torch.rand(n, generator=g) * 2 * math.pi
    r = 1 + 0.1 * torch.randn(n, generator=g)
    return torch.stack([r * theta.cos(), r * theta.sin()], 1)


def test_symmetrygan_learns_one_rotation_of_the_ring():
    gan = SymmetryGAN(2, init=torch.eye(2), hidden=64, lr_g=1e-2, lr_d=1e-3, seed=0)
    res = gan.fit(_ring(), epochs=4, steps_per_epoch=50, progress=False)
    assert res.elements.shape == (1, 2, 2) and res.generators.shape == (1, 2, 2)
    g = res.elements[0].double()
    # pushed away from the identity onto a rotation (up to the ring's radial noise in scale)
    assert float((g - torch.eye(2, dtype=g.dtype)).abs().max()) > 0.5
    assert res.compare(so(2))["channel_cosine"][0] > 0.95  # log g ∝ the rotation generator


def test_symmetrygan_exp_parameterisation_reports_its_exponent():
    gan = SymmetryGAN(2, parameterization="exp", hidden=16, init=0.5 * so(2)[0])
    res = gan.fit(_ring(128), epochs=1, progress=False)
    assert torch.allclose(torch.linalg.matrix_exp(res.generators[0]), res.elements[0], atol=1e-5)


def test_matrix_log_inverts_the_exponential_of_a_rotation():
    L = 0.7 * so(2, dtype=torch.float64)
    assert torch.allclose(matrix_log(torch.linalg.matrix_exp(L)), L, atol=1e-10)


def test_augerino_plus_widens_towards_the_invariance_of_a_radial_target():
    x = _ring(4000) * (1 + torch.rand(4000, 1))
    y = x.norm(dim=1, keepdim=True)  # invariant under rotations only
    aug = AugerinoPlus(2, hidden=64, lr=1e-2, seed=0)
    res = aug.fit(x, y, epochs=6, steps_per_epoch=50, truth=so(2), progress=False)
    assert res.history["subspace_similarity"][-1] >= 0.9
    assert res.config["method"] == "AugerinoPlus"


def test_augerino_plus_classification_and_trajectory_interfaces():
    aug = AugerinoPlus(4, 2, hidden=16)
    res = aug.fit(torch.randn(50, 2, 4), torch.randint(0, 3, (50,)), epochs=1, progress=False)
    assert res.generators.shape == (2, 4, 4)
    nb = AugerinoPlus(8, mask=masks.nbody_blocks(2), rep_y="standard", hidden=16)
    res = nb.fit(torch.randn(40, 5, 8), torch.randn(40, 5, 8), epochs=1, progress=False)
    assert float((res.generators * (1 - masks.nbody_blocks(2))).abs().max()) == 0.0


def test_augerino_plus_resume_matches_uninterrupted_run(tmp_path):
    x, y = torch.randn(128, 2), torch.randn(128, 1)
    full = AugerinoPlus(2, hidden=16, batch_size=32).fit(x, y, epochs=3, progress=False)
    ckpt = tmp_path / "aug.ckpt"
    AugerinoPlus(2, hidden=16, batch_size=32).fit(x, y, epochs=1, checkpoint=ckpt, progress=False)
    resumed = AugerinoPlus(2, hidden=16, batch_size=32).fit(
        x, y, epochs=3, resume=ckpt, progress=False
    )
    assert torch.equal(full.generators, resumed.generators)


def test_baselines_reject_bad_input():
    with pytest.raises(ValueError, match="needs targets y"):
        AugerinoPlus(2).fit(torch.randn(10, 2), None, progress=False)
    with pytest.raises(ValueError, match="y has 9 samples"):
        AugerinoPlus(2).fit(torch.randn(10, 2), torch.randn(9, 1), progress=False)
    with pytest.raises(ValueError, match="one group element"):
        SymmetryGAN(2, n_channels=3)
    with pytest.raises(ValueError, match="x contains NaN"):
        SymmetryGAN(2).fit(torch.full((10, 2), float("nan")), progress=False)
