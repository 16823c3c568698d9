import numpy as np
import pytest
import torch

from liegnn import NoInvariantMetricError, Symmetry
from liegnn.algebra import bases
from liegnn.discovery import DiscoveryResult
from liegnn.training.symmetry import SymmetryChoice, metric_of, parse_symmetry

ETA = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0]))


def test_parse_known_kinds_and_a_discovered_file(tmp_path):
    assert parse_symmetry("Minkowski") == SymmetryChoice("minkowski")
    assert parse_symmetry("none").tag == "none"
    assert parse_symmetry("none").symmetry(4) is None
    path = tmp_path / "found.npy"
    np.save(path, bases.lorentz().numpy())
    choice = parse_symmetry(f"discovered:{path}")
    assert choice.kind == "discovered" and choice.tag == "discovered-found"
    sym = choice.symmetry(4)
    assert sym.generators.shape == (6, 4, 4) and sym.generators.dtype == torch.float64


def test_known_algebra_names_are_choices_with_a_folder_tag():
    choice = parse_symmetry("so(1,3)")
    assert (choice.kind, choice.tag, str(choice)) == ("known", "so-1-3", "so(1,3)")
    torch.testing.assert_close(metric_of(choice.symmetry(4)), ETA)
    assert parse_symmetry("lorentz").symmetry(4).similarity("so(1,3)") > 1 - 1e-9


def test_a_symmetry_or_result_in_python_is_a_choice_without_a_file(tmp_path):
    result = DiscoveryResult(bases.lorentz())
    for spec in (result, result.symmetry, bases.lorentz()):
        choice = parse_symmetry(spec)
        assert choice.kind == "discovered" and choice.path is None
        torch.testing.assert_close(metric_of(choice.symmetry(4)), ETA)


def test_a_saved_discovery_result_is_read_through_symmetry_load(tmp_path):
    DiscoveryResult(bases.se(3), config={"rep_x": "Affine()"}).save(tmp_path / "basis.pt")
    sym = parse_symmetry(f"discovered:{tmp_path / 'basis.pt'}").symmetry(3)
    assert sym.rep == "affine"
    torch.testing.assert_close(metric_of(sym.linear_part()), torch.eye(3))


@pytest.mark.parametrize(
    "spec", ["spin(3)", "discovered", "discovered:/no/such/file.npy", "minkowski:x"]
)
def test_bad_symmetry_specs_raise(spec):
    with pytest.raises(ValueError):
        parse_symmetry(spec)


def test_metric_of_the_lorentz_algebra_is_minkowski():
    torch.testing.assert_close(metric_of("so(1,3)"), ETA)
    torch.testing.assert_close(metric_of(Symmetry(bases.so(3))), torch.eye(3))


def test_metric_of_refuses_a_basis_that_preserves_no_metric():
    random = torch.randn(6, 4, 4, generator=torch.Generator().manual_seed(0))
    with pytest.raises(NoInvariantMetricError, match="residual|no invariant metric|preserv"):
        metric_of(random)
