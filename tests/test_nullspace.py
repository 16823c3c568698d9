import time
import warnings

import pytest
import torch

import liegnn._tensor_solver as tensor_solver
from liegnn.algebra import lorentz, minkowski_metric, so
from liegnn.nullspace import (
    BasisInfo,
    SpectrumWarning,
    auto_cut,
    clear_cache,
    equivariant_basis,
)
from liegnn.reps import Group, Scalar, V

L3 = so(3, dtype=torch.float64)
LORENTZ = lorentz(dtype=torch.float64)
ETA = minkowski_metric(dtype=torch.float64)

SO3_DIMS = [
    ("V->V", V, V, 1),
    ("VV->Scalar", V * V, Scalar, 1),
    ("VV->V", V * V, V, 1),
    ("VV->VV", V * V, V * V, 3),
    ("V4->Scalar", V**4, Scalar, 3),
]
LORENTZ_DIMS = [("V->V", V, V, 1), ("VV->Scalar", V * V, Scalar, 1)]
# maps that commute with any generators (identity, swap) survive any noise exactly
EXACT_UNDER_NOISE = {"V->V": 1, "VV->Scalar": 0, "VV->V": 0, "VV->VV": 2, "V4->Scalar": 0}


def _noisy(L, seed, sigma=1e-3):
    if sigma == 0:
        return L
    g = torch.Generator().manual_seed(seed)
    return L + sigma * torch.randn(L.shape, generator=g, dtype=L.dtype)


def _residual(basis, rep_in, rep_out, L, H=None):
    """max_k ‖dρ_out W_k − W_k dρ_in‖ (and ‖ρ_out W_k − W_k ρ_in‖) over the basis maps W_k."""
    d_in, d_out = rep_in.dim(L), rep_out.dim(L)
    W = basis.T.reshape(-1, d_out, d_in)
    err = 0.0
    if W.shape[0] == 0:
        return err
    for Do, Di in zip(rep_out.drho(L), rep_in.drho(L), strict=True):
        err = max(err, float((Do @ W - W @ Di).abs().max()))
    if H is not None:
        for Ro, Ri in zip(rep_out.rho(H), rep_in.rho(H), strict=True):
            err = max(err, float((Ro @ W - W @ Ri).abs().max()))
    return err


def _count_solves(monkeypatch) -> list:
    calls, solve = [], tensor_solver.solve
    monkeypatch.setattr(
        tensor_solver, "solve", lambda *a, **k: calls.append(a[0]) or solve(*a, **k)
    )
    return calls


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.mark.parametrize("name, rep_in, rep_out, expected", SO3_DIMS, ids=[c[0] for c in SO3_DIMS])
def test_known_so3_dimensions_are_exact(name, rep_in, rep_out, expected):
    B = equivariant_basis(rep_in, rep_out, L3)
    assert B.shape == (rep_in.dim(L3) * rep_out.dim(L3), expected)
    assert torch.allclose(B.T @ B, torch.eye(expected, dtype=B.dtype), atol=1e-12)
    assert _residual(B, rep_in, rep_out, L3) < 1e-12


@pytest.mark.parametrize(
    "name, rep_in, rep_out, expected", LORENTZ_DIMS, ids=[c[0] for c in LORENTZ_DIMS]
)
def test_known_lorentz_dimensions_are_exact(name, rep_in, rep_out, expected):
    B = equivariant_basis(rep_in, rep_out, LORENTZ)
    assert B.shape[1] == expected
    assert _residual(B, rep_in, rep_out, LORENTZ) < 1e-12


def test_lorentz_invariant_bilinear_form_is_the_minkowski_metric():
    J = equivariant_basis(V * V, Scalar, LORENTZ)[:, 0].reshape(4, 4)
    J = J * torch.sign(J[0, 0]) / J[0, 0].abs()
    assert torch.allclose(J, ETA, atol=1e-12)


