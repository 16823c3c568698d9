import numpy as np
import pytest
import torch

from liegnn.algebra import bases
from liegnn.training.symmetry import (
    Symmetry,
    four_vector_generators,
    known_generators,
    linear_part,
    load_basis,
    metric_of,
    parse_symmetry,
)

ETA = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0]))


def test_parse_known_kinds_and_a_discovered_file(tmp_path):
    assert parse_symmetry("Minkowski") == Symmetry("minkowski")
    assert parse_symmetry("none").tag == "none"
    path = tmp_path / "found.npy"
    np.save(path, bases.lorentz().numpy())
    sym = parse_symmetry(f"discovered:{path}")
    assert sym.kind == "discovered" and sym.tag == "discovered-found"
    assert load_basis(sym).shape == (6, 4, 4) and load_basis(sym).dtype == torch.float64


@pytest.mark.parametrize(
    "spec", ["lorentz", "discovered", "discovered:/no/such/file.npy", "minkowski:x"]
)
def test_bad_symmetry_specs_raise(spec):
    with pytest.raises(ValueError):
        parse_symmetry(spec)


def test_metric_of_the_lorentz_algebra_is_minkowski():
    torch.testing.assert_close(metric_of(known_generators("minkowski", 4)), ETA)
    torch.testing.assert_close(metric_of(known_generators("euclidean", 3)), torch.eye(3))


def test_eight_dim_basis_acting_alike_on_two_constituents_reduces_to_four():
    L = bases.lorentz(dtype=torch.float64)
    doubled = torch.stack([torch.block_diag(m, m) for m in L])
    torch.testing.assert_close(four_vector_generators(doubled), L)
    coupled = doubled.clone()
    coupled[:, :4, 4:] = L
    with pytest.raises(ValueError, match="couple"):
        four_vector_generators(coupled)
    with pytest.raises(ValueError):
        four_vector_generators(torch.zeros(1, 6, 6))


def test_linear_part_of_se3_is_so3_and_gives_the_euclidean_metric():
    A = linear_part(bases.se(3, dtype=torch.float64), affine=True)
    assert A.shape == (3, 3, 3)
    torch.testing.assert_close(metric_of(A), torch.eye(3))
    with pytest.raises(ValueError, match="translations"):
        linear_part(bases.translations(3, dtype=torch.float64), affine=True)
