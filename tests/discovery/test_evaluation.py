import math

import pytest
import torch

from liegnn.algebra import so
from liegnn.discovery import DiscoveryResult, select_best
from liegnn.discovery.evaluation import truth_metrics


def test_select_best_prefers_the_fooled_discriminator_and_smallest_generator():
    def run(scale, loss_d, identity):
        hist = {"loss_d": [loss_d] * 3, "identity_reg": [identity] * 3}
        return DiscoveryResult(scale * so(2), history=hist)

    collapsed = run(0.0 + 1e-6, math.log(2), 1.0)  # g = I fools D trivially
    partial = run(0.45, 0.67, 0.6)  # D still sees the difference
    exact, double = run(0.9, 0.6930, 0.33), run(1.8, 0.6931, 0.2)  # 2π/7 and 4π/7 both exact
    assert select_best([collapsed, partial, double, exact]) is exact
    assert select_best([collapsed, partial]) is partial


def test_select_best_rejects_results_without_history():
    import pytest

    with pytest.raises(ValueError, match="history"):
        select_best([DiscoveryResult(so(2))])


def test_truth_metrics_match_channels_of_a_permuted_basis():
    found = so(3)[[2, 0, 1]] * torch.tensor([2.0, -1.0, 0.5])[:, None, None]
    m = truth_metrics(found, so(3))
    assert abs(m["channel_cosine"] - 1.0) < 1e-6 and abs(m["subspace_similarity"] - 1.0) < 1e-6
    assert truth_metrics(found, None) == {}


def test_all_zero_generators_score_zero_similarity_instead_of_failing():
    m = truth_metrics(torch.zeros(1, 2, 2), so(2))
    assert m["channel_cosine"] == 0.0 and m["subspace_similarity"] == 0.0
    assert m["mae"] == pytest.approx(0.5)  # |±1| in two of four entries


def test_fooled_needs_a_discriminator_near_chance_and_no_collapse():
    from liegnn.discovery.evaluation import fooled

    def run(loss_d, identity_reg=0.3):
        return DiscoveryResult(
            torch.zeros(1, 2, 2), history={"loss_d": loss_d, "identity_reg": [identity_reg] * 3}
        )

    assert fooled(run([0.70, 0.692, 0.693, 0.691]))
    assert not fooled(run([0.69, 0.60, 0.58, 0.59]))  # D tells the transformed samples apart
    assert not fooled(run([0.693] * 3, identity_reg=1.0))  # g ≈ I fools D trivially
    assert not fooled(run([]))


def test_collapsed_reads_the_identity_regulariser_of_the_last_epochs():
    from liegnn.discovery.evaluation import collapsed

    gens = torch.zeros(1, 2, 2)
    assert collapsed(DiscoveryResult(gens, history={"identity_reg": [0.2, 0.995, 0.999, 1.0]}))
    assert not collapsed(DiscoveryResult(gens, history={"identity_reg": [1.0, 0.9, 0.5, 0.4]}))
    assert not collapsed(DiscoveryResult(gens, history={}))
