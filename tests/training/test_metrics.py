import math

import numpy as np
import pytest
import torch

from liegnn.training.metrics import (
    accuracy,
    background_efficiency,
    background_rejection,
    classification_metrics,
    mean_absolute_error,
    regression_metrics,
    roc_auc,
    roc_curve,
    signal_scores,
)

SCORES = [0.1, 0.4, 0.35, 0.8]
LABELS = [0, 0, 1, 1]


def test_auc_of_the_textbook_example_is_three_quarters():
    assert roc_auc(SCORES, LABELS) == pytest.approx(0.75)


def test_auc_counts_ties_as_one_half():
    # pairs (signal, background): (1,2)→0, (1,0)→1, (2,2)→½, (2,0)→1
    assert roc_auc([1, 2, 2, 0], [1, 1, 0, 0]) == pytest.approx(2.5 / 4)
    assert roc_auc([0.5, 0.5], [0, 1]) == pytest.approx(0.5)


def test_roc_points_of_the_textbook_example():
    fpr, tpr, thresholds = roc_curve(SCORES, LABELS)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    assert thresholds[0] == np.inf and list(thresholds[1:]) == [0.8, 0.4, 0.35, 0.1]


def test_rejection_on_a_vertical_segment_takes_the_lowest_background():
    # ROC (0,0) → (0,½) → (½,½) → (½,1) → (1,1)
    assert background_rejection(SCORES, LABELS, 0.3) == math.inf
    assert background_efficiency(SCORES, LABELS, 0.5) == 0.0
    assert background_efficiency(SCORES, LABELS, 0.75) == pytest.approx(0.5)
    assert background_rejection(SCORES, LABELS, 0.75) == pytest.approx(2.0)


def test_rejection_interpolates_along_a_tied_diagonal_segment():
    # one tie group holds both signal jets and one of the two background jets: ROC
    # (0,0) → (½,1) → (1,1); at ε_S = 0.3 the interpolated ε_B is 0.15
    scores, labels = [1, 1, 1, 0], [1, 1, 0, 0]
    assert background_efficiency(scores, labels, 0.3) == pytest.approx(0.15)
    assert background_rejection(scores, labels, 0.3) == pytest.approx(1 / 0.15)


sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_and_auc_equal_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    scores = rng.integers(0, 15, 300) + 2.0 * labels  # many ties
    fpr, tpr, thr = sklearn_metrics.roc_curve(labels, scores, drop_intermediate=False)
    mine = roc_curve(scores, labels)
    np.testing.assert_allclose(mine[0], fpr)
    np.testing.assert_allclose(mine[1], tpr)
    np.testing.assert_allclose(mine[2][1:], thr[1:])
    assert roc_auc(scores, labels) == pytest.approx(sklearn_metrics.roc_auc_score(labels, scores))


@pytest.mark.parametrize("eps_s", [0.3, 0.5])
def test_rejection_equals_numpy_interp_on_sklearn_curve(eps_s):
    rng = np.random.default_rng(5)
    labels = np.r_[np.ones(501, int), np.zeros(700, int)]  # 0.3 · 501 is not an integer
    scores = rng.normal(size=len(labels)) + 1.5 * labels
    fpr, tpr, _ = sklearn_metrics.roc_curve(labels, scores)
    expected = 1.0 / np.interp(eps_s, tpr, fpr)
    assert background_rejection(scores, labels, eps_s) == pytest.approx(expected, rel=1e-12)


def test_logit_difference_breaks_ties_that_softmax_saturates():
    logits = torch.tensor([[0.0, 40.0], [0.0, 50.0]])
    assert torch.softmax(logits, 1)[0, 1] == torch.softmax(logits, 1)[1, 1]  # float32 ties
    s = signal_scores(logits)
    assert s[1] > s[0]


def test_accuracy_from_logits_and_from_classes():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(logits, [0, 1, 1]) == pytest.approx(2 / 3)
    assert accuracy(np.array([0, 1, 1]), np.array([0, 1, 1])) == 1.0


def test_classification_metrics_keys_and_single_class_gives_none():
    logits = torch.tensor([[0.0, s] for s in SCORES])
    m = classification_metrics(logits, torch.tensor(LABELS))
    assert set(m) == {"accuracy", "auc", "rejection_30", "rejection_50"}
    assert m["auc"] == pytest.approx(0.75)
    one = classification_metrics(logits, torch.ones(4, dtype=torch.long))
    assert one["auc"] is None and one["rejection_30"] is None and one["accuracy"] == 1.0


def test_mae_in_dataset_units_and_scaled():
    pred, target = torch.tensor([[1.0], [2.0]]), torch.tensor([[1.5], [1.0]])
    assert mean_absolute_error(pred, target) == pytest.approx(0.75)
    m = regression_metrics(pred, target, unit="meV", unit_scale=1000.0)
    assert m["mae_meV"] == pytest.approx(750.0)
    assert m["mse"] == pytest.approx((0.25 + 1.0) / 2)


@pytest.mark.parametrize(
    "call",
    [
        lambda: roc_auc([0.1, np.nan], [0, 1]),
        lambda: roc_auc([0.1, 0.2], [1, 1]),
        lambda: roc_auc([0.1, 0.2], [0, 2]),
        lambda: roc_auc([0.1, 0.2, 0.3], [0, 1]),
        lambda: background_rejection(SCORES, LABELS, 1.5),
        lambda: mean_absolute_error([1.0, 2.0], [1.0]),
        lambda: accuracy(np.zeros((0, 2)), np.zeros(0)),
        lambda: signal_scores(np.zeros((3, 3))),
    ],
)
def test_bad_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()
