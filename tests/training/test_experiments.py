import json

import numpy as np
import pytest
import torch

from liegnn.algebra import bases
from liegnn.datasets.toptag_files import Jets, read_jets, write_converted, write_npz
from liegnn.training import experiments
from liegnn.training.experiments import (
    PRESETS,
    nbody_model,
    run,
    toptag_splits,
    train_nbody,
    train_qm9,
    train_toptag,
)
from liegnn.training.experiments.nbody import _emlp_available

TINY = dict(epochs=2, hidden=8, n_layers=2, batch_size=8, progress=False)


def _jet_file(path, n=40, seed=0):
    """Massless constituents; top jets (label 1) spread wider, as a learnable difference."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    counts = rng.integers(3, 12, size=n)
    momenta = np.zeros((n, 200, 4), np.float32)
    for i, (c, y) in enumerate(zip(counts, labels, strict=True)):
        p = rng.normal(size=(c, 3)) * [5 + 10 * y, 5 + 10 * y, 50]
        p = p[np.argsort(-np.hypot(p[:, 0], p[:, 1]))]
        momenta[i, :c, 1:] = p
        momenta[i, :c, 0] = np.linalg.norm(p, axis=1)
    write_converted(path, Jets(momenta, counts.astype(np.int64), labels.astype(np.int64)))
    return path


@pytest.fixture
def jets(tmp_path):
    return _jet_file(tmp_path / "jets.h5")


def test_tiny_toptag_run_writes_metrics_json(tmp_path, jets):
    out = tmp_path / "run"
    result = train_toptag("minkowski", data=jets, out=out, root=tmp_path / "cache", **TINY)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test"]["auc"] == result["test"]["auc"]
    for key in ("rejection_30", "rejection_50"):  # ∞ in Python, null in strict JSON
        value = result["test"][key]
        assert value >= 1.0 and saved["test"][key] == (None if value == float("inf") else value)
    assert {"accuracy", "auc", "rejection_30", "rejection_50", "loss"} <= set(saved["test"])
    assert 0.0 <= saved["test"]["accuracy"] <= 1.0 and 0.0 <= saved["test"]["auc"] <= 1.0
    assert saved["model"] == "LorentzNet" and saved["symmetry"] == "minkowski"
    assert (saved["n_train"], saved["n_val"], saved["n_test"]) == (32, 4, 4)
    assert (out / "best.pt").exists() and (out / "last.pt").exists()


def test_discovered_eight_dim_lorentz_basis_gives_minkowski_liegnn(tmp_path, jets):
    L = bases.lorentz(dtype=torch.float64)
    found = tmp_path / "found.npy"
    np.save(found, torch.stack([torch.block_diag(m, m) for m in L]).numpy())
    result = train_toptag(
        f"discovered:{found}",
        data=jets,
        out=tmp_path / "d",
        root=tmp_path / "cache",
        **{**TINY, "epochs": 1},
    )
    assert result["model"] == "LieGNN"
    assert result["metric_similarity_minkowski"] == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(result["metric"], np.diag([1.0, -1, -1, -1]), atol=1e-6)


@pytest.mark.parametrize(
    ("symmetry", "augment", "model"),
    [
        ("none", False, "DeepSets"),
        ("euclidean", False, "EGNN"),
        ("minkowski", True, "DeepSets + augmentation"),
    ],
)
def test_toptag_model_follows_the_symmetry(tmp_path, jets, symmetry, augment, model):
    result = train_toptag(
        symmetry,
        data=jets,
        augment=augment,
        out=tmp_path / symmetry,
        root=tmp_path / "cache",
        **{**TINY, "epochs": 1},
    )
    assert result["model"] == model and result["test"]["accuracy"] is not None


def test_nbody_mlp_and_augmented_mlp_report_test_mse(tmp_path):
    common = dict(n_trajectories=20, root=tmp_path / "cache", **{**TINY, "hidden": 16})
    common["batch_size"] = 32
    plain = train_nbody("none", out=tmp_path / "plain", **common)
    aug = train_nbody("euclidean", model="mlp", augment=True, out=tmp_path / "aug", **common)
    assert plain["model"] == "MLP" and not plain["augment"]
    assert aug["augment"] and aug["symmetry"] == "euclidean"
    for r in (plain, aug):
        assert r["test"]["mse"] > 0 and r["n_test"] > 0 and r["config"]["loss"] == "mse"


@pytest.mark.skipif(not _emlp_available(), reason="liegnn.nn.emlp not present")
def test_nbody_emlp_with_the_true_rotation(tmp_path):
    result = train_nbody(
        "euclidean",
        model="emlp",
        n_trajectories=20,
        out=tmp_path / "e",
        root=tmp_path / "cache",
        **{**TINY, "hidden": 16, "epochs": 1, "batch_size": 64},
    )
    assert result["model"] == "EMLP" and result["test"]["mse"] > 0


@pytest.mark.skipif(not _emlp_available(), reason="liegnn.nn.emlp not present")
def test_nbody_emlp_windows_are_rotation_equivariant():
    from liegnn.datasets.nbody import rotation_generator

    L = rotation_generator(2)
    torch.manual_seed(0)
    model = nbody_model(L, 5, 3, 8, model="emlp", hidden=16, n_layers=2).double()
    g = torch.linalg.matrix_exp(0.9 * L[0])
    x = torch.randn(4, 5, 8, dtype=torch.float64)
    torch.testing.assert_close(model(x @ g.T), model(x) @ g.T, atol=1e-8, rtol=0)


HEADER = (
    "XYZ_file,Index,SMILES,InChi,N_atoms,Stoichiometry,Elements,XYZ_Ang,Mulliken_pop,"
    "Harmonic_Freq_cmi,RotA_GHz,RotB_GHz,RotC_GHz,Dipole_debye,Polarizability_bohr3,HOMO_au,"
    "LUMO_au,HOMO_LUMO_gap_au,R2_bohr2,ZPVE_au,InternalEnergy_0K_au,InternalEnergy_298K_au,"
    "Enthalphy_298K_au,GibbsFreeEnergy_298K_au,Heatcapacity_Cv_cal_mol_K"
)


def _qm9_folder(folder, n=60, seed=0):
    """Made-up molecules in qm9pack's CSV layout."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(1, n + 1):
        atoms = list(rng.choice(list("CNO"), size=rng.integers(1, 4))) + ["H"] * 3
        xyz = rng.normal(size=(len(atoms), 3))
        el = "[" + ",".join(f"'{a}'" for a in atoms) + "]"
        coords = "[" + ",".join("[" + ",".join(f"{v:.6f}" for v in r) + "]" for r in xyz) + "]"
        props = ",".join(f"{v:.6f}" for v in rng.uniform(-0.5, 0.5, size=15))
        rows.append(
            f'"m{i}.xyz",{i},"X","I",{len(atoms)},"[0]","{el}","{coords}","[0]","[0]",{props}'
        )
    folder.mkdir(parents=True)
    (folder / "qm9_part1.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    return folder


@pytest.mark.parametrize(("symmetry", "augment"), [("euclidean", False), ("euclidean", True)])
def test_tiny_qm9_run_reports_mae_in_ev_and_mev(tmp_path, symmetry, augment):
    source = _qm9_folder(tmp_path / "csv")
    result = train_qm9(
        symmetry,
        target="lumo",
        source=source,
        subset=20,
        augment=augment,
        out=tmp_path / "q",
        root=tmp_path / "cache",
        **TINY,
    )
    test = result["test"]
    assert test["mae_meV"] == pytest.approx(1000 * test["mae"])
    assert result["target"] == "lumo" and result["units"] == "eV"
    assert result["n_train"] == 20


@pytest.mark.parametrize(
    ("kwargs", "model"),
    [
        (dict(symmetry="euclidean", model="e3nn"), "e3nn gate network"),
        (dict(symmetry="euclidean", augment=True, affine=True), "DeepSets + augmentation"),
        (dict(symmetry="none", model="mpnn"), "VectorMPNN"),
    ],
)
def test_qm9_e3nn_model_and_se3_augmentation_train(tmp_path, kwargs, model):
    result = train_qm9(
        target="homo",
        source=_qm9_folder(tmp_path / "csv"),
        subset=20,
        out=tmp_path / "q",
        root=tmp_path / "cache",
        **kwargs,
        **TINY,
    )
    assert result["model"] == model and np.isfinite(result["test"]["mae_meV"])
    if kwargs.get("affine"):
        assert torch.equal(torch.tensor(result["augmentation_generators"]), bases.se(3))


def test_recentred_model_ignores_the_translations_of_affine_augmentation():
    from torch_geometric.data import Batch, Data

    from liegnn.training.augmentation import SymmetryAugmentation
    from liegnn.training.baselines import DeepSets
    from liegnn.training.experiments.qm9 import Recentre

    torch.manual_seed(0)
    f = DeepSets(2, 3, 8, 2, 1)
    data = [Data(x=torch.randn(n, 2), pos=torch.randn(n, 3)) for n in (3, 5)]
    for d in data:
        d.pos = d.pos - d.pos.mean(0)  # centred, as MoleculeGraph gives them
    batch = Batch.from_data_list(data)
    plain = f(batch)
    moved = SymmetryAugmentation(Recentre(f), bases.translations(3), affine=True).train()
    assert torch.allclose(moved(batch), plain, atol=1e-5)
    without = SymmetryAugmentation(f, bases.translations(3), affine=True).train()
    assert not torch.allclose(without(batch), plain, atol=1e-3)  # translations reach f


def test_vector_mpnn_is_translation_but_not_rotation_invariant():
    from torch_geometric.data import Batch, Data

    from liegnn.nn.graphs import complete_graph
    from liegnn.training.experiments.qm9 import VectorMPNN

    torch.manual_seed(0)
    f = VectorMPNN(2, 8, 2).double()
    data = [
        Data(
            x=torch.randn(n, 2).double(),
            pos=torch.randn(n, 3).double(),
            edge_index=complete_graph([n]),
        )
        for n in (3, 5)
    ]
    batch = Batch.from_data_list(data)
    y = f(batch)
    moved, turned = batch.clone(), batch.clone()
    moved.pos = batch.pos + torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    turned.pos = batch.pos @ torch.linalg.matrix_exp(bases.so(3, dtype=torch.float64)[0]).T
    assert torch.allclose(f(moved), y, atol=1e-10)
    assert not torch.allclose(f(turned), y, atol=1e-4)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: run("mnist"), "task"),
        (lambda: run("qm9", "minkowski"), "Euclidean"),
        (lambda: run("nbody", "minkowski"), "rotation"),
        (lambda: train_nbody("none", augment=True), "symmetry"),
        (lambda: train_toptag("none", augment=True, data="x.h5"), "augment"),
        (lambda: train_qm9("euclidean", target="energy"), "target"),
        (lambda: train_qm9("euclidean", model="dimenet"), "model"),
        (lambda: train_qm9("euclidean", model="e3nn", augment=True), "e3nn"),
        (lambda: train_qm9("none", affine=True), "affine"),
        (lambda: train_qm9("euclidean", model="mpnn"), "mpnn"),
        (lambda: train_qm9("none", augment_options=dict(scale=1.0)), "augment"),
    ],
)
def test_bad_experiment_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_every_task_has_a_cpu_and_a_full_preset():
    for task in experiments.TASKS:
        assert set(PRESETS[task]) == {"cpu", "full"}
        assert PRESETS[task]["full"]["epochs"] >= PRESETS[task]["cpu"]["epochs"]


