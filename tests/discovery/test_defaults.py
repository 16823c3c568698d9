"""LieGAN's defaults on data nobody tuned for, the stopping rule and built-in restarts."""

import math
import time

import pytest
import torch

from liegnn.algebra import so
from liegnn.discovery import LieGAN, select_best
from liegnn.discovery.tasks.conjugated import CASES, conjugated


def _ring(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    theta = torch.rand(n, generator=g) * 2 * math.pi
    r = 1 + 0.1 * torch.randn(n, generator=g)
    return torch.stack([r * theta.cos(), r * theta.sin()], 1)


def _tiny(**options):
    return dict(dict(hidden=16, batch_size=32, steps_per_epoch=8), **options)


# -- the defaults ---------------------------------------------------------------------------------


def test_defaults_find_a_conjugated_so2_and_stop_by_themselves():
    data = conjugated("so2", 3, n_samples=3000, seed=7)
    result = LieGAN(3, 1).fit(data.x, progress=False)
    assert result.config["stop"]["reason"] == "converged"
    assert result.config["stop"]["epochs"] < result.config["epochs"]
    assert result.compare(data.truth)["subspace_similarity"] >= 0.99


@pytest.mark.slow
@pytest.mark.parametrize("data_seed, n_samples", [(0, 3000), (1, 10000)])
@pytest.mark.parametrize("group, n, targets", CASES)
def test_defaults_find_the_span_of_a_randomly_conjugated_group(
    group, n, targets, data_seed, n_samples, record_property
):
    data = conjugated(group, n, targets=targets, n_samples=n_samples, seed=data_seed)
    start = time.perf_counter()
    result = LieGAN(n, data.truth.shape[0]).fit(data.x, data.y, progress=False)
    record_property("seconds", time.perf_counter() - start)
    record_property("epochs", result.config["stop"]["epochs"])
    assert result.compare(data.truth)["subspace_similarity"] >= 0.99


# -- the stopping rule --------------------------------------------------------------------------


def test_stopping_rule_stops_a_run_whose_span_does_not_move():
    # fixed generators: the span never moves, so the rule fires as soon as it may
    gan = LieGAN(2, init=so(2), learn_generators=False, min_epochs=3, stop_patience=2, **_tiny())
    result = gan.fit(_ring(), epochs=50, progress=False)
    assert result.config["stop"] == {"reason": "converged", "epochs": 3}
    assert len(result.history["span_change"]) == 3
    assert max(result.history["span_change"]) < gan.run.stop_tol


def test_stopping_rule_does_not_stop_a_moving_run():
    # from a random start the generators keep turning by more than this tolerance
    gan = LieGAN(2, stop_tol=1e-6, min_epochs=1, stop_patience=1, **_tiny())
    result = gan.fit(_ring(), epochs=6, progress=False)
    assert result.config["stop"] == {"reason": "epochs", "epochs": 6}
    assert min(result.history["span_change"]) >= 1e-6


def test_without_a_tolerance_the_run_trains_every_epoch():
    gan = LieGAN(2, init=so(2), learn_generators=False, stop_tol=None, min_epochs=1, **_tiny())
    assert gan.fit(_ring(), epochs=4, progress=False).config["stop"]["reason"] == "epochs"


def test_resumed_run_stops_where_the_uninterrupted_one_does(tmp_path):
    opts = _tiny(stop_tol=0.2, min_epochs=2, stop_patience=2, seed=1)
    full = LieGAN(2, **opts).fit(_ring(), epochs=40, progress=False)
    stopped = full.config["stop"]["epochs"]
    assert full.config["stop"]["reason"] == "converged" and stopped > 2
    ckpt = tmp_path / "run.ckpt"
    LieGAN(2, **opts).fit(_ring(), epochs=stopped - 1, checkpoint=ckpt, progress=False)
    resumed = LieGAN(2, **opts).fit(_ring(), epochs=40, resume=ckpt, progress=False)
    assert resumed.config["stop"] == full.config["stop"]
    assert torch.equal(resumed.generators, full.generators)


def test_epochs_none_uses_the_run_settings_cap():
    gan = LieGAN(2, epochs=2, stop_tol=None, **_tiny())
    assert len(gan.fit(_ring(), progress=False).history["loss_d"]) == 2


# -- restarts -----------------------------------------------------------------------------------


def test_restarts_return_what_select_best_picks_without_the_truth():
    gan = LieGAN(2, seed=5, **_tiny())
    best = gan.fit(_ring(), epochs=3, restarts=3, progress=False)
    assert [r.config["seed"] for r in gan.results] == [5, 6, 7]
    assert best is select_best(gan.results)
    summary = best.config["runs"]
    assert [s["seed"] for s in summary] == [5, 6, 7]
    assert [s["chosen"] for s in summary].count(True) == 1
    assert summary[[s["chosen"] for s in summary].index(True)]["seed"] == best.config["seed"]
    # the chosen run's modules are kept, and each run is the plain run of its seed
    assert torch.equal(gan.generator_average.module.generators, best.generators)
    alone = LieGAN(2, seed=6, **_tiny()).fit(_ring(), epochs=3, progress=False)
    assert torch.equal(gan.results[1].generators, alone.generators)


def test_restarts_setting_is_the_default_of_fit():
    gan = LieGAN(2, restarts=2, **_tiny())
    gan.fit(_ring(), epochs=1, progress=False)
    assert len(gan.results) == 2


def test_bad_restarts_are_rejected():
    with pytest.raises(ValueError, match="restarts"):
        LieGAN(2, **_tiny()).fit(_ring(), epochs=1, restarts=0, progress=False)


# -- retries --------------------------------------------------------------------------------------


def test_a_run_settled_on_a_non_symmetry_is_retried_with_the_next_seeds():
    # fixed generators: a scaling (no symmetry of the ring) settles at once, and D sees through it
    scaling = 2 * torch.eye(2)[None]
    fixed = dict(init=scaling, learn_generators=False, min_epochs=4, stop_patience=2, lr_d=1e-2)
    gan = LieGAN(2, seed=3, retries=2, **_tiny(**fixed))
    result = gan.fit(_ring(), epochs=20, progress=False)
    assert [r.config["seed"] for r in gan.results] == [3, 4, 5]
    assert [s["seed"] for s in result.config["runs"]] == [3, 4, 5]
    assert result is select_best(gan.results)


def test_a_run_that_fools_its_discriminator_is_not_retried():
    fixed = dict(init=so(2), learn_generators=False, min_epochs=4, stop_patience=2, lr_d=1e-2)
    gan = LieGAN(2, retries=2, **_tiny(**fixed))
    result = gan.fit(_ring(), epochs=20, progress=False)
    assert len(gan.results) == 1 and "runs" not in result.config
