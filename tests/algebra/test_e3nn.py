import pytest
import torch
from e3nn import o3

from liegnn.algebra import closure_error, irreps_generators, irreps_parity, structure_constants

F64 = torch.float64
IRREPS = o3.Irreps("2x0e + 1o + 2e + 3o + 1e")


@pytest.fixture
def float64_default():
    # e3nn's D_from_angles builds its generators in the default dtype
    previous = torch.get_default_dtype()
    torch.set_default_dtype(F64)
    yield
    torch.set_default_dtype(previous)


def test_generators_exponentiate_to_D_from_angles(float64_default):
    L = irreps_generators(IRREPS)
    assert L.shape == (3, IRREPS.dim, IRREPS.dim)
    g = torch.Generator().manual_seed(0)
    for alpha, beta, gamma in 6.0 * torch.rand(4, 3, generator=g, dtype=F64) - 3.0:
        D = IRREPS.D_from_angles(alpha, beta, gamma)
        expm = torch.linalg.matrix_exp
        ours = expm(alpha * L[1]) @ expm(beta * L[0]) @ expm(gamma * L[1])
        assert (D.to(F64) - ours).abs().max() < 1e-12


def test_generators_form_so3_and_are_antisymmetric():
    L = irreps_generators(IRREPS)
    assert torch.equal(L.transpose(1, 2), -L)
    assert closure_error(L) < 1e-12
    C = structure_constants(L)
    # the same structure constants as the l = 1 block alone: a representation of so(3)
    assert torch.allclose(C, structure_constants(irreps_generators("1o")), atol=1e-12)
    assert L[:, :2, :2].abs().max() == 0  # the two scalars do not move


def test_parity_is_plus_minus_one_per_irrep_and_matches_e3nn():
    P = irreps_parity(IRREPS)
    assert P.shape == (1, IRREPS.dim, IRREPS.dim)
    expected = [1, 1] + [-1] * 3 + [1] * 5 + [-1] * 7 + [1] * 3
    assert torch.equal(torch.diagonal(P[0]), torch.tensor(expected, dtype=F64))
    zero = torch.zeros((), dtype=F64)
    D = IRREPS.D_from_angles(zero, zero, zero, torch.ones((), dtype=F64))
    assert torch.equal(D.to(F64), P[0])


def test_parity_commutes_with_rotation_generators():
    L, P = irreps_generators(IRREPS), irreps_parity(IRREPS)[0]
    assert torch.equal(P @ L, L @ P)


def test_accepts_strings_and_dtype():
    L = irreps_generators("1o", dtype=torch.float32)
    assert L.dtype == torch.float32 and L.shape == (3, 3, 3)


def test_invalid_irreps_raise_value_error():
    with pytest.raises(ValueError, match="Irreps"):
        irreps_generators("not an irreps")
    with pytest.raises(ValueError, match="dimension 0"):
        irreps_parity("")
