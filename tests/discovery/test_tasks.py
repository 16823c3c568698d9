import json
import math
import os

import numpy as np
import pytest
import torch

from liegnn.discovery import DiscoveryResult
from liegnn.discovery.tasks import (
    DiscoveryTask,
    TaskData,
    discovery_task,
    merged_recipe,
    run_task,
    task_names,
    task_summaries,
)
from liegnn.discovery.tasks.user import file_task, read_task_file
from liegnn.io import LOCK_NAME, FolderInUseError, output_lock


def ring(n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    theta = torch.rand(n, generator=g) * 2 * math.pi
    r = 1 + 0.1 * torch.randn(n, generator=g)
    return torch.stack([r * theta.cos(), r * theta.sin()], dim=1)


def ring_task(**recipe):
    def load(seed, quick):
        return TaskData(
            x=ring(seed=seed), truth=torch.tensor([[[0.0, -1.0], [1.0, 0.0]]]), info={"n": 512}
        )

    base = dict(n=2, hidden=32, lr_g=1e-2, lr_d=1e-3, identity_weight=0.1)
    base.update(recipe)
    return DiscoveryTask(
        name="ring",
        description="a noisy circle: so(2)",
        load=load,
        recipe=base,
        epochs=3,
        quick_epochs=1,
        steps_per_epoch=5,
        seeds=2,
        check=lambda result, data: {"norm": float(result.generators.norm())},
    )


def test_registry_lists_every_task_with_a_description():
    names = task_names()
    assert names == list(task_summaries())
    for name in ("nbody", "nbody3", "discrete-rotation", "partial-permutation", "su2", "digits"):
        assert name in names
    assert {"toptag", "qm9"} <= set(names)


def test_registry_rejects_an_unknown_task_and_lists_the_names():
    with pytest.raises(ValueError, match="unknown discovery task 'so3'.*discrete-rotation"):
        discovery_task("so3")
    with pytest.raises(ValueError, match="unknown discovery task"):
        run_task("not-a-task", out="unused")


def test_registry_imports_the_synthetic_tasks_by_name():
    for name in ("discrete-rotation", "partial-permutation", "su2", "digits"):
        task = discovery_task(name)
        assert task.name == name
        assert task.description == task_summaries()[name]


def test_run_task_writes_basis_figure_and_summary(tmp_path):
    summary = run_task(ring_task(), out=tmp_path, progress=False)
    assert {p.name for p in tmp_path.iterdir()} >= {"basis.pt", "generators.png", "summary.json"}
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == summary
    assert summary["seeds"] == [0, 1] and summary["chosen_seed"] in (0, 1)
    assert len(summary["runs"]) == 2 and summary["epochs"] == 3
    loaded = DiscoveryResult.load(tmp_path / "basis.pt")
    assert loaded.generators.shape == (1, 2, 2)
    np.testing.assert_allclose(summary["generators"], loaded.generators.numpy(), rtol=1e-6)
    assert summary["check"]["norm"] == pytest.approx(float(loaded.generators.norm()), rel=1e-5)
    assert 0.0 <= summary["truth"]["subspace_similarity"] <= 1.0


def test_run_task_quick_runs_one_seed_for_quick_epochs(tmp_path):
    summary = run_task(ring_task(), out=tmp_path, quick=True, progress=False)
    assert summary["seeds"] == [0] and summary["epochs"] == 1 and summary["quick"]


def test_recipe_overrides_reach_lie_gan(tmp_path):
    summary = run_task(
        ring_task(),
        out=tmp_path,
        seeds=1,
        epochs=1,
        progress=False,
        recipe={"n_channels": 2, "channel_weight": 0.5, "coefficients": "uniform"},
    )
    config = DiscoveryResult.load(tmp_path / "basis.pt").config
    assert config["n_channels"] == 2 and config["channel_weight"] == 0.5
    assert config["coefficients"] == "uniform"
    assert np.asarray(summary["generators"]).shape == (2, 2, 2)


def test_overriding_coefficients_drops_the_old_options():
    task = discovery_task("discrete-rotation")
    recipe = merged_recipe(task, {"coefficients": "normal"})
    assert "coefficient_options" not in recipe and recipe["coefficients"] == "normal"
    assert merged_recipe(task, {})["coefficient_options"] == task.recipe["coefficient_options"]


def test_unknown_override_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="unknown LieGAN setting.*'lr_x'.*identity_weight"):
        merged_recipe(ring_task(), {"lr_x": 1.0})


