import math

import pytest
import torch

import liegnn
from liegnn import EMLP, LieGNN, Scalar, Symmetry, V, as_symmetry, equivariant_basis, solve_metric
from liegnn.algebra import bases
from liegnn.discovery import DiscoveryResult

ETA = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))


def _random_conjugation(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return Q @ torch.diag(0.5 + 1.5 * torch.rand(n, generator=g, dtype=torch.float64))


def test_known_names_give_the_algebra_and_its_metric():
    sym = Symmetry.known("so(1,3)", dtype=torch.float64)
    assert (sym.n, sym.n_channels, sym.rep) == (4, 6, "standard")
    torch.testing.assert_close(sym.metric(), ETA)
    assert Symmetry.known("se(3)").rep == "affine"
    assert Symmetry.known("se(3)").data_dim == 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sampled_elements_preserve_the_metric_of_a_conjugated_lorentz_group(seed):
    A = _random_conjugation(4, seed)
    L = A @ bases.lorentz(dtype=torch.float64) @ torch.linalg.inv(A)
    sym = Symmetry(L)
    J = sym.metric()
    g = sym.sample(16, scale=1.0, generator=torch.Generator().manual_seed(seed))
    assert g.shape == (16, 4, 4)
    assert (g.mT @ J @ g - J).abs().max() < 1e-9
    assert (g - torch.eye(4, dtype=g.dtype)).abs().max() > 0.1  # not the identity


def test_sample_is_reproducible_with_a_generator():
    sym = Symmetry.known("so(3)", dtype=torch.float64)
    a = sym.sample(4, generator=torch.Generator().manual_seed(3))
    b = sym.sample(4, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)


def test_act_moves_vectors_trajectories_and_affine_points():
    sym = Symmetry.known("so(1,3)", dtype=torch.float64)
    g = sym.sample(5, scale=1.0, generator=torch.Generator().manual_seed(0))
    x = torch.randn(5, 7, 4, dtype=torch.float64)
    y = sym.act(g, x)
    torch.testing.assert_close(y[:, 3], torch.einsum("bij,bj->bi", g, x[:, 3]))
    norm = lambda v: torch.einsum("...i,ij,...j->...", v, ETA, v)
    torch.testing.assert_close(norm(y), norm(x))

    se3 = Symmetry.known("se(3)", dtype=torch.float64)
    h = se3.sample(5, generator=torch.Generator().manual_seed(1))
    p = torch.randn(5, 9, 3, dtype=torch.float64)
    q = se3.act(h, p)
    distances = lambda v: torch.cdist(v, v)
    torch.testing.assert_close(distances(q), distances(p))  # rigid motions
    assert (q - p).abs().max() > 0.1


def test_act_with_a_tensor_representation_moves_outer_products():
    sym = Symmetry(bases.so(3, dtype=torch.float64), rep=V * V)
    assert sym.data_dim == 9
    g = Symmetry.known("so(3)", dtype=torch.float64).sample(4)
    v = torch.randn(4, 3, dtype=torch.float64)
    outer = torch.einsum("bi,bj->bij", v, v).reshape(4, 9)
    gv = torch.einsum("bij,bj->bi", g, v)
    expected = torch.einsum("bi,bj->bij", gv, gv).reshape(4, 9)
    torch.testing.assert_close(sym.act(g, outer), expected)


def test_act_names_the_wrong_shape():
    sym = Symmetry.known("so(3)")
    with pytest.raises(ValueError, match="acts on 3"):
        sym.act(torch.eye(3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="3 group elements for 2 samples"):
        sym.act(torch.eye(3).repeat(3, 1, 1), torch.zeros(2, 3))


def test_parity_makes_the_discrete_part_and_keeps_the_metric():
    sym = Symmetry(bases.so(3, dtype=torch.float64), -torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(sym.metric(), torch.eye(3, dtype=torch.float64))
    dets = torch.linalg.det(sym.sample(64, generator=torch.Generator().manual_seed(0)))
    assert (dets < 0).any() and (dets > 0).any()  # both components are sampled


def test_discrete_elements_select_among_several_invariant_metrics():
    # so(2) on R² ⊕ R preserves diag(1, 1, 0) and diag(0, 0, 1); the swap-free reflection
    # h = diag(1, 1, -1) keeps both, a shear h' mixing the plane and z keeps only the plane's
    L = torch.zeros(1, 3, 3, dtype=torch.float64)
    L[0, 0, 1], L[0, 1, 0] = -1.0, 1.0
    both = Symmetry(L, torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)))
    assert both.metric(return_info=True).nullity == 2
    scale_z = torch.diag(torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64))
    only_plane = Symmetry(L, scale_z)
    info = only_plane.metric(return_info=True)
    assert info.nullity == 1
    torch.testing.assert_close(info.J, torch.diag(torch.tensor([1.0, 1.0, 0.0]).double()))