def test_a_misspelt_setting_is_refused(tmp_path, jets):
    with pytest.raises(ValueError, match="epoch"):
        train_toptag("minkowski", data=jets, out=tmp_path / "x", epoch=3)


def test_toptag_splits_read_the_three_splits_of_an_npz_file(tmp_path, jets):
    all_jets = read_jets(jets)
    path = tmp_path / "toptagging.npz"
    write_npz(path, {"train": all_jets[:30], "val": all_jets[30:35], "test": all_jets[35:]})
    train, val, test = toptag_splits(path, n_jets=20, root=tmp_path / "cache", progress=False)
    assert (len(train), len(val), len(test)) == (16, 2, 2)  # 80 / 10 / 10 % of n_jets
    assert train[0].x.shape[1] == 2 and train[0].pos.shape[1] == 4  # LorentzNet graphs
    full = toptag_splits(path, root=tmp_path / "cache", progress=False)
    assert [len(s) for s in full] == [30, 5, 5]


def test_n_train_keeps_the_first_training_jets_and_the_same_val_and_test(tmp_path, jets):
    full = toptag_splits(jets, root=tmp_path / "cache", progress=False)
    part = toptag_splits(jets, root=tmp_path / "cache", progress=False, n_train=10)
    assert len(part[0]) == 10 and list(part[0].indices) == list(full[0].indices[:10])
    assert list(part[1].indices) == list(full[1].indices)  # a learning curve on one test set
    assert list(part[2].indices) == list(full[2].indices)
    assert torch.equal(part[0][3].pos, full[0][3].pos)
    with pytest.raises(ValueError, match="exceeds"):
        toptag_splits(jets, root=tmp_path / "cache", progress=False, n_train=10_000)
    with pytest.raises(ValueError, match="positive"):
        toptag_splits(jets, root=tmp_path / "cache", progress=False, n_train=0)


def test_node_scalars_model_gives_the_bare_one_hot(tmp_path, jets):
    train, _, _ = toptag_splits(jets, root=tmp_path / "cache", node_scalars="model")
    assert set(train[0].x.unique().tolist()) == {0.0, 1.0}
    with pytest.raises(ValueError, match="node_scalars"):
        toptag_splits(jets, root=tmp_path / "cache", node_scalars="j")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(model="pelican", metric=torch.eye(4)), "no metric"),
        (dict(model="lgatr", learnable_metric=True), "no learnable metric"),
        (dict(model="lloca", node_scalars="model"), "node_scalars='eta'"),
        (dict(model="transformer"), "model must be one of"),
        (dict(symmetry="none", model="liegnn"), "needs a symmetry or a metric"),
        (dict(symmetry="minkowski", augment=True, learnable_metric=True), "augment"),
        (dict(symmetry="minkowski", augment=True, node_scalars="model"), "augment"),
    ],
)
def test_bad_toptag_model_choices_raise(tmp_path, jets, kwargs, match):
    symmetry = kwargs.pop("symmetry", None)
    with pytest.raises(ValueError, match=match):
        train_toptag(symmetry, data=jets, out=tmp_path / "x", root=tmp_path / "c", **TINY, **kwargs)
