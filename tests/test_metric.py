import math
import warnings

import numpy as np
import pytest
import torch

import liegnn.metric as metric_module
from liegnn.algebra import (
    direct_sum,
    lorentz,
    minkowski_metric,
    replicate,
    scaling,
    so,
    so_pq,
    sp,
    su2,
)
from liegnn.metric import (
    MetricSolution,
    NoInvariantMetricError,
    NoInvariantMetricWarning,
    metric_residual,
    metric_similarity,
    project_metric,
    solve_metric,
)

F64 = torch.float64
ETA = minkowski_metric(dtype=F64)


def _well_conditioned(seed: int, n: int = 4, max_cond: float = 10.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    while True:
        P = torch.randn(n, n, generator=g, dtype=F64)
        if torch.linalg.cond(P) < max_cond:
            return P


def test_lorentz_metric_is_exactly_minkowski():
    J = solve_metric(lorentz(dtype=F64))
    assert J.dtype == F64
    assert (J - ETA).abs().max() < 1e-12


def test_so_n_metric_is_identity_and_so_22_metric_is_eta():
    assert (solve_metric(so(5, dtype=F64)) - torch.eye(5, dtype=F64)).abs().max() < 1e-12
    eta22 = minkowski_metric(2, 2, dtype=F64)
    assert (solve_metric(so_pq(2, 2, dtype=F64)) - eta22).abs().max() < 1e-12


@pytest.mark.parametrize("seed", range(5))
def test_sign_rule_gives_eta_not_minus_eta_for_noisy_lorentz(seed):
    g = torch.Generator().manual_seed(seed)
    L = lorentz(dtype=F64) + 1e-3 * torch.randn(6, 4, 4, generator=g, dtype=F64)
    J = solve_metric(L)
    assert (J - ETA).abs().max() < 1e-2


@pytest.mark.parametrize("seed", range(6))
def test_conjugated_noisy_lorentz_recovers_transformed_minkowski(seed):
    P = _well_conditioned(seed)
    P_inv = torch.linalg.inv(P)
    g = torch.Generator().manual_seed(100 + seed)
    L = P @ lorentz(dtype=F64) @ P_inv + 1e-3 * torch.randn(6, 4, 4, generator=g, dtype=F64)
    info = solve_metric(L, return_info=True)
    assert info.nullity == 1
    assert metric_similarity(info.J, P_inv.T @ ETA @ P_inv) >= 0.999
    assert info.residual < 1e-2


def test_info_reports_residual_spectrum_and_nullity():
    info = solve_metric(lorentz(dtype=F64), return_info=True)
    assert isinstance(info, MetricSolution)
    assert info.nullity == 1 and info.metrics.shape == (1, 4, 4)
    assert info.residual < 1e-14
    s = info.singular_values
    assert s.shape == (10,) and torch.all(s[1:] >= s[:-1])
    assert s[0] < 1e-14 and s[1] > 0.1  # one null direction, then an O(1) gap
    assert s[0] < info.cut < s[1]
    assert info.method == "svd"


def test_singular_values_are_residuals_of_their_singular_vectors():
    P = _well_conditioned(0)
    L = P @ so(4, dtype=F64) @ torch.linalg.inv(P)
    L = L + 0.05 * torch.randn(6, 4, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    with pytest.warns(NoInvariantMetricWarning):
        info = solve_metric(L, return_info=True, tol=0.0)  # nothing null: J = smallest vector
    assert info.residual == pytest.approx(float(info.singular_values[0]), rel=1e-10)


def test_so2_on_r2_plus_r_has_two_metrics():
    L = direct_sum(so(2, dtype=F64), torch.zeros(1, 1, 1, dtype=F64))[:1]
    info = solve_metric(L, return_info=True)
    assert info.nullity == 2
    expected = torch.stack([torch.diag(torch.tensor(d, dtype=F64)) for d in ([1, 1, 0], [0, 0, 1])])
    assert (info.metrics - expected).abs().max() < 1e-12
    with pytest.warns(UserWarning, match="2 independent metrics"):
        solve_metric(L)


def test_replicated_rotation_has_the_gram_metrics_of_two_bodies():
    info = solve_metric(replicate(so(3, dtype=F64), 2), return_info=True)
    assert info.nullity == 3  # ⟨a, a⟩, ⟨b, b⟩, ⟨a, b⟩
    assert all(metric_residual(replicate(so(3), 2), M) < 1e-12 for M in info.metrics)


def test_exact_and_noise_level_null_directions_are_both_kept():
    # one rotation of two planes, exact on the first, noisy on the second: the invariant
    # diag(I, 0) stays exact while the other three are lifted to the noise level
    g = torch.Generator().manual_seed(0)
    noisy = so(2, dtype=F64) + 1e-4 * torch.randn(1, 2, 2, generator=g, dtype=F64)
    L = direct_sum(so(2, dtype=F64), noisy)
    L = L[0:1] + L[1:2]  # one generator rotating both planes at once
    info = solve_metric(L, return_info=True)
    s = info.singular_values
    assert s[0] < 1e-12 and 1e-7 < s[info.nullity - 1] < 1e-3
    assert info.nullity == 4  # diag(I, 0), diag(0, I) and the two mixed rotation invariants


def test_scaling_generator_preserves_no_metric():
    with pytest.warns(NoInvariantMetricWarning, match="preserve no metric"):
        info = solve_metric(scaling(3, dtype=F64), return_info=True)
    assert info.nullity == 0 and info.metrics.shape == (0, 3, 3)
    assert info.residual > 0.5
    with pytest.raises(NoInvariantMetricError):
        solve_metric(scaling(3, dtype=F64), strict=True)


def test_symplectic_algebra_preserves_no_symmetric_metric():
    with pytest.warns(NoInvariantMetricWarning):
        solve_metric(sp(2, dtype=F64))


def test_float_tol_counts_relative_singular_values():
    g = torch.Generator().manual_seed(0)
    L = lorentz(dtype=F64) + 1e-3 * torch.randn(6, 4, 4, generator=g, dtype=F64)
    assert solve_metric(L, return_info=True, tol=1e-2).nullity == 1
    with pytest.warns(NoInvariantMetricWarning, match="tol"):
        assert solve_metric(L, return_info=True, tol=1e-6).nullity == 0


def test_su2_hermitian_form_is_identity():
    info = solve_metric(su2(), return_info=True)
    assert info.J.is_complex() and info.nullity == 1
    assert (info.J - torch.eye(2, dtype=info.J.dtype)).abs().max() < 1e-12


def test_gram_path_agrees_with_svd_path(monkeypatch):
    P = _well_conditioned(1)
    L = P @ lorentz(dtype=F64) @ torch.linalg.inv(P)
    J_svd = solve_metric(L)
    monkeypatch.setattr(metric_module, "_SVD_MAX_ENTRIES", 0)
    J_gram = solve_metric(L)
    assert (J_svd - J_gram).abs().max() < 1e-8


def test_gradient_method_gets_close_to_minkowski():
    info = solve_metric(lorentz(dtype=F64), method="gradient", steps=500, lr=0.05, return_info=True)
    assert info.method == "gradient"
    assert metric_similarity(info.J, "minkowski") >= 0.999
    assert info.J[0, 0] > 0


def test_gradient_method_rejects_complex_generators():
    with pytest.raises(ValueError, match="complex"):
        solve_metric(su2(), method="gradient")


def test_float32_and_numpy_input():
    J = solve_metric(lorentz(dtype=torch.float32))
    assert J.dtype == torch.float32 and (J - ETA.float()).abs().max() < 1e-6
    assert (solve_metric(np.asarray(lorentz(dtype=F64))) - ETA).abs().max() < 1e-12


def test_metric_similarity_and_residual():
    assert metric_similarity(ETA, "minkowski") == pytest.approx(1.0)
    assert metric_similarity(-ETA, "minkowski") == pytest.approx(1.0)
    assert metric_similarity(ETA, "euclidean") == pytest.approx(0.5)
    assert metric_residual(lorentz(dtype=F64), ETA) == 0.0
    assert metric_residual(lorentz(dtype=F64), torch.eye(4, dtype=F64)) > 0.1


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="square"):
        solve_metric(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="NaN"):
        solve_metric(torch.full((1, 3, 3), float("nan")))
    with pytest.raises(ValueError, match="shape"):
        solve_metric(torch.zeros(2, 2, 3, 3))
    with pytest.raises(ValueError, match="all zero"):
        solve_metric(torch.zeros(1, 3, 3))
    with pytest.raises(ValueError, match="tol"):
        solve_metric(lorentz(), tol=-1.0)
    with pytest.raises(ValueError, match="method"):
        solve_metric(lorentz(), method="adam")
    with pytest.raises(ValueError, match="shape"):
        metric_similarity(ETA, torch.eye(3))
    with pytest.raises(ValueError, match="reference"):
        metric_similarity(ETA, "riemann")
    with pytest.raises(ValueError, match="shape"):
        metric_residual(lorentz(), torch.eye(3))


def test_no_warning_for_a_single_exact_metric():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solve_metric(lorentz(dtype=F64))


def test_metric_does_not_depend_on_the_scale_of_one_channel():
    # issue 13: a channel 100x larger than the others gave 4 "metrics" and cosine 0.707 with η
    L = lorentz(dtype=F64)
    L[3] *= 100
    info = solve_metric(L, return_info=True)
    assert info.nullity == 1
    assert (info.J - ETA).abs().max() < 1e-12


def test_metric_does_not_depend_on_the_scale_of_each_channel():
    scales = torch.tensor([1e-3, 2.0, 50.0, 1.0, 7e4, 0.3], dtype=F64)[:, None, None]
    L = lorentz(dtype=F64) * scales
    info = solve_metric(L, return_info=True)
    reference = solve_metric(lorentz(dtype=F64), return_info=True)
    assert info.nullity == 1 and (info.J - ETA).abs().max() < 1e-12
    assert torch.allclose(info.singular_values, reference.singular_values, atol=1e-12)
    J = ETA + 0.1
    assert metric_residual(L, J, normalize=True) == pytest.approx(
        metric_residual(lorentz(dtype=F64), J), rel=1e-10
    )


@pytest.mark.parametrize("scale", [1e-150, 1e160, 1e200])
def test_huge_and_tiny_generators_give_minkowski(scale):
    # issue 13: 1e160 gave nullity 0, 1e200 a NaN residual
    info = solve_metric(lorentz(dtype=F64) * scale, return_info=True)
    assert info.nullity == 1
    assert (info.J - ETA).abs().max() < 1e-12
    assert 0 <= info.residual < 1e-12


def test_discrete_generators_keep_only_the_metrics_they_preserve():
    L = replicate(so(3, dtype=F64), 2)  # ⟨a, a⟩, ⟨b, b⟩, ⟨a, b⟩ without discrete elements
    flip = torch.diag(torch.tensor([1.0, 1, 1, -1, -1, -1], dtype=F64))  # b ↦ −b
    info = solve_metric(L, discrete_generators=flip, return_info=True)
    assert info.nullity == 2  # ⟨a, b⟩ changes sign under the flip
    a, b = [1.0] * 3 + [0.0] * 3, [0.0] * 3 + [1.0] * 3
    expected = torch.stack([torch.diag(torch.tensor(d, dtype=F64)) for d in (a, b)])
    assert (info.metrics - expected).abs().max() < 1e-12


def test_invariant_forms_cut_is_the_auto_cut_of_its_relative_singular_values():
    from liegnn.metric import invariant_forms
    from liegnn.nullspace import auto_cut
    from liegnn.reps import V

    g = torch.Generator().manual_seed(0)
    L = lorentz(dtype=F64) + 1e-4 * torch.randn(6, 4, 4, generator=g, dtype=F64)
    D = (V * V).drho(L)  # forms on V ⊗ V: η_ab η_cd, η_ac η_bd, η_ad η_bc and ε_abcd
    forms = invariant_forms(D)
    assert forms.nullity == 4
    assert auto_cut(forms.singular_values, warn=False) == (forms.nullity, forms.cut)
    G = forms.forms[: forms.nullity]
    assert torch.allclose(G, G.mT)
    residual = D.mT[:, None] @ G[None] + G[None] @ D[:, None]
    assert residual.abs().max() < 1e-2 * D.abs().max()


def test_solve_metric_of_a_symmetry_uses_its_discrete_part():
    """A Symmetry's discrete elements constrain J even when passed as the only argument."""
    from liegnn import Symmetry

    L = torch.zeros(1, 3, 3)
    L[0, 0, 1], L[0, 1, 0] = -1.0, 1.0  # so(2) on x1, x2: the metrics diag(a, a, b)
    swap = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # x1 ↔ x3
    sym = Symmetry(L, swap[None])
    info = solve_metric(sym, return_info=True)
    assert len(info.metrics) == 1  # only a = b survives the swap
    J = info.metrics[0]
    assert torch.allclose(swap.T.to(J.dtype) @ J @ swap.to(J.dtype), J, atol=1e-10)


def _beam_rotation() -> torch.Tensor:
    """The generator of rotations about z on (t, x, y, z)."""
    L = torch.zeros(1, 4, 4, dtype=F64)
    L[0, 1, 2], L[0, 2, 1] = -1.0, 1.0
    return L


def test_projecting_onto_a_compact_group_is_its_haar_average():
    """For rotations about the beam axis, P(J) equals the average of R_φᵀ J R_φ over 12 equally
    spaced angles (exact for the degree-2 trigonometric polynomials in φ that occur)."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(4, 4, generator=g, dtype=F64)
    J = ETA + 0.1 * (A + A.T)
    L = _beam_rotation()
    angles = torch.arange(12, dtype=F64) * (2 * math.pi / 12)
    average = sum(
        torch.linalg.matrix_exp(a * L[0]).T @ J @ torch.linalg.matrix_exp(a * L[0]) for a in angles
    ) / len(angles)
    P = project_metric(J, L)
    assert torch.allclose(P, average, atol=1e-12)
    assert metric_residual(L, P) < 1e-12
    assert abs(P[1, 1] - P[2, 2]) < 1e-12 and abs(P[1, 1] - (J[1, 1] + J[2, 2]) / 2) < 1e-12
    assert abs(P[0, 3] - J[0, 3]) < 1e-12 and P[0, 1] == pytest.approx(0, abs=1e-12)


def test_projection_is_idempotent_and_keeps_an_invariant_metric():
    L = lorentz(dtype=F64)
    assert torch.allclose(project_metric(ETA, L), ETA, atol=1e-12)
    J = ETA + 0.05 * torch.diag(torch.tensor([0.3, -1.0, 0.5, 0.2], dtype=F64))
    P = project_metric(J, L)
    assert torch.allclose(project_metric(P, L), P, atol=1e-12)
    # onto so(1, 3)'s one invariant form: the multiple of η closest to J
    assert torch.allclose(P, (J * ETA).sum() / (ETA * ETA).sum() * ETA, atol=1e-12)


def test_projection_onto_a_group_with_no_invariant_form_is_refused():
    with pytest.raises(NoInvariantMetricError, match="preserve no symmetric form"):
        project_metric(ETA, scaling(4, dtype=F64))
    with pytest.raises(ValueError, match="shape"):
        project_metric(torch.eye(3, dtype=F64), lorentz(dtype=F64))