def test_rerun_resumes_the_finished_run_with_the_same_result(tmp_path):
    first = run_task(ring_task(), out=tmp_path, seeds=1, progress=False)
    assert (tmp_path / "checkpoints" / "run-seed0.ckpt").exists()
    again = run_task(ring_task(), out=tmp_path, seeds=1, progress=False)
    assert again["generators"] == first["generators"]
    # more epochs continue from the checkpoint: the first three epochs' history is kept
    longer = run_task(ring_task(), out=tmp_path, seeds=1, epochs=4, progress=False)
    history = DiscoveryResult.load(tmp_path / "basis.pt").history
    assert len(history["loss_d"]) == 4 and longer["epochs"] == 4


def test_an_all_zero_result_is_reported_not_crashed_on(tmp_path):
    task = ring_task(init="zero", learn_generators=False)
    task.load = lambda seed, quick: TaskData(x=ring(seed=seed))  # no truth to compare with
    summary = run_task(task, out=tmp_path, seeds=1, epochs=1, progress=False)
    assert summary["canonical"] is None and summary["truth"] is None
    assert np.all(np.asarray(summary["generators"]) == 0)


def test_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path):
    whole = run_task(ring_task(), out=tmp_path / "a", seeds=1, epochs=3, progress=False)
    run_task(ring_task(), out=tmp_path / "b", seeds=1, epochs=2, progress=False)  # "killed"
    resumed = run_task(ring_task(), out=tmp_path / "b", seeds=1, epochs=3, progress=False)
    assert resumed["generators"] == whole["generators"]


def test_resume_with_other_settings_names_the_way_out(tmp_path):
    run_task(ring_task(), out=tmp_path, seeds=1, epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"different settings \(hidden\).*--no-resume"):
        run_task(ring_task(hidden=16), out=tmp_path, seeds=1, epochs=1, progress=False)
    summary = run_task(
        ring_task(hidden=16), out=tmp_path, seeds=1, epochs=1, progress=False, resume=False
    )
    assert summary["recipe"]["hidden"] == 16


@pytest.mark.parametrize("suffix", [".npz", ".pt"])
def test_user_file_round_trip(tmp_path, suffix):
    x = ring(256).numpy()
    truth = np.array([[[0.0, -1.0], [1.0, 0.0]]])
    path = tmp_path / f"data{suffix}"
    if suffix == ".npz":
        np.savez(path, x=x, truth=truth)
    else:
        torch.save({"x": torch.from_numpy(x), "truth": torch.from_numpy(truth)}, path)
    summary = run_task(
        path,
        out=tmp_path / "out",
        epochs=2,
        steps_per_epoch=3,
        progress=False,
        recipe={"n_channels": 2, "identity_weight": 0.2},
    )
    assert summary["task"] == path.name
    assert summary["data"]["x_shape"] == [256, 2]
    assert summary["recipe"]["n"] == 2 and summary["recipe"]["n_channels"] == 2
    assert summary["recipe"]["identity_weight"] == 0.2
    assert summary["truth"] is not None
    loaded = DiscoveryResult.load(tmp_path / "out" / "basis.pt")
    assert loaded.generators.shape == (2, 2, 2)


def test_user_file_with_labels_and_complex_data(tmp_path):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(200, 3, dtype=torch.complex64, generator=g)
    labels = torch.randint(3, (200,), generator=g)
    path = tmp_path / "c.pt"
    torch.save({"x": z, "y": labels}, path)
    task = file_task(path)
    assert task.recipe["complex"] is True and task.recipe["n"] == 3
    summary = run_task(path, out=tmp_path / "o", epochs=1, steps_per_epoch=2, progress=False)
    assert "imag" in summary["generators"]


def test_affine_user_file_searches_homogeneous_coordinates(tmp_path):
    path = tmp_path / "cloud.npz"
    np.savez(path, x=np.random.default_rng(0).normal(size=(64, 5, 3)))
    task = file_task(path, rep_x="affine")
    assert task.recipe["n"] == 4
    assert task.recipe["mask"][-1].abs().sum() == 0  # the last row stays zero


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"y": np.zeros((10, 1))}, "no array 'x'"),
        ({"x": np.full((10, 2), np.nan)}, "x contains NaN"),
        ({"x": np.zeros((10, 2)), "labels": np.zeros(10)}, r"unknown key\(s\) \['labels'\]"),
        ({"x": np.zeros((10, 2)), "y": np.zeros((9, 1))}, "y has 9 rows but x has 10"),
        ({"x": np.zeros(10)}, "x must have shape"),
        ({"x": np.zeros((10, 2)), "truth": np.zeros((1, 3, 3))}, "truth acts on dimension 3"),
    ],
)
def test_bad_user_file_is_refused_with_a_clear_error(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=message):
        file_task(path)