def test_so3_map_from_vv_to_v_is_the_cross_product():
    W = equivariant_basis(V * V, V, L3)[:, 0].reshape(3, 3, 3)
    a, b = torch.randn(3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    out = torch.einsum("kij,i,j->k", W, a, b)
    cross = torch.linalg.cross(a, b)
    assert torch.allclose(out.abs(), cross.abs() / 6**0.5, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name, rep_in, rep_out, expected", SO3_DIMS, ids=[c[0] for c in SO3_DIMS])
def test_auto_cut_recovers_so3_dimensions_under_noise(name, rep_in, rep_out, expected, seed):
    L = _noisy(L3, seed)
    assert equivariant_basis(rep_in, rep_out, L).shape[1] == expected
    # a fixed 1e-5 cut keeps only the maps that commute with any matrices
    fixed = equivariant_basis(rep_in, rep_out, L, threshold=1e-5)
    assert fixed.shape[1] == EXACT_UNDER_NOISE[name]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "name, rep_in, rep_out, expected", LORENTZ_DIMS, ids=[c[0] for c in LORENTZ_DIMS]
)
def test_auto_cut_recovers_lorentz_dimensions_under_noise(name, rep_in, rep_out, expected, seed):
    L = _noisy(LORENTZ, seed)
    assert equivariant_basis(rep_in, rep_out, L).shape[1] == expected
    fixed = equivariant_basis(rep_in, rep_out, L, threshold=1e-5)
    assert fixed.shape[1] == EXACT_UNDER_NOISE.get(name, 0)


def test_noisy_spectrum_keeps_exact_and_noise_level_maps_together():
    info = equivariant_basis(V * V, V * V, _noisy(L3, 0), return_info=True)
    s = info.singular_values
    assert isinstance(info, BasisInfo) and info.basis.shape[1] == 3
    assert (s[:2] < 1e-12).all()  # identity and swap: rounding level
    assert 1e-5 < s[2] < 1e-2  # the trace map: noise level
    assert s[3] > 0.1 and s[-1] == pytest.approx(1.0)
    assert s[2] < info.cut < s[3]


def test_auto_cut_uses_highest_gap_not_the_largest_ratio():
    values = torch.tensor([1e-16, 2e-16, 1e-3, 2e-3, 0.3, 0.5, 1.0], dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rank, cut = auto_cut(values)
    assert rank == 4  # the largest ratio (rounding → noise) would give 2
    assert 2e-3 < cut < 0.3


def test_auto_cut_returns_no_maps_and_warns_without_a_gap():
    gradual = torch.logspace(-4, 0, 12, dtype=torch.float64)
    with pytest.warns(SpectrumWarning, match=r"no gap .*\[1\.00e-04, 2\.31e-04"):
        assert auto_cut(gradual) == (0, 0.0)
    with warnings.catch_warnings():  # clearly no maps: all values O(1), no warning
        warnings.simplefilter("error")
        assert auto_cut(torch.tensor([0.3, 0.6, 1.0], dtype=torch.float64))[0] == 0


# the probe: exact counts of so(3) and so(1,3) pairs, against noisy generators
PROBE = [
    ("so3", V, V * V, 1),
    ("so3", V * V, Scalar, 1),
    ("so3", V * V, V, 1),
    ("so3", V**3, Scalar, 1),
    ("so3", V * V, V * V, 3),
    ("so3", V**3, V**3, 15),
    ("so3", V**4, Scalar, 3),
    ("so13", V * V, Scalar, 1),
    ("so13", V**4, Scalar, 4),
]


def _probe(sigma):
    """[(case, seed, count, expected, SpectrumWarning messages)] over PROBE × 3 seeds."""
    out = []
    for algebra, rep_in, rep_out, expected in PROBE:
        L = L3 if algebra == "so3" else LORENTZ
        for seed in (0, 1, 2) if sigma else (0,):
            clear_cache()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                r = equivariant_basis(rep_in, rep_out, _noisy(L, seed, sigma)).shape[1]
            messages = [str(w.message) for w in caught if w.category is SpectrumWarning]
            out.append((f"{algebra} {rep_in!r} → {rep_out!r}", seed, r, expected, messages))
    return out


def test_auto_count_is_right_or_warned_at_three_percent_noise():
    results = _probe(3e-2)
    assert len(results) == 27
    for case, seed, r, expected, messages in results:
        assert r == expected or messages, f"{case} seed {seed}: {r} maps, no warning"
        for m in messages:  # the warning names the pair and the ambiguous values
            assert " → " in m and "unsure cut" in m and "e-0" in m
    # most of them are found, not only warned about (measured: 25 of 27)
    assert sum(r == expected for _, _, r, expected, _ in results) >= 24


@pytest.mark.parametrize("sigma", [0.0, 1e-2])
def test_auto_count_is_right_and_silent_for_exact_and_one_percent_noise(sigma):
    for case, seed, r, expected, messages in _probe(sigma):
        assert r == expected and not messages, f"{case} seed {seed}: {r} maps, {messages}"


def test_auto_cut_warns_when_kept_or_dropped_values_are_in_the_doubtful_band():
    def cut(values):
        return auto_cut(torch.tensor(values, dtype=torch.float64))

    with pytest.warns(SpectrumWarning, match=r"a gap after 1 value.*7\.00e-02"):
        assert cut([0.07, 0.6, 1.0])[0] == 1  # kept, but above AUTO_SMALL
    with pytest.warns(SpectrumWarning, match="a gap after 1 value"):
        assert cut([1e-15, 0.08, 0.2, 1.0])[0] == 1  # dropped 0.08 may be a map
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cut([1e-15, 0.03, 0.5, 1.0])[0] == 2  # kept ≤ 0.05, next > 0.1: sure
        assert cut([0.15, 0.5, 1.0])[0] == 0  # nothing in the band: clearly no maps


def test_unsure_cut_warns_again_when_served_from_the_cache():
    L = _noisy(LORENTZ, 0, 3e-2)  # V*V → Scalar: the metric at 7.9e-2, inside the band
    for _ in range(2):
        with pytest.warns(SpectrumWarning, match=r"V\*\*2 → Scalar: unsure cut"):
            assert equivariant_basis(V * V, Scalar, L).shape[1] == 1


def test_noisy_zero_weight_subspace_keeps_the_noise_level_maps():
    # seed 1: noise moved zero weights of the first candidate element past the tolerance
    with pytest.warns(SpectrumWarning):  # 9 maps at 5.5e-2 under 0.21: a factor 3.9, unsure
        info = equivariant_basis(V**3, V**3, _noisy(L3, 1, 3e-2), return_info=True)
    assert info.pairs[0].method == "zero-weight subspace (141 of 729)"
    assert (info.singular_values[6:15] < 0.1).all()  # the 9 noise-level maps are still seen


def test_auto_finds_a_factor_five_gap_at_three_percent_noise():
    # noise-level values ~3e-2 against the next ~0.2: a factor-5 gap, not a factor-10 one
    assert equivariant_basis(V**4, Scalar, _noisy(L3, 1, sigma=0.03)).shape[1] == 3


def test_auto_on_noise_close_to_the_spectrum_warns_and_returns_nothing():
    L = _noisy(LORENTZ, 1, sigma=0.03)  # small values without a factor-5 gap above them
    with pytest.warns(SpectrumWarning):
        assert equivariant_basis(V**4, Scalar, L).shape[1] == 0


def test_float_threshold_is_relative_to_largest_singular_value():
    L = _noisy(L3, 3)
    info = equivariant_basis(V * V, Scalar, L, threshold=1e-2, return_info=True)
    assert info.basis.shape[1] == 1 and info.cut == 1e-2
    pair = info.pairs[0]
    assert pair.singular_values[0] <= 1e-2 * pair.scale < pair.singular_values[1]
    assert equivariant_basis(V * V, Scalar, L3 * 1e3, threshold=1e-5).shape[1] == 1


@pytest.mark.parametrize(
    "rep_in, rep_out, so3, o3",
    [(V, V * V, 1, 0), (V * V, Scalar, 1, 1), (V**3, Scalar, 1, 0), (V * V, V * V, 3, 3)],
)
def test_parity_removes_the_levi_civita_maps(rep_in, rep_out, so3, o3):
    parity = -torch.eye(3, dtype=torch.float64)
    assert equivariant_basis(rep_in, rep_out, L3).shape[1] == so3
    B = equivariant_basis(rep_in, rep_out, L3, discrete_generators=parity)
    assert B.shape[1] == o3
    assert _residual(B, rep_in, rep_out, L3, parity[None]) < 1e-12


def test_full_lorentz_group_drops_the_pseudoscalar_invariant():
    P = torch.diag(torch.tensor([1.0, -1, -1, -1], dtype=torch.float64))
    T = -P
    # η⊗η in three pairings, plus ε under the proper orthochronous group only
    assert equivariant_basis(V**4, Scalar, LORENTZ).shape[1] == 4
    G = Group(LORENTZ, torch.stack([P, T]))
    B = equivariant_basis(V**4, Scalar, G)
    assert B.shape[1] == 3
    assert _residual(B, V**4, Scalar, LORENTZ, G.discrete_generators) < 1e-12


def test_direct_sums_are_assembled_from_one_solve_per_pair(monkeypatch):
    calls = _count_solves(monkeypatch)
    B = equivariant_basis(20 * V, 20 * V, L3)
    assert B.shape == (3600, 400) and len(calls) == 1
    assert torch.allclose(B.T @ B, torch.eye(400, dtype=B.dtype), atol=1e-12)
    assert _residual(B[:, :7], 20 * V, 20 * V, L3) < 1e-12
    calls.clear()
    B2 = equivariant_basis(V + Scalar, V + Scalar + V, L3)
    assert B2.shape[1] == 3  # V→V twice, Scalar→Scalar once; V→Scalar and Scalar→V: none
    assert len(calls) == 2  # V→V reused from the cache; V→Scalar and Scalar→V solved
    assert _residual(B2, V + Scalar, V + Scalar + V, L3) < 1e-12


def test_cache_is_keyed_on_generator_values_not_size(monkeypatch):
    g = torch.Generator().manual_seed(0)
    P = torch.eye(3, dtype=torch.float64) + 0.5 * torch.rand(3, 3, generator=g, dtype=torch.float64)
    conjugated = P @ L3 @ torch.linalg.inv(P)  # another so(3) on R^3, same size
    J1 = equivariant_basis(V * V, Scalar, L3)
    J2 = equivariant_basis(V * V, Scalar, conjugated)
    assert (J1 - J2).abs().max() > 1e-2 and (J1 + J2).abs().max() > 1e-2
    assert _residual(J2, V * V, Scalar, conjugated) < 1e-12
    calls = _count_solves(monkeypatch)
    equivariant_basis(V * V, Scalar, L3.clone())
    assert calls == []  # same values: served from the cache
    equivariant_basis(V * V, Scalar, L3, threshold=1e-3)
    assert len(calls) == 1  # another cut: solved again


def test_factor_order_is_respected():
    # V*V.T → Scalar (the trace) and V.T*V → Scalar share a solve but not a layout
    for rep in [V * V.T, V.T * V, V * V.T * V * V.T]:
        B = equivariant_basis(rep, Scalar, LORENTZ)
        assert B.shape[1] >= 1 and _residual(B, rep, Scalar, LORENTZ) < 1e-12


def test_zero_weight_restriction_matches_the_dense_solve(monkeypatch):
    g = torch.Generator().manual_seed(0)
    P = torch.eye(4, dtype=torch.float64) + 0.3 * torch.rand(4, 4, generator=g, dtype=torch.float64)
    conjugated = P @ LORENTZ @ torch.linalg.inv(P)  # no normal element: the whitened path
    for L in [L3, LORENTZ, conjugated, _noisy(L3, 0)]:
        rep = V**2 * V.T**2
        dense = equivariant_basis(rep, Scalar, L)
        clear_cache()
        monkeypatch.setattr(tensor_solver, "DENSE_LIMIT", 1)
        info = equivariant_basis(rep, Scalar, L, return_info=True)
        monkeypatch.setattr(tensor_solver, "DENSE_LIMIT", 512)
        clear_cache()
        assert info.pairs[0].method.startswith("zero-weight")
        assert info.basis.shape == dense.shape
        # same span: the singular values of dense^T basis are all 1
        s = torch.linalg.svdvals(dense.T @ info.basis)
        assert torch.allclose(s, torch.ones_like(s), atol=1e-6)


def test_so3_hom_space_of_size_2187_is_solved():
    # torch.linalg.svd has been seen to fail to converge on this constraint
    info = equivariant_basis(V**4, V**3, L3, return_info=True)
    assert info.basis.shape == (2187, 36)  # Riordan number R_7
    assert _residual(info.basis, V**4, V**3, L3) < 1e-12


def test_so3_v3_to_v3_has_fifteen_maps():
    assert equivariant_basis(V**3, V**3, L3).shape[1] == 15


@pytest.mark.slow
def test_so3_v4_to_v4_has_ninety_one_maps():
    B = equivariant_basis(V**4, V**4, L3)
    assert B.shape == (6561, 91)
    assert _residual(B[:, :10], V**4, V**4, L3) < 1e-12


@pytest.mark.slow
def test_lorentz_v3_to_v3_is_practical():
    B = equivariant_basis(V**3, V**3, LORENTZ)
    assert B.shape == (4096, 25)
    assert _residual(B[:, :5], V**3, V**3, LORENTZ) < 1e-11


def test_basis_dtype_follows_the_generators():
    assert equivariant_basis(V, V, L3.float()).dtype == torch.float32
    assert equivariant_basis(V, V, L3, dtype=torch.float64).dtype == torch.float64


def test_scalar_to_scalar_and_empty_reps():
    assert equivariant_basis(Scalar, Scalar, L3).tolist() == [[1.0]]
    assert equivariant_basis(0 * V, V, L3).shape == (0, 0)


def test_bad_input_is_rejected_with_a_named_problem():
    with pytest.raises(ValueError, match="square"):
        equivariant_basis(V, V, torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="NaN or Inf"):
        equivariant_basis(V, V, torch.full((1, 3, 3), float("inf")))
    with pytest.raises(ValueError, match="complex"):
        equivariant_basis(V, V, torch.zeros(1, 2, 2, dtype=torch.complex128))
    with pytest.raises(ValueError, match="dimension 4"):
        equivariant_basis(V(4), V, L3)
    with pytest.raises(ValueError, match="discrete_generators act on dimension 4"):
        equivariant_basis(V, V, L3, discrete_generators=torch.eye(4))
    with pytest.raises(ValueError, match="invertible"):
        equivariant_basis(V, V, L3, discrete_generators=torch.zeros(3, 3))
    with pytest.raises(ValueError, match="not both"):
        equivariant_basis(V, V, Group(L3, -torch.eye(3)), discrete_generators=-torch.eye(3))
    for bad in ["big", -1.0, float("nan"), True]:
        with pytest.raises(ValueError, match="threshold"):
            equivariant_basis(V, V, L3, threshold=bad)
    with pytest.raises(TypeError, match="rep_in"):
        equivariant_basis(3, V, L3)


def test_auto_cut_parameters_move_the_gap_rule():
    values = torch.tensor([1e-12, 1e-4, 3e-2, 1.0], dtype=torch.float64)
    assert auto_cut(values)[0] == 3  # 3e-2 ≤ 0.05 and a gap of 33 above it
    assert auto_cut(values, small=1e-2)[0] == 2  # 3e-2 is no longer small: cut below it
    with pytest.warns(SpectrumWarning, match="a gap after 2 value"):
        # 33 is no longer a significant gap; the dropped 3e-2 may be a map: unsure
        assert auto_cut(values, gap=100.0)[0] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert auto_cut(torch.tensor([0.01, 0.02, 1.0]), gap=100.0, warn=False) == (0, 0.0)


def test_pair_bases_assemble_to_the_equivariant_basis():
    from liegnn.nullspace import pair_bases

    solved = pair_bases(V + Scalar, V * V, L3)
    assert solved.discrete_generators is None and solved.generators.dtype == torch.float64
    full = equivariant_basis(V + Scalar, V * V, L3)
    widths = [Q.shape[1] for Q, _ in solved.bases.values()]
    assert sorted(widths) == [1, 1] and full.shape == (9 * 4, sum(widths))
    Q, info = solved.bases[((1, 1), (1,))]  # V → V*V: the cross product
    assert info.rank == 1 and Q.shape == (27, 1)


def test_too_large_solve_is_refused_before_its_eigenproblem_is_built(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the refused eigenproblem was built")

    monkeypatch.setattr(tensor_solver, "_sparse_gram", never)
    monkeypatch.setattr(tensor_solver, "_eigh", never)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"V\*\*5 → V\*\*5: .*59049.* 8953-dimensional .*2048"):
        equivariant_basis(V**5, V**5, L3)  # ran past 110 s before the guard
    with pytest.raises(ValueError, match=r"dimension 3486784401 .*MAX_BYTES"):
        equivariant_basis(V**20, Scalar, L3)
    assert time.perf_counter() - start < 5


def test_too_large_dense_basis_is_refused_before_it_is_allocated(monkeypatch):
    monkeypatch.setattr(torch, "zeros", lambda *a, **k: pytest.fail("allocated"))
    refused = r"\(3·30000, 10000\) tensor of 6\.71 GiB, above .*max_bytes"
    with pytest.raises(ValueError, match=refused):
        equivariant_basis(10000 * V, V, L3)  # took 24 s and 7.4 GB before the guard


def test_cost_limits_can_be_raised_per_call_or_by_module_constant(monkeypatch):
    import liegnn.nullspace as nullspace

    with pytest.raises(ValueError, match="141-dimensional eigenproblem, above the limit of 100"):
        equivariant_basis(V**3, V**3, L3, max_eigenproblem=100)
    with pytest.raises(ValueError, match=r"\(60·60, 400\) tensor"):
        equivariant_basis(20 * V, 20 * V, L3, max_bytes=10**7)  # 11.5 MB
    monkeypatch.setattr(nullspace, "MAX_EIGENPROBLEM", 100)
    monkeypatch.setattr(nullspace, "MAX_BYTES", 10**7)
    with pytest.raises(ValueError, match="above the limit of 100"):
        equivariant_basis(V**3, V**3, L3)
    assert equivariant_basis(V**3, V**3, L3, max_eigenproblem=200).shape[1] == 15
    assert equivariant_basis(20 * V, 20 * V, L3, max_bytes=float("inf")).shape[1] == 400
    monkeypatch.setattr(nullspace, "MAX_EIGENPROBLEM", 200)
    clear_cache()
    assert equivariant_basis(V**3, V**3, L3).shape[1] == 15
    for bad in [0, -1, float("nan"), "big", True]:
        with pytest.raises(ValueError, match="max_bytes must be a positive number"):
            equivariant_basis(V, V, L3, max_bytes=bad)
