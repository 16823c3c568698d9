import numpy as np
import pytest
import torch

from liegnn.nn.metric_tensor import MetricTensor, resolve_metric


def test_minkowski_and_euclidean_names():
    assert torch.equal(
        resolve_metric("minkowski"), torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0]))
    )
    assert torch.equal(
        resolve_metric("Minkowski", dim=3), torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    )
    assert torch.equal(resolve_metric("euclidean"), torch.eye(3))
    assert torch.equal(resolve_metric("euclidean", dim=4), torch.eye(4))


def test_accepts_numpy_and_integer_matrices():
    J = resolve_metric(np.diag([1, -1, -1, -1]))
    assert J.dtype == torch.get_default_dtype()
    assert torch.equal(J, resolve_metric("minkowski"))


@pytest.mark.parametrize(
    "metric, match",
    [
        ("riemannian", "unknown metric"),
        (torch.tensor([[1.0, 0.5], [0.0, 1.0]]), "symmetric"),
        (torch.tensor([[1.0, 2.0], [2.0, 4.0]]), "singular"),
        (torch.zeros(3, 3), "singular"),
        (torch.tensor([[1.0, float("nan")], [float("nan"), 1.0]]), "NaN"),
        (torch.ones(2, 2, 2), "square"),
        (torch.eye(2, dtype=torch.complex64), "real"),
    ],
)
def test_rejects_bad_metrics_naming_the_problem(metric, match):
    with pytest.raises(ValueError, match=match):
        resolve_metric(metric)


def test_rejects_dimension_disagreeing_with_tensor():
    with pytest.raises(ValueError, match="dim=3"):
        resolve_metric(torch.eye(4), dim=3)


def test_fixed_metric_is_a_buffer_that_follows_the_module_dtype():
    metric = MetricTensor("minkowski")
    assert list(metric.parameters()) == []
    assert "J" in metric.state_dict()
    assert metric.double()().dtype == torch.float64


def test_learnable_metric_stays_symmetric_under_an_asymmetric_update():
    metric = MetricTensor("minkowski", learnable=True)
    with torch.no_grad():
        metric.weight[0, 1] += 0.5  # as an optimiser step with an asymmetric gradient would
    J = metric()
    assert torch.equal(J, J.T)
    assert J[0, 1] == J[1, 0] == 0.25


def test_inner_product_is_x_J_y():
    metric = MetricTensor(torch.tensor([[2.0, 1.0], [1.0, -1.0]], dtype=torch.float64))
    x = torch.randn(5, 2, dtype=torch.float64)
    y = torch.randn(5, 2, dtype=torch.float64)
    expected = torch.einsum("bi,ij,bj->b", x, metric(), y)
    assert torch.allclose(metric.inner(x, y), expected)
    assert torch.allclose(metric.norm2(x), torch.einsum("bi,ij,bj->b", x, metric(), x))