def test_similarity_is_one_for_the_same_span_and_low_for_another():
    L = bases.so(3, dtype=torch.float64)
    mixed = torch.einsum("ij,jab->iab", torch.randn(3, 3, dtype=torch.float64), L)
    assert Symmetry(mixed).similarity("so(3)") > 1 - 1e-9
    assert Symmetry(bases.scaling(3, dtype=torch.float64)).similarity("so(3)") < 1e-9


def test_canonical_and_normalized_keep_the_span():
    A = _random_conjugation(3, 5)
    L = 3.0 * A @ bases.so(3, dtype=torch.float64) @ torch.linalg.inv(A)
    sym = Symmetry(L)
    assert sym.canonical().similarity(sym) > 1 - 1e-9
    norms = sym.normalized().generators.flatten(1).norm(dim=1)
    torch.testing.assert_close(norms, torch.full((3,), math.sqrt(3.0), dtype=torch.float64))


def test_traceless_removes_only_the_scaling_and_drops_pure_scalings():
    L = torch.cat([bases.lorentz(dtype=torch.float64), torch.eye(4, dtype=torch.float64)[None]])
    shifted = L + 0.3 * torch.eye(4, dtype=torch.float64)
    out = Symmetry(shifted).traceless()
    assert out.n_channels == 6
    assert out.similarity("so(1,3)") > 1 - 1e-9
    torch.testing.assert_close(out.metric(), ETA)


def test_linear_part_of_se3_is_so3_and_gives_the_euclidean_metric():
    lin = Symmetry.known("se(3)", dtype=torch.float64).linear_part()
    assert (lin.n, lin.n_channels, lin.rep) == (3, 3, "standard")
    torch.testing.assert_close(Symmetry.known("se(3)").metric(), torch.eye(3))
    with pytest.raises(ValueError, match="translations"):
        Symmetry(bases.translations(3), rep="affine").linear_part()


def test_block_restricts_to_an_invariant_subspace_and_refuses_a_coupled_one():
    L = bases.lorentz(dtype=torch.float64)
    doubled = Symmetry(torch.stack([torch.block_diag(m, m) for m in L]))
    assert doubled.block(slice(4, 8)).similarity("so(1,3)") > 1 - 1e-9
    with pytest.raises(ValueError, match="couple"):
        doubled.block([0, 1, 4, 5])


def test_four_vector_form_of_a_basis_acting_alike_on_two_constituents():
    L = bases.lorentz(dtype=torch.float64)
    doubled = Symmetry(torch.stack([torch.block_diag(m, m) for m in L]))
    torch.testing.assert_close(doubled.four_vector().generators, L)
    coupled = doubled.generators.clone()
    coupled[:, :4, 4:] = L
    with pytest.raises(ValueError, match="couple"):
        Symmetry(coupled).four_vector()
    with pytest.raises(ValueError, match="4 or 8"):
        Symmetry(torch.zeros(1, 6, 6)).four_vector()


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_save_and_load_round_trip_without_pickle(tmp_path, suffix):
    sym = Symmetry(
        bases.so(3, dtype=torch.float64), -torch.eye(3, dtype=torch.float64), name="o(3)"
    )
    sym.save(tmp_path / f"o3{suffix}")
    back = Symmetry.load(tmp_path / f"o3{suffix}")
    torch.testing.assert_close(back.generators, sym.generators)
    torch.testing.assert_close(back.discrete, sym.discrete)
    assert (back.name, back.rep) == ("o(3)", "standard")
    if suffix == ".pt":  # the file is plain tensors and strings: weights_only reads it
        torch.load(tmp_path / f"o3{suffix}", weights_only=True)


