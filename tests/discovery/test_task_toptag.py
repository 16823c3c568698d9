"""The top-tagging discovery task: its data (two leading constituents, labels, scale) and check."""

import numpy as np
import pytest
import torch

pytest.importorskip("tables")

from liegnn.algebra.bases import lorentz, minkowski_metric, so  # noqa: E402
from liegnn.datasets.toptag_files import Jets, write_reference  # noqa: E402
from liegnn.discovery import LieGAN  # noqa: E402
from liegnn.discovery.result import DiscoveryResult  # noqa: E402
from liegnn.discovery.tasks import run_task, toptag  # noqa: E402


def massless_jets(n: int = 40, seed: int = 0) -> Jets:
    """Balanced jets of massless constituents around a random axis, sorted by pT."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 12, size=n)
    momenta = np.zeros((n, 200, 4), np.float32)
    for i, c in enumerate(counts):
        p = rng.normal(size=(c, 3)) * [5.0, 5.0, 5.0] + [100.0, 0.0, 50.0]
        p = p[np.argsort(-np.hypot(p[:, 0], p[:, 1]))]
        momenta[i, :c, 1:] = p
        momenta[i, :c, 0] = np.linalg.norm(p, axis=1)
    labels = np.arange(n) % 2
    return Jets(momenta, counts.astype(np.int64), labels.astype(np.int64))


@pytest.fixture
def jet_file(tmp_path, monkeypatch):
    path = tmp_path / "jets.h5"
    jets = massless_jets()
    write_reference(path, jets)
    monkeypatch.setenv(toptag.DATA_ENV, str(path))
    monkeypatch.setenv("LIEGNN_CACHE", str(tmp_path / "cache"))
    return path, jets


def test_load_gives_two_leading_four_momenta_scaled_by_the_leading_energy(jet_file):
    _, jets = jet_file
    data = toptag.load(0, True)
    assert data.x.shape == (40, 2, 4) and data.x.dtype == torch.float32
    assert data.y.dtype == torch.int64 and data.y.sum() == 20  # balanced labels
    scale = data.info["energy_scale_gev"]
    assert data.x[:, 0, 0].mean().item() == pytest.approx(1.0, rel=1e-5)
    raw = torch.from_numpy(jets.momenta[:, :2])
    raw[torch.from_numpy(jets.n_constituents) < 2, 1] = 0.0
    torch.testing.assert_close(data.x * scale, raw, rtol=1e-5, atol=1e-3)
    # massless constituents stay on the light cone after the common scaling
    p2 = data.x[..., 0] ** 2 - (data.x[..., 1:] ** 2).sum(-1)
    assert p2.abs().max() < 1e-4


def test_truth_is_the_lorentz_algebra(jet_file):
    L = toptag.load(0, True).truth
    eta = minkowski_metric(dtype=torch.float64)
    assert L.shape == (6, 4, 4)
    assert (L.mT @ eta + eta @ L).abs().max() < 1e-12


def test_missing_user_file_raises(tmp_path, monkeypatch):
    monkeypatch.setenv(toptag.DATA_ENV, str(tmp_path / "nothing.h5"))
    with pytest.raises(ValueError, match="no jet file"):
        toptag.load(0, True)


def test_bad_energy_scale_raises(jet_file):
    with pytest.raises(ValueError, match="energy scale"):
        toptag.toptag_inputs(toptag.load_jets(0, 10), scale=0.0)


def mixed(L: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """An invertible recombination of the channels of L: the same span in another basis."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(L.shape[0], L.shape[0], generator=g, dtype=L.dtype)
    return torch.einsum("ij,jkl->ikl", A, L)


def test_check_finds_minkowski_metric_for_lorentz_plus_scaling(jet_file):
    basis = torch.cat([lorentz(dtype=torch.float64), torch.eye(4, dtype=torch.float64)[None]])
    noise = 1e-3 * torch.randn(7, 4, 4, generator=torch.Generator().manual_seed(1))
    result = DiscoveryResult(mixed(basis) + noise.double())
    out = toptag.check(result, toptag.load(0, True))
    assert out["metric_cosine_minkowski"] > 0.999
    assert out["metric_cosine_euclidean"] < 0.6
    assert out["span_share_in_lorentz_plus_scaling"] > 0.999
    assert out["scaling_in_span"] > 0.999
    assert out["subspace_similarity_lorentz_plus_scaling"] > 0.999
    np.testing.assert_allclose(out["metric"], minkowski_metric().numpy(), atol=0.02)


def test_check_of_rotations_alone_is_not_minkowski(jet_file):
    # so(4) preserves the Euclidean metric: the check must not report Minkowski
    out = toptag.check(DiscoveryResult(mixed(so(4, dtype=torch.float64))), toptag.load(0, True))
    assert out["metric_cosine_euclidean"] > 0.999
    assert out["metric_cosine_minkowski"] < 0.6
    assert out["scaling_in_span"] < 1e-6
    assert out["subspace_similarity_lorentz_plus_scaling"] < 0.6  # only the rotations are shared


def test_traceless_removes_the_scaling_only():
    L = lorentz(dtype=torch.float64)
    torch.testing.assert_close(toptag.traceless(L + 3 * torch.eye(4, dtype=L.dtype)), L)


