import json

import numpy as np
import pytest
import torch

from liegnn.algebra import lorentz
from liegnn.cli import main


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "discover", "metric", "basis", "train"):
        assert command in out


def test_metric_of_lorentz_name_is_minkowski(tmp_path, capsys):
    out_json = tmp_path / "metric.json"
    assert main(["metric", "lorentz", "--compare", "minkowski", "--json", str(out_json)]) == 0
    summary = json.loads(out_json.read_text())
    assert summary["nullity"] == 1
    np.testing.assert_allclose(summary["metric"], np.diag([1.0, -1, -1, -1]), atol=1e-12)
    assert summary["similarity_minkowski"] == pytest.approx(1.0, abs=1e-12)
    assert "|cosine| with minkowski: 1.000000" in capsys.readouterr().out


def test_metric_reads_generators_from_a_file(tmp_path):
    P = torch.tensor(
        [[2.0, 0.3, 0, 0], [0, 1, 0.2, 0], [0, 0, 1, 0], [0.1, 0, 0, 1.5]], dtype=torch.float64
    )
    L = P @ lorentz(dtype=torch.float64) @ torch.linalg.inv(P)
    path = tmp_path / "basis.npy"
    np.save(path, L.numpy())
    out_json = tmp_path / "m.json"
    assert main(["metric", str(path), "--json", str(out_json)]) == 0
    J = torch.tensor(json.loads(out_json.read_text())["metric"], dtype=torch.float64)
    Pinv = torch.linalg.inv(P)
    expected = Pinv.T @ torch.diag(torch.tensor([1.0, -1, -1, -1], dtype=torch.float64)) @ Pinv
    cos = (J * expected).sum() / (J.norm() * expected.norm())
    assert abs(float(cos)) > 1 - 1e-10


def test_metric_rejects_an_unknown_basis_with_a_message():
    with pytest.raises(SystemExit, match="neither a file nor a known algebra"):
        main(["metric", "not-an-algebra"])


@pytest.mark.parametrize(
    "rep_in, rep_out, options, maps",
    [
        ("V*V", "V", [], 1),  # the cross product
        ("V*V", "V", ["--parity"], 0),  # ... is not O(3)-equivariant
        ("V**2", "V**2", ["--noise", "1e-3"], 3),  # auto cut keeps the noisy maps
    ],
)
def test_basis_counts_equivariant_maps(tmp_path, capsys, rep_in, rep_out, options, maps):
    path = tmp_path / "basis.pt"
    assert (
        main(["basis", rep_in, rep_out, "--algebra", "so(3)", "--save", str(path), *options]) == 0
    )
    assert f"equivariant maps: {maps}" in capsys.readouterr().out
    basis = torch.load(path, weights_only=True)["basis"]
    assert basis.shape[1] == maps


def test_basis_rejects_an_unreadable_rep():
    with pytest.raises(SystemExit, match="cannot read the rep"):
        main(["basis", "V+", "V", "--algebra", "so(3)"])


def test_train_nbody_writes_metrics_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "nbody", "--epochs", "1", "--n-trajectories", "40", "--model", "mlp"]
    args += ["--out", str(out), "--no-progress", "--root", str(tmp_path / "cache")]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 1
    assert np.isfinite(metrics["test"]["mse"])
    assert "test metrics" in capsys.readouterr().out
    # a second call finds the finished run and gives the same test metrics
    assert main(args) == 0
    assert json.loads((out / "metrics.json").read_text())["test"] == metrics["test"]