def test_unreadable_or_unsafe_files_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_task_file(tmp_path / "missing.npz")
    text = tmp_path / "data.csv"
    text.write_text("1,2\n")
    with pytest.raises(ValueError, match=r"must be \.npz or \.pt"):
        file_task(text)
    pickled = tmp_path / "obj.pt"
    torch.save({"x": torch.zeros(4, 2), "note": object()}, pickled)
    with pytest.raises(ValueError, match="not a safe torch file"):
        file_task(pickled)


def test_worker_processes_give_the_runs_of_the_sequential_path(tmp_path):
    seq = run_task(ring_task(), out=tmp_path / "seq", seeds=2, epochs=2, progress=False)
    par = run_task(ring_task(), out=tmp_path / "par", seeds=2, epochs=2, progress=False, workers=2)
    assert par["generators"] == seq["generators"] and par["chosen_seed"] == seq["chosen_seed"]
    assert (tmp_path / "par" / "checkpoints" / "run-seed1.ckpt").exists()


def test_a_second_run_on_the_same_out_is_refused_naming_the_holder(tmp_path):
    with output_lock(tmp_path, what="discovery run"):
        with pytest.raises(FolderInUseError, match=rf"{tmp_path} is in use .*{os.getpid()}"):
            run_task(ring_task(), out=tmp_path, seeds=1, epochs=1, progress=False)
        assert [p.name for p in tmp_path.iterdir()] == [LOCK_NAME]  # nothing written
    run_task(ring_task(), out=tmp_path, seeds=1, epochs=1, progress=False)
    assert LOCK_NAME not in {p.name for p in tmp_path.iterdir()}


def test_worker_resume_with_other_settings_names_them_and_the_way_out(tmp_path):
    run_task(ring_task(), out=tmp_path, seeds=2, epochs=1, progress=False, workers=2)
    with pytest.raises(ValueError, match=r"different settings \(hidden\).*--no-resume"):
        run_task(ring_task(hidden=16), out=tmp_path, seeds=2, epochs=1, progress=False, workers=2)


def test_run_task_with_discrete_adds_the_group_to_summary_figure_and_symmetry(tmp_path):
    from liegnn import Symmetry

    fast = dict(random_starts=256, restarts=32, steps=60, predictor_epochs=30)
    summary = run_task(
        "partial-permutation", out=tmp_path, quick=True, epochs=1, progress=False, discrete=fast
    )
    part = summary["discrete"]
    assert part["order"] == 6
    assert {e["name"] for e in part["elements"]} == {
        "()",
        "(1 2)",
        "(1 3)",
        "(2 3)",
        "(1 2 3)",
        "(1 3 2)",
    }
    assert summary["files"]["symmetry"] == "symmetry.pt"
    sym = Symmetry.load(tmp_path / "symmetry.pt")
    assert sym.discrete is not None and len(sym.discrete) == len(part["generators"])
    assert json.loads((tmp_path / "summary.json").read_text())["discrete"]["order"] == 6


def test_run_task_discrete_refuses_an_image_task(tmp_path):
    with pytest.raises(ValueError, match="discrete search needs vectors"):
        run_task("digits", out=tmp_path, quick=True, epochs=1, progress=False, discrete=True)


def test_discrete_part_drops_the_generators_of_a_collapsed_lie_gan_run():
    from liegnn.discovery import DiscoveryResult
    from liegnn.discovery.tasks import _discrete_part, merged_recipe

    task = discovery_task("partial-permutation")
    data = task.load(0, True)
    L = torch.zeros(1, 5, 5)
    L[0, 3, 4], L[0, 4, 3] = -0.1, 0.1
    fast = dict(random_starts=64, restarts=8, steps=10, predictor_epochs=5)
    recipe = merged_recipe(task, None)
    gone = DiscoveryResult(L, history={"identity_reg": [1.0, 1.0, 1.0]})
    assert _discrete_part(task, recipe, data, gone, 0, fast).continuous is None
    kept = DiscoveryResult(L, history={"identity_reg": [0.4, 0.3, 0.3]})
    assert torch.equal(_discrete_part(task, recipe, data, kept, 0, fast).continuous.float(), L)