def test_select_by_metric_picks_the_span_that_preserves_a_metric_and_skips_collapsed_runs():
    from liegnn.algebra.bases import scaling

    g = torch.Generator().manual_seed(0)
    L = torch.cat([lorentz(dtype=torch.float64), scaling(4, dtype=torch.float64)])
    noise = torch.randn(7, 4, 4, generator=g, dtype=torch.float64)
    hist = {"identity_reg": [0.7] * 3, "loss_d": [0.69] * 3}

    def run(basis, history=hist):
        return DiscoveryResult(basis, history=dict(history))

    exact, noisy, worse = run(L), run(L + 0.05 * noise), run(L + 0.3 * noise)
    assert toptag.select_by_metric([worse, noisy, exact]) is exact
    assert toptag.select_by_metric([worse, noisy]) is noisy
    flat = run(L, history={"identity_reg": [1.0] * 3, "loss_d": [0.69] * 3})  # g = I: dropped
    assert toptag.select_by_metric([flat, noisy]) is noisy
    assert toptag.TASKS["toptag"].select is toptag.select_by_metric
    with pytest.raises(ValueError, match="at least one"):
        toptag.select_by_metric([])


def test_recipe_fits_seven_generators_on_the_task_data(jet_file):
    task = toptag.TASKS["toptag"]
    data = toptag.load(0, True)
    recipe = dict(task.recipe)
    n, c = recipe.pop("n"), recipe.pop("n_channels")
    result = LieGAN(n, c, **recipe, seed=0).fit(
        data.x, data.y, epochs=task.quick_epochs, steps_per_epoch=5, progress=False
    )
    assert result.generators.shape == (7, 4, 4)
    assert torch.isfinite(result.generators).all()
    assert set(toptag.check(result, data)) >= {"metric", "metric_cosine_minkowski"}


def test_quick_load_generates_balanced_pythia_jets(tmp_path, monkeypatch):
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    monkeypatch.delenv(toptag.DATA_ENV, raising=False)
    monkeypatch.setenv("LIEGNN_CACHE", str(tmp_path))
    monkeypatch.setattr(toptag, "QUICK_JETS", 20)  # a handful of jets: a few seconds
    data = toptag.load(0, True)
    assert data.x.shape == (20, 2, 4) and data.y.sum() == 10
    # hadrons are light against jet energies: constituents lie near the light cone
    p2 = data.x[..., 0] ** 2 - (data.x[..., 1:] ** 2).sum(-1)
    assert (p2.abs() < 1e-3 * data.x[..., 0] ** 2 + 1e-6).all()
    assert 100 < data.info["energy_scale_gev"] < 1000


@pytest.mark.slow
def test_toptag_task_on_generated_jets_finds_lorentz_and_minkowski(tmp_path, monkeypatch):
    """docs/results.md §4: ``liegnn discover toptag`` on its 2000 generated jets (Pythia 8 +
    FastJet, generation seed 0; 4 seeds × 60 × 16 steps, the run of the smallest metric
    residual) contains
    so(1, 3) at subspace similarity ≥ 0.959 and its metric has cosine ≥ 0.998 with η. Measured
    2026-11-29: 0.956 / 0.876 / 0.9595 / 0.948 for seeds 0–3, seed 2 picked, cosine 0.9990 (J = I:
    0.497). Generating the jets is most of the time (2 worker processes)."""
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    monkeypatch.delenv(toptag.DATA_ENV, raising=False)
    monkeypatch.setenv("LIEGNN_CACHE", str(tmp_path / "cache"))
    summary = run_task("toptag", out=tmp_path / "out", progress=False)
    assert summary["data"]["n_jets"] == toptag.N_JETS
    assert summary["truth"]["subspace_similarity"] >= 0.959
    assert summary["check"]["metric_cosine_minkowski"] >= 0.998
    assert summary["check"]["metric_cosine_euclidean"] < 0.6


def test_an_epoch_is_one_pass_over_the_tuned_jets_on_any_data_size():
    """The recipe was tuned on 2000 jets at batch 128 (16 batches per epoch); larger samples
    keep that step budget instead of the generic cap of 50 (3000 steps: the span drifts off
    so(1, 3), see the slow test on 8000 jets)."""
    from liegnn.discovery.settings import OptimSettings
    from liegnn.discovery.tasks import discovery_task

    batch = toptag.RECIPE.get("batch_size", OptimSettings().batch_size)
    assert discovery_task("toptag").steps_per_epoch == -(-toptag.N_JETS // batch)


@pytest.mark.slow
def test_toptag_task_on_8000_generated_jets_stays_near_lorentz(tmp_path, monkeypatch):
    """The task on 4× its jets (generation seed 0, Pythia 8 + FastJet), 960 steps per seed.
    Measured 2026-11-29: so(1, 3) in the span 0.929 / 0.909 / 0.964 / 0.915 for seeds 0–3
    (mean 0.929), seed 2 picked by the metric residual (0.269), cosine of J with η 0.9973.
    With the generic 50 steps per epoch on the same jets the spans drift off so(1, 3) after
    their peak: 0.826 / 0.850 / 0.972 / 0.769 (mean 0.854), cosine 0.9915."""
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    monkeypatch.delenv(toptag.DATA_ENV, raising=False)
    monkeypatch.setenv("LIEGNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(toptag, "N_JETS", 8000)
    summary = run_task("toptag", out=tmp_path / "out", progress=False)
    assert summary["data"]["n_jets"] == 8000
    per_seed = [run["subspace_similarity"] for run in summary["runs"]]
    assert sum(per_seed) / len(per_seed) >= 0.89
    assert summary["check"]["metric_cosine_minkowski"] >= 0.99
    assert summary["check"]["metric_cosine_euclidean"] < 0.6
