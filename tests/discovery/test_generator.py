import pytest
import torch

from liegnn.algebra import so
from liegnn.discovery import IntegerGrid, LieGenerator, masks


def test_group_elements_are_exponentials_of_the_sampled_combination():
    G = LieGenerator(3, n_channels=2).double()
    w, g = G.sample(10, generator=torch.Generator().manual_seed(0))
    assert w.shape == (10, 2) and g.shape == (10, 3, 3)
    expected = torch.linalg.matrix_exp(torch.einsum("bc,cij->bij", w, G.generators))
    assert torch.allclose(g, expected, atol=1e-12)


def test_mask_keeps_generators_in_the_search_space_after_training_steps():
    M = masks.nbody_blocks(2)
    G = LieGenerator(8, mask=M)
    opt = torch.optim.Adam(G.parameters(), lr=0.1)
    for _ in range(3):
        _, g = G.sample(16)
        loss = (g - torch.eye(8)).pow(2).sum() - g.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float((G.generators.detach() * (1 - M)).abs().max()) == 0.0
    _, g = G.sample(4)
    assert float((g.detach() * (1 - M)).abs().max()) < 1e-6  # exp of a block-diagonal matrix


def test_fixed_generators_learn_only_the_coefficient_distribution():
    L = so(2)
    G = LieGenerator(
        2,
        coefficients="normal",
        coefficient_options={"learnable": True},
        init=L,
        learn_generators=False,
    )
    names = {n for n, _ in G.named_parameters()}
    assert names == {"coefficients.mu", "coefficients.log_sigma"}
    assert torch.equal(G.generators, L.float())


def test_complex_generators_produce_unitary_elements_for_anti_hermitian_init():
    L0 = torch.randn(2, 3, 3, dtype=torch.complex128)
    L0 = L0 - L0.mH  # anti-Hermitian
    G = LieGenerator(3, n_channels=2, complex=True, init=L0).double()
    assert G.generators.is_complex()
    _, g = G.sample(5)
    eye = torch.eye(3, dtype=g.dtype).expand(5, 3, 3)
    assert torch.allclose(g @ g.mH, eye, atol=1e-6)


def test_integer_coefficients_give_powers_of_one_element():
    G = LieGenerator(3, coefficients=IntegerGrid(1, u=3)).double()
    w, g = G.sample(40)
    base = torch.linalg.matrix_exp(G.generators[0])
    for wb, gb in zip(w[:, 0], g, strict=True):
        assert torch.allclose(gb, torch.linalg.matrix_power(base, int(wb)), atol=1e-10)


def test_generator_rejects_bad_configuration():
    with pytest.raises(ValueError, match="n_channels"):
        LieGenerator(3, n_channels=0)
    with pytest.raises(ValueError, match="mask must have shape"):
        LieGenerator(3, mask=torch.ones(4, 4))
    with pytest.raises(ValueError, match="init must have shape"):
        LieGenerator(3, n_channels=2, init=torch.zeros(1, 3, 3))
    with pytest.raises(ValueError, match="complex=True"):
        LieGenerator(2, init=torch.zeros(1, 2, 2, dtype=torch.complex64))
