import pytest
import torch

from liegnn.algebra import lorentz, minkowski_metric, so
from liegnn.nn.emlp import EMLP, EquivariantLinear, GatedNonlinearity, gated
from liegnn.reps import Group, Scalar, V

L3 = so(3, dtype=torch.float64)
LORENTZ = lorentz(dtype=torch.float64)
ETA = minkowski_metric(dtype=torch.float64)
PARITY = -torch.eye(3, dtype=torch.float64)


@pytest.fixture(autouse=True)
def _float64():
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(default)


def _group_element(L, seed, scale=1.0, discrete=None):
    g = torch.Generator().manual_seed(seed)
    c = scale * torch.randn(L.shape[0], generator=g, dtype=L.dtype)
    h = torch.linalg.matrix_exp(torch.einsum("i,ijk->jk", c, L))
    return h if discrete is None else discrete @ h


def _equivariance_error(model, rep_in, rep_out, h, batch=32):
    """‖f(ρ_in(h) x) − ρ_out(h) f(x)‖ / ‖ρ_out(h) f(x)‖ over a random batch."""
    x = torch.randn(batch, rep_in.dim(LORENTZ if h.shape[-1] == 4 else L3))
    with torch.no_grad():
        lhs = model(x @ rep_in.rho(h)[0].T)
        rhs = model(x) @ rep_out.rho(h)[0].T
    return float((lhs - rhs).norm() / rhs.norm())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_emlp_is_so3_equivariant(seed):
    torch.manual_seed(seed)
    rep_in, rep_out = V + V**2 + Scalar, V + Scalar + V**2
    model = EMLP(rep_in, rep_out, L3, hidden=48, n_layers=2)
    assert _equivariance_error(model, rep_in, rep_out, _group_element(L3, seed)) <= 1e-5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_emlp_is_lorentz_equivariant_under_boosts(seed):
    torch.manual_seed(seed)
    rep_in, rep_out = 2 * V + Scalar, Scalar + V
    model = EMLP(rep_in, rep_out, LORENTZ, hidden=48, n_layers=2)
    h = _group_element(LORENTZ, seed, scale=0.5)
    assert _equivariance_error(model, rep_in, rep_out, h) <= 1e-5


def test_emlp_is_o3_equivariant_with_parity():
    torch.manual_seed(0)
    rep_in, rep_out = V + Scalar, V * V + V
    model = EMLP(rep_in, rep_out, L3, hidden=48, discrete_generators=PARITY)
    for h in [PARITY, _group_element(L3, 3, discrete=PARITY)]:
        assert _equivariance_error(model, rep_in, rep_out, h) <= 1e-5


def test_emlp_is_equivariant_under_the_full_lorentz_group():
    torch.manual_seed(0)
    P, T = ETA, -ETA
    group = Group(LORENTZ, torch.stack([P, T]))
    model = EMLP(2 * V, Scalar + V, group, hidden=48)
    for h in [P, T, _group_element(LORENTZ, 4, scale=0.5, discrete=P @ T)]:
        assert _equivariance_error(model, 2 * V, Scalar + V, h) <= 1e-5


def test_invariant_lorentz_output_is_nonlinear_in_the_vectors():
    # no linear map V → Scalar exists; the quadratic invariants ⟨x, x⟩_η make f non-trivial
    torch.manual_seed(0)
    model = EMLP(V, Scalar, LORENTZ, hidden=48)
    x = torch.randn(64, 4)
    with torch.no_grad():
        y1, y2 = model(x), model(2 * x)
    assert y1.std() > 1e-3
    assert (y2 - 2 * y1).abs().max() > 1e-3 and (y2 - y1).abs().max() > 1e-3


def test_equivariant_linear_weight_commutes_and_bias_is_invariant():
    torch.manual_seed(0)
    rep_in, rep_out = 2 * V + V**2, V + 3 * Scalar + V * V.T
    layer = EquivariantLinear(rep_in, rep_out, Group(L3))
    for b in layer.biases:
        torch.nn.init.normal_(b)
    W, b = layer.weight(), layer.bias()
    for Do, Di in zip(rep_out.drho(L3), rep_in.drho(L3), strict=True):
        assert (Do @ W - W @ Di).abs().max() < 1e-12
        assert (Do @ b).abs().max() < 1e-12
    assert W.abs().max() > 0 and b.abs().max() > 0


def test_hidden_multiplicities_share_one_basis_per_pair():
    layer = EquivariantLinear(50 * V, 40 * V, Group(L3), bias=False)
    assert layer.weight().shape == (120, 150)
    assert sum(p.numel() for p in layer.parameters()) == 50 * 40  # one map V → V per pair


def test_gate_multiplies_each_block_by_its_invariant_scalar():
    rep = 2 * Scalar + V
    gate = GatedNonlinearity(rep, 3)
    assert gated(rep, 3).dim(L3) == 6 and gate.n_gates == 1
    z = torch.tensor([[1.0, -2.0, 1.0, 2.0, 3.0, 0.5]])
    out = gate(z)
    s = torch.sigmoid
    expected = torch.tensor([[1 * s(torch.tensor(1.0)), -2 * s(torch.tensor(-2.0))]])
    assert torch.allclose(out[:, :2], expected)
    assert torch.allclose(out[:, 2:], z[:, 2:5] * s(torch.tensor(0.5)))


