import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from liegnn.datasets.nbody import rotation_generator
from liegnn.discovery import LieGAN
from liegnn.discovery.result import DiscoveryResult
from liegnn.discovery.tasks import run_task
from liegnn.discovery.tasks.nbody import TASKS, load_windows, rotation_check

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_nbody.py"


@pytest.fixture(autouse=True)
def _cache(monkeypatch, tmp_path_factory):
    # one cache for the whole module: the quick orbits are integrated once
    monkeypatch.setenv("LIEGNN_CACHE", str(tmp_path_factory.getbasetemp() / "nbody-cache"))


def _bench():
    spec = importlib.util.spec_from_file_location("bench_nbody", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_2body_windows_have_paper_shapes_and_rotation_truth():
    task = TASKS["nbody"]
    data = task.load(0, True)
    assert data.x.shape[1:] == (5, 8) and data.y.shape == data.x.shape
    assert data.x.shape[0] == 48 * 41  # 48 of 60 trajectories train, 41 windows of 10 steps each
    torch.testing.assert_close(data.truth.double(), rotation_generator(2))
    assert task.recipe["n"] == 8 and task.recipe["rep_y"] == "standard"
    # the block mask: four 2x2 blocks on (q1, p1, q2, p2)
    assert int(task.recipe["mask"].sum()) == 16


def test_3body_windows_act_on_12_dims():
    data = load_windows(3, n_trajectories=8)
    assert data.x.shape == (6 * 41, 5, 12)
    torch.testing.assert_close(data.truth.double(), rotation_generator(3))
    assert TASKS["nbody3"].recipe["n"] == 12 and int(TASKS["nbody3"].recipe["mask"].sum()) == 24


def test_rotation_check_accepts_truth_and_rejects_coupling_or_counter_rotation():
    data = load_windows(2, n_trajectories=10)
    truth = DiscoveryResult(generators=rotation_generator(2).float())
    assert rotation_check(truth, data)["rotation_found"]
    coupled = rotation_generator(2).clone()
    coupled[0, 0, 4] = coupled[0, 4, 0] = 1.0  # q1x <-> q2x: outside the block mask
    found = rotation_check(DiscoveryResult(generators=coupled), data)
    assert found["off_block_fraction"] > 0.1 and not found["rotation_found"]
    counter = rotation_generator(2).clone()
    counter[0, 2:4, 2:4] *= -1  # p1 turns the other way
    assert not rotation_check(DiscoveryResult(generators=counter), data)["rotation_found"]


def test_quick_2body_discovery_finds_rotation():
    """A smoke check of the quick task (60 trajectories, 6 × 25 steps, seed 0), not the docs'
    claim: at this size the three seeds end at cosine 0.9991 / 0.9979 / 0.99987 (measured
    2026-11-29); the claimed 0.99995 is checked at the benchmark's size by the slow test below."""
    task = TASKS["nbody"]
    data = task.load(0, True)
    result = LieGAN(**task.recipe, seed=0).fit(
        data.x, data.y, epochs=task.quick_epochs, steps_per_epoch=task.steps_per_epoch,
        progress=False,
    )  # fmt: skip
    assert result.compare(data.truth)["mean_channel_cosine"] >= 0.99
    assert task.check(result, data)["rotation_found"]


@pytest.mark.slow
def test_2body_task_at_benchmark_size_finds_rotation_to_cosine_099995(tmp_path):
    """docs/results.md §1: the ``nbody`` task on bench_nbody's 200 trajectories (3 seeds × 40 × 25
    steps, the run select_best picks) has cosine ≥ 0.99995 with the rotation."""
    task = replace(TASKS["nbody"], load=lambda seed, quick: load_windows(2, seed, 200))
    summary = run_task(task, out=tmp_path, progress=False)
    assert summary["truth"]["mean_channel_cosine"] >= 0.99995
    assert summary["check"]["rotation_found"]


@pytest.mark.slow
def test_quick_3body_discovery_finds_rotation(tmp_path):
    """docs/results.md §1: the quick ``nbody3`` task (32 trajectories, 3 seeds × 15 × 25 steps, the
    run select_best picks) has cosine ≥ 0.999 with the rotation, every block ≥ 0.999."""
    summary = run_task("nbody3", out=tmp_path, quick=True, seeds=3, progress=False)
    assert summary["truth"]["mean_channel_cosine"] >= 0.999
    assert min(summary["check"]["block_cosines"]) >= 0.999
    assert summary["check"]["rotation_found"]


def test_bench_row_runner_saves_basis_trains_on_it_and_caches_rows(tmp_path):
    bench = _bench()
    cfg = dict(preset="cpu", n_trajectories=20, discovery_epochs=1, discovery_steps=2,
               liegan_seeds=1, train=dict(epochs=1))  # fmt: skip
    rows = {r["name"]: r for r in bench.rows(cfg)}
    assert len(rows) == 4 + 9 + 1 + 5  # discovery, EMLP (2 cuts x 4 + truth), MLP, augmentation
    found = bench.run_row(rows["discover-liegan"], cfg, tmp_path)
    assert 0.0 <= found["cosine"] <= 1.0 and (tmp_path / "bases" / "liegan" / "basis.pt").is_file()
    trained = bench.run_row(rows["emlp-liegan-cut0.005"], cfg, tmp_path)
    assert "error" not in trained and trained["test_mse"] > 0
    missing = bench.run_row(rows["augment-augerino"], cfg, tmp_path)
    assert "no basis for augerino" in missing["error"]
    cache = tmp_path / "rows" / "emlp-liegan-cut0.005.json"
    saved = json.loads(cache.read_text())
    saved["test_mse"] = -1.0  # a cached row is returned as stored, not recomputed
    cache.write_text(json.dumps(saved))
    assert bench.run_row(rows["emlp-liegan-cut0.005"], cfg, tmp_path)["test_mse"] == -1.0
    other = dict(cfg, train=dict(epochs=2))  # other settings: recomputed
    assert bench.run_row(bench.rows(other)[4], other, tmp_path)["test_mse"] > 0
    assert "| LieGAN (block mask) |" in bench.table({"discover-liegan": found})
