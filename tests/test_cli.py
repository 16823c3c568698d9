import argparse
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


def test_train_hidden_and_n_layers_set_the_model_size(tmp_path):
    from liegnn.training.baselines import MLP

    out = tmp_path / "run"
    args = ["train", "nbody", "--epochs", "1", "--n-trajectories", "40", "--model", "mlp"]
    args += ["--hidden", "8", "--n-layers", "1", "--out", str(out), "--no-progress"]
    assert main(args + ["--root", str(tmp_path / "cache")]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    # 5 past and 5 future steps of the 2-body state (positions and momenta in 2D, n = 8)
    expected = sum(p.numel() for p in MLP((5, 8), (5, 8), 8, 1).parameters())
    assert metrics["n_parameters"] == expected


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


def _exit_message(argv: list[str]) -> str:
    """The message of the SystemExit ``main(argv)`` ends with: one line, ``liegnn CMD: ...``."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    message = exit_info.value.code
    assert isinstance(message, str), f"exit status {message!r} instead of a message"
    assert message.startswith(f"liegnn {argv[0]}: ") and "\n" not in message
    return message


def _npz_bytes(**arrays) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content, reason",
    [
        (_npz_bytes(x=np.ones((5, 3)))[:150], "cannot read the .npz file"),  # truncated
        (b"", "cannot read the .npz file"),  # empty
        (_npz_bytes(x=np.array(["a", "b", "c"])), "x must hold numbers"),
        (_npz_bytes(x=np.ones((3, 2)), y=np.array(["a", "b", "c"])), "y must hold numbers"),
    ],
    ids=["truncated", "empty", "string-x", "string-y"],
)
def test_discover_refuses_an_unreadable_data_file_in_one_line(tmp_path, content, reason):
    path = tmp_path / "data.npz"
    path.write_bytes(content)
    message = _exit_message(["discover", str(path), "--out", str(tmp_path / "o")])
    assert reason in message and "data.npz" in message


def test_discover_takes_huge_integer_labels_as_classes(tmp_path):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=gen)
    y = np.where(np.arange(64) % 2 == 0, 0, 10**12)  # an embedding sized by max label: 128 TB
    np.savez(tmp_path / "labels.npz", x=x.numpy(), y=y)
    out = tmp_path / "o"
    args = ["discover", str(tmp_path / "labels.npz"), "--out", str(out), "--no-progress"]
    assert main(args + ["--epochs", "1", "--steps-per-epoch", "1"]) == 0
    assert json.loads((out / "summary.json").read_text())["runs"]


@pytest.mark.parametrize(
    "name, content",
    [
        ("basis.pt", "truncated-pt"),
        ("basis.pt", b"not a torch file"),
        ("basis.safetensors", "truncated-safetensors"),
        ("basis.safetensors", b"not a safetensors file"),
        ("basis.npz", b""),
        ("basis.npz", "truncated-npz"),
    ],
)
def test_metric_refuses_a_corrupt_basis_file_in_one_line(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, str):  # a valid file cut in half
        from liegnn import Symmetry

        whole = tmp_path / f"whole{path.suffix}"
        if path.suffix == ".npz":
            whole.write_bytes(_npz_bytes(generators=lorentz().numpy()))
        else:
            Symmetry(lorentz()).save(whole)
        data = whole.read_bytes()
        content = data[: len(data) // 2]
    path.write_bytes(content)
    assert name in _exit_message(["metric", str(path)])


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--quick"],
        ["discover", "su2", "--quick"],
        ["train", "nbody", "--epochs", "1"],
    ],
    ids=lambda argv: argv[0],
)
def test_an_out_that_is_a_file_is_refused_in_one_line(tmp_path, argv):
    (tmp_path / "taken").write_text("")
    for out in (tmp_path / "taken", tmp_path / "taken" / "run"):
        message = _exit_message([*argv, "--out", str(out)])
        assert f"{tmp_path / 'taken'} is a file, not a folder" in message


def test_bad_numbers_in_options_are_refused_in_one_line(tmp_path):
    message = _exit_message(["metric", "lorentz", "--tol", "abc"])
    assert "--tol must be 'auto' or a number >= 0, got 'abc'" in message
    assert "got '-1'" in _exit_message(["metric", "lorentz", "--tol", "-1"])
    argv = ["discover", "su2", "--quick", "--out", str(tmp_path / "o"), "--set", 'lr_g="abc"']
    assert "lr_g" in _exit_message(argv)


@pytest.mark.parametrize("noise", ["nan", "-1", "inf"])
def test_basis_refuses_noise_that_is_not_a_standard_deviation(noise):
    message = _exit_message(["basis", "V", "V", "--algebra", "so(3)", "--noise", noise])
    assert "--noise must be a finite number >= 0" in message


#: the smallest command line of every subcommand that has --device
_DEVICE_COMMANDS = {"demo": ["demo"], "discover": ["discover", "su2"], "train": ["train", "nbody"]}


def _subcommands_with(option: str) -> set[str]:
    from liegnn.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name
        for name, parser in sub.choices.items()
        if any(option in a.option_strings for a in parser._actions)
    }


@pytest.mark.parametrize(
    "device, reason",
    [("cuda", "CUDA is not available"), ("cuda:0", "CUDA is not available"), ("gpu", "unknown")],
)
def test_every_device_option_is_checked_before_any_work(monkeypatch, device, reason):
    import liegnn.demo
    import liegnn.discovery.tasks
    import liegnn.training.experiments

    assert _subcommands_with("--device") == set(_DEVICE_COMMANDS)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def no_work(*args, **kwargs):
        raise AssertionError("the command started before checking --device")

    monkeypatch.setattr(liegnn.demo, "run_demo", no_work)
    monkeypatch.setattr(liegnn.discovery.tasks, "run_task", no_work)
    monkeypatch.setattr(liegnn.training.experiments, "run", no_work)
    for argv in _DEVICE_COMMANDS.values():
        message = _exit_message([*argv, "--device", device])
        assert reason in message and device in message


def test_train_help_explains_presets_schedule_targets_and_models(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    options = ("--preset", "--epochs", "--lr", "--batch-size", "--target", "--model")
    for option in options + ("--hidden", "--n-layers"):
        assert option in out
    assert "cpu: minutes on a laptop; full: the published scale" in out
    assert "passes over the training set (toptag 10 | 35; qm9 30 | 1000; nbody 100 | 5000)" in out
    assert "peak AdamW learning rate" in out and "global batch" in out
    assert "mu, alpha, homo, lumo" in out and "(default: homo)" in out
    assert "qm9: auto" in out and "e3nn" in out and "mpnn" in out
    assert "nbody: auto" in out and "emlp or mlp" in out
    assert "may be fractional" in out


def test_train_passes_a_fractional_warmup(monkeypatch):
    import liegnn.training.experiments as experiments

    seen = {}

    def fake_run(task, symmetry, **kwargs):
        seen.update(kwargs)
        return {"model": "MLP", "symmetry": symmetry, "test": {}}

    monkeypatch.setattr(experiments, "run", fake_run)
    assert main(["train", "nbody", "--warmup-epochs", "0.5", "--no-progress"]) == 0
    assert seen["warmup_epochs"] == 0.5


@pytest.mark.parametrize(
    "argv, reason",
    [
        (
            ["toptag", "--model", "e3nn"],
            "--model e3nn is not a toptag model; toptag takes auto, liegnn, pelican, lgatr, lloca",
        ),
        (["qm9", "--node-scalars", "model"], "--node-scalars is a toptag option, not one of qm9"),
        (["nbody", "--learnable-metric"], "--learnable-metric is a toptag option"),
        (["qm9", "--metric", "J.pt"], "--metric is a toptag option"),
        (["qm9", "--model", "emlp"], "--model emlp is not a qm9 model; qm9 takes auto, e3nn, mpnn"),
        (["nbody", "--model", "e3nn"], "--model e3nn is not a nbody model"),
        (["nbody", "--target", "homo"], "--target is a qm9 option, not one of nbody"),
        (["qm9", "--n-jets", "10"], "--n-jets is a toptag option, not one of qm9"),
    ],
)
def test_train_refuses_an_option_of_another_task(monkeypatch, argv, reason):
    import liegnn.training.experiments as experiments

    def no_run(*args, **kwargs):
        raise AssertionError("trained with an option that does not apply")

    monkeypatch.setattr(experiments, "run", no_run)
    assert reason in _exit_message(["train", *argv])


def test_the_library_calls_behind_device_refuse_cuda_without_cuda(tmp_path, monkeypatch):
    from liegnn.discovery.tasks import run_task
    from liegnn.training.experiments import run

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device='cuda'.*CUDA is not available"):
        run_task("su2", out=tmp_path / "d", quick=True, device="cuda", progress=False)
    with pytest.raises(ValueError, match="device='cuda'.*CUDA is not available"):
        run("nbody", "none", device="cuda", epochs=1, out=tmp_path / "t", progress=False)


def test_train_toptag_passes_the_metric_options(tmp_path, monkeypatch):
    import liegnn.training.experiments as experiments

    seen = {}

    def fake_run(task, symmetry, **kwargs):
        seen.clear()
        seen.update(task=task, symmetry=symmetry, **kwargs)
        return {"model": "LieGNN", "symmetry": None, "n_parameters": 7, "test": {}}

    monkeypatch.setattr(experiments, "run", fake_run)
    J = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0]))
    torch.save(J, tmp_path / "J.pt")
    argv = ["train", "toptag", "--metric", str(tmp_path / "J.pt"), "--learnable-metric"]
    assert main([*argv, "--node-scalars", "model", "--no-progress"]) == 0
    assert seen["symmetry"] is None and seen["metric"] == str(tmp_path / "J.pt")
    assert seen["learnable_metric"] is True and seen["node_scalars"] == "model"
    assert main([*argv, "--flip-metric-sign", "--no-progress"]) == 0
    torch.testing.assert_close(seen["metric"], -J)  # read and flipped, never rescaled
    assert main(["train", "toptag", "--model", "lloca", "--no-progress"]) == 0
    assert seen["model"] == "lloca" and seen["symmetry"] is None and "metric" not in seen


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--metric", "{dir}/J.pt", "--symmetry", "minkowski"], "either --symmetry or --metric"),
        (["--flip-metric-sign"], "--flip-metric-sign needs --metric"),
        (["--metric", "{dir}/bad.npy"], "must be symmetric"),
        (["--metric", "{dir}/none.pt", "--flip-metric-sign"], "no metric file"),
    ],
)
def test_train_toptag_refuses_bad_metric_options_in_one_line(tmp_path, monkeypatch, argv, reason):
    import liegnn.training.experiments as experiments

    def no_run(*args, **kwargs):
        raise AssertionError("trained despite a bad metric option")

    monkeypatch.setattr(experiments, "run", no_run)
    torch.save(torch.eye(4), tmp_path / "J.pt")
    np.save(tmp_path / "bad.npy", np.triu(np.ones((4, 4))))
    argv = [a.format(dir=tmp_path) for a in argv]
    assert reason in _exit_message(["train", "toptag", *argv])


def test_train_toptag_names_the_peers_extra_when_a_peer_is_missing(monkeypatch):
    import sys

    import liegnn.training.experiments as experiments
    from liegnn.training.peers import peer_model

    monkeypatch.setitem(sys.modules, "lgatr", None)
    monkeypatch.setattr(experiments, "run", lambda *a, **k: peer_model(k["model"]))
    message = _exit_message(["train", "toptag", "--model", "lgatr", "--no-progress"])
    assert "pip install 'liegnn[peers]'" in message