def test_discover_help_lists_every_task(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["discover", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for task in ("nbody", "nbody3", "discrete-rotation", "partial-permutation", "su2", "digits"):
        assert task in out
    assert "toptag" in out and "qm9" in out
    assert "the rotation by 2π/7 about z" in out


def test_discover_quick_c7_writes_the_three_files(tmp_path, capsys):
    out = tmp_path / "c7"
    args = ["discover", "discrete-rotation", "--quick", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    assert {"basis.pt", "generators.png", "summary.json"} <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "discrete-rotation" and summary["quick"]
    printed = capsys.readouterr().out
    assert "L[0] =" in printed and "similarity to the truth" in printed
    assert f"MAE {summary['truth']['mae']:.4f}" in printed


def test_discover_overrides_reach_the_recipe(tmp_path):
    out = tmp_path / "o"
    args = ["discover", "partial-permutation", "--quick", "--out", str(out), "--no-progress"]
    args += ["--channels", "2", "--coefficients", "integer", "--u", "2", "--lr-g", "0.02"]
    args += ["--set", "lr_decay=0.5", "--set", "hidden=16", "--epochs", "1"]
    assert main(args) == 0
    recipe = json.loads((out / "summary.json").read_text())["recipe"]
    assert recipe["n_channels"] == 2 and recipe["lr_g"] == 0.02
    assert recipe["lr_decay"] == 0.5 and recipe["hidden"] == 16
    assert recipe["coefficient_options"] == {"u": 2}


def test_discover_user_file_and_train_reads_the_saved_basis(tmp_path):
    from liegnn.training.symmetry import parse_symmetry

    x = torch.randn(300, 3, generator=torch.Generator().manual_seed(0))
    np.savez(tmp_path / "iso.npz", x=x.numpy())
    out = tmp_path / "iso"
    args = ["discover", str(tmp_path / "iso.npz"), "--out", str(out), "--no-progress"]
    assert main(args + ["--epochs", "1", "--steps-per-epoch", "2", "--channels", "3"]) == 0
    basis = parse_symmetry(f"discovered:{out / 'basis.pt'}").symmetry(3).generators
    assert basis.shape == (3, 3, 3) and basis.dtype == torch.float64


def test_discover_rejects_bad_input_with_a_message(tmp_path):
    with pytest.raises(SystemExit, match="unknown discovery task 'nope'"):
        main(["discover", "nope", "--out", str(tmp_path)])
    np.savez(tmp_path / "bad.npz", y=np.zeros(3))
    with pytest.raises(SystemExit, match="no array 'x'"):
        main(["discover", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="--set needs KEY=VALUE"):
        main(["discover", "su2", "--set", "lr_g"])
    with pytest.raises(SystemExit, match="unknown LieGAN setting"):
        main(["discover", "su2", "--quick", "--set", "lr_x=1", "--out", str(tmp_path / "p")])


def test_train_passes_the_qm9_model_and_affine_options(monkeypatch):
    import liegnn.training.experiments as experiments

    seen = {}

    def fake_run(task, symmetry, **kwargs):
        seen.update(task=task, symmetry=symmetry, **kwargs)
        return {"model": "E3nnGateNetwork", "symmetry": symmetry, "test": {"mae": 0.0}}

    monkeypatch.setattr(experiments, "run", fake_run)
    assert main(["train", "qm9", "--model", "e3nn", "--no-progress"]) == 0
    assert seen["model"] == "e3nn" and "affine" not in seen
    main(["train", "qm9", "--symmetry", "euclidean", "--augment", "--affine", "--no-progress"])
    assert seen["affine"] is True and seen["augment"] is True


def test_discover_data_option_names_the_jet_file(tmp_path, monkeypatch):
    from liegnn.discovery.tasks import toptag

    monkeypatch.delenv(toptag.DATA_ENV, raising=False)
    missing = tmp_path / "nothing.h5"
    with pytest.raises(SystemExit, match="no jet file at .*nothing.h5"):
        main(["discover", "toptag", "--data", str(missing), "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="--data is for the toptag task"):
        main(["discover", "su2", "--data", str(missing), "--out", str(tmp_path / "p")])


def test_python_dash_m_liegnn_runs_the_command_with_the_installed_version():
    import subprocess
    import sys
    from importlib.metadata import version

    import liegnn

    done = subprocess.run(
        [sys.executable, "-m", "liegnn", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == f"liegnn {version('liegnn')}" == f"liegnn {liegnn.__version__}"