def test_save_and_load_keep_a_tensor_representation(tmp_path):
    sym = Symmetry(bases.so(3), rep=V * V + Scalar)
    sym.save(tmp_path / "s.pt")
    assert Symmetry.load(tmp_path / "s.pt").rep == V * V + Scalar


def test_load_reads_a_saved_discovery_result_with_its_action(tmp_path):
    result = DiscoveryResult(bases.se(2), config={"rep_x": "Affine()"})
    result.save(tmp_path / "basis.pt")
    sym = Symmetry.load(tmp_path / "basis.pt")
    assert sym.rep == "affine" and sym.similarity(bases.se(2)) > 1 - 1e-6


def test_every_consumer_takes_a_symmetry_a_result_a_name_or_a_tensor():
    L = bases.lorentz(dtype=torch.float64)
    result = DiscoveryResult(L)
    for spec in (Symmetry(L), result, "so(1,3)", L):
        torch.testing.assert_close(solve_metric(spec).to(torch.float64), ETA)
        assert equivariant_basis(V * V, Scalar, spec).shape == (16, 1)
        if not isinstance(spec, torch.Tensor):  # a tensor given to LieGNN is J itself
            model = LieGNN(spec, in_scalars=1, hidden=8, n_layers=1)
            torch.testing.assert_close(model.metric().to(torch.float64), ETA)
    assert isinstance(EMLP(V, V, result.symmetry, hidden=8, n_layers=1), torch.nn.Module)


def test_equivariant_basis_uses_the_discrete_part_of_a_symmetry():
    so3 = bases.so(3, dtype=torch.float64)
    # V⊗V → V holds the cross product for SO(3); parity (−I) removes it
    assert equivariant_basis(V * V, V, Symmetry(so3)).shape[1] == 1
    assert equivariant_basis(V * V, V, Symmetry(so3, -torch.eye(3).double())).shape[1] == 0


def test_as_symmetry_refuses_two_sources_of_discrete_elements():
    sym = Symmetry(bases.so(3), -torch.eye(3))
    assert as_symmetry(sym) is sym
    with pytest.raises(ValueError, match="not both"):
        as_symmetry(sym, -torch.eye(3))
    with pytest.raises(ValueError, match="unknown algebra"):
        as_symmetry("spin(3)")


def test_finite_group_needs_no_lie_algebra():
    swap = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    sym = Symmetry(torch.zeros(0, 2, 2, dtype=torch.float64), swap)
    assert sym.n_channels == 0 and sym.n == 2
    g = sym.sample(32, generator=torch.Generator().manual_seed(0))
    assert {round(float(torch.linalg.det(m))) for m in g} == {1, -1}
    J = sym.metric(return_info=True)
    assert J.nullity == 2  # I and the swap itself are the invariant symmetric forms


def test_group_is_a_real_symmetry():
    assert isinstance(liegnn.Group(bases.so(3)), Symmetry)
    with pytest.raises(ValueError, match="complex"):
        liegnn.Group(torch.zeros(1, 2, 2, dtype=torch.complex128))


def test_isometric_part_of_a_noisy_basis_preserves_its_metric_exactly():
    A = _random_conjugation(4, 9)
    L = A @ bases.lorentz(dtype=torch.float64) @ torch.linalg.inv(A)
    noisy = Symmetry(
        L
        + 0.02
        * torch.randn(L.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    )
    J = noisy.metric()
    g_noisy = noisy.sample(64, generator=torch.Generator().manual_seed(1))
    assert (g_noisy.mT @ J @ g_noisy - J).abs().max() > 1e-2  # noise breaks the metric
    exact = noisy.isometric()
    g = exact.sample(64, generator=torch.Generator().manual_seed(1))
    assert (g.mT @ J @ g - J).abs().max() < 1e-9
    assert exact.similarity(L) > 0.99 and exact.similarity(noisy) > 0.99