def test_default_hidden_mixes_scalars_vectors_and_matrices():
    model = EMLP(V, V, L3, hidden=108, n_layers=1)
    assert model.hidden == 36 * Scalar + 12 * V + 4 * V**2
    custom = EMLP(V, V, L3, hidden=4 * V + 2 * Scalar, n_layers=1)
    assert custom.hidden == 4 * V + 2 * Scalar


def test_noisy_generators_give_the_same_layer_structure_with_auto():
    g = torch.Generator().manual_seed(0)
    noisy = L3 + 1e-3 * torch.randn(L3.shape, generator=g, dtype=L3.dtype)
    exact = EMLP(V + V**2, Scalar, L3, hidden=48)
    approx = EMLP(V + V**2, Scalar, noisy, hidden=48)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(approx) == count(exact)


def test_training_step_reduces_the_loss_of_an_invariant_target():
    torch.manual_seed(0)
    model = EMLP(V, Scalar, L3, hidden=24, n_layers=1)
    x = torch.randn(256, 3)
    y = (x * x).sum(-1, keepdim=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


def test_state_dict_round_trip_reproduces_outputs():
    torch.manual_seed(0)
    a = EMLP(V, V, L3, hidden=24, n_layers=1)
    b = EMLP(V, V, L3, hidden=24, n_layers=1)
    b.load_state_dict(a.state_dict())
    x = torch.randn(5, 3)
    assert torch.equal(a(x), b(x))


def test_bad_input_is_rejected_with_a_named_problem():
    model = EMLP(V, Scalar, L3, hidden=12, n_layers=1)
    with pytest.raises(ValueError, match="last dimension 4"):
        model(torch.randn(2, 4))
    with pytest.raises(ValueError, match="dimension 4"):
        EMLP(V(4), Scalar, L3)
    with pytest.raises(ValueError, match="complex"):
        EMLP(V, V, torch.zeros(1, 2, 2, dtype=torch.complex128))
    with pytest.raises(ValueError, match="square"):
        EMLP(V, V, torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="n_layers"):
        EMLP(V, V, L3, n_layers=-1)
    with pytest.raises(ValueError, match="hidden"):
        EMLP(V, V, L3, hidden=1)


def test_emlp_with_float32_generators_is_equivariant_to_float32_rounding():
    # the 2-body rotation acts on four 2-vectors: its invariant bilinear forms include
    # antisymmetric (cross-product) ones, which must vanish exactly after symmetrisation
    L = torch.zeros(1, 8, 8)
    for k in range(4):
        L[0, 2 * k + 1, 2 * k], L[0, 2 * k, 2 * k + 1] = 1.0, -1.0
    torch.manual_seed(0)
    model = EMLP(5 * V, 3 * V, L, hidden=32, n_layers=2)
    x = torch.randn(16, 40)
    g = torch.linalg.matrix_exp(0.7 * L[0])
    out_of_turned = model(x @ torch.block_diag(*[g] * 5).T)
    turned_out = model(x) @ torch.block_diag(*[g] * 3).T
    assert (out_of_turned - turned_out).norm() / turned_out.norm() < 1e-5


def test_quadratic_invariant_of_a_lorentz_vector_is_the_minkowski_norm():
    from liegnn.nn.emlp import QuadraticInvariants

    q = QuadraticInvariants(V, Group(LORENTZ))
    G = q.forms_0[0]
    assert q.n_invariants == 1
    assert torch.allclose(G / G[0, 0], ETA, atol=1e-12)  # the metric solve_metric returns


def test_quadratic_invariants_of_tensors_are_invariant_and_respect_discrete_elements():
    from liegnn.nn.emlp import QuadraticInvariants

    # G_(ab)(cd) on V ⊗ V: η_ab η_cd, η_ac η_bd, η_ad η_bc and ε_abcd; parity flips the sign of ε
    P, T = ETA, -ETA
    h = _group_element(LORENTZ, 5, scale=0.5, discrete=P)  # a boost times parity
    x = torch.randn(16, 16)
    for group, count, parity_invariant in [
        (Group(LORENTZ), 4, False),
        (Group(LORENTZ, torch.stack([P, T])), 3, True),
    ]:
        q = QuadraticInvariants(V * V, group)
        assert q.n_invariants == count
        with torch.no_grad():
            before, after = q(x), q(x @ (V * V).rho(h)[0].T)
        assert torch.allclose(before, after, atol=1e-8, rtol=1e-8) == parity_invariant


def test_quadratic_invariants_keep_every_form_of_a_rep_the_group_does_not_move():
    from liegnn.algebra import scaling
    from liegnn.nn.emlp import QuadraticInvariants

    # scaling x ↦ e^t x acts trivially on V ⊗ V*: all 45 symmetric forms on R⁹ are invariant
    q = QuadraticInvariants(V * V.T, Group(scaling(3, dtype=torch.float64)))
    assert q.n_invariants == 45
    assert q(torch.randn(4, 9)).shape == (4, 45)
