import importlib.util

import numpy as np
import pytest
import torch
from torch_geometric.data import Data, InMemoryDataset

from liegnn.datasets import qm9
from liegnn.datasets.qm9 import (
    ATOM_REFERENCE,
    HARTREE_TO_EV,
    QM9,
    TARGETS,
    count_molecules,
    liegan_inputs,
    node_features,
    qm9_split,
    split_sizes,
)

HEADER = (
    "XYZ_file,Index,SMILES,InChi,N_atoms,Stoichiometry,Elements,XYZ_Ang,Mulliken_pop,"
    "Harmonic_Freq_cmi,RotA_GHz,RotB_GHz,RotC_GHz,Dipole_debye,Polarizability_bohr3,HOMO_au,"
    "LUMO_au,HOMO_LUMO_gap_au,R2_bohr2,ZPVE_au,InternalEnergy_0K_au,InternalEnergy_298K_au,"
    "Enthalphy_298K_au,GibbsFreeEnergy_298K_au,Heatcapacity_Cv_cal_mol_K"
)
# the first three molecules of QM9 as qm9pack ships them (Mulliken and frequencies shortened)
METHANE = (
    '"dsgdb9nsd_000001.xyz",1,"C","InChI=1S/CH4/h1H4",5,"[4,1,0,0,0]","[\'C\',\'H\',\'H\',\'H\','
    "'H']\",\"[[-0.0126981359,1.0858041578,0.0080009958],[0.002150416,-0.0060313176,"
    "0.0019761204],[1.0117308433,1.4637511618,0.0002765748],[-0.540815069,1.4475266138,"
    '-0.8766437152],[-0.5238136345,1.4379326443,0.9063972942]]","[-0.535689,0.133921,0.133922,'
    '0.133923,0.133923]","[1341.307,1341.3284]",157.7118,157.70997,157.70699,0.,13.21,-0.3877,'
    "0.1171,0.5048,35.3641,0.044749,-40.47893,-40.476062,-40.475117,-40.498597,6.469"
)
AMMONIA = (
    '"dsgdb9nsd_000002.xyz",2,"N","InChI=1S/H3N/h1H3",4,"[3,0,1,0,0]","[\'N\',\'H\',\'H\','
    "'H']\",\"[[-0.0404260543,1.0241077531,0.0625637998],[0.0172574639,0.0125452063,"
    "-0.0273771593],[0.9157893661,1.3587451948,-0.0287577581],[-0.5202777357,1.3435321258,"
    '-0.7755426124]]","[-0.707143,0.235712,0.235712,0.23572]","[1103.8733]",293.60975,'
    "293.54111,191.39397,1.6256,9.46,-0.257,0.0829,0.3399,26.1563,0.034358,-56.525887,"
    "-56.523026,-56.522082,-56.544961,6.316"
)
WATER = (
    '"dsgdb9nsd_000003.xyz",3,"O","InChI=1S/H2O/h1H2",3,"[2,0,0,1,0]","[\'O\',\'H\',\'H\']",'
    '"[[-0.0343604951,0.9775395708,0.0076015923],[0.0647664923,0.0205721989,0.0015346341],'
    '[0.8717903737,1.3007924048,0.0006931336]]","[-0.589706,0.294853,0.294853]",'
    '"[1671.4222,3803.6305,3907.698]",799.58812,437.90386,282.94545,1.8511,6.31,-0.2928,0.0687,'
    "0.3615,19.0002,0.021375,-76.404702,-76.401867,-76.400922,-76.422349,6.002"
)


def synthetic_row(index: int, rng: np.random.Generator) -> str:
    """A made-up molecule in qm9pack's layout (random C/N/O/F/H atoms and properties)."""
    elements = list(rng.choice(list("CNOF"), size=rng.integers(1, 4))) + ["H"] * int(
        rng.integers(1, 5)
    )
    xyz = rng.normal(size=(len(elements), 3))
    el = "[" + ",".join(f"'{e}'" for e in elements) + "]"
    coords = "[" + ",".join("[" + ",".join(f"{v:.8f}" for v in a) + "]" for a in xyz) + "]"
    props = ",".join(f"{v:.6f}" for v in rng.uniform(-1, 1, size=15))
    return (
        f'"dsgdb9nsd_{index:06d}.xyz",{index},"X","InChI",{len(elements)},"[0,0,0,0,0]",'
        f'"{el}","{coords}","[0]","[0]",{props}'
    )


def write_csv(folder, rows, name="qm9_part1.csv"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join([HEADER, *rows]) + "\n")
    return folder


@pytest.fixture
def small(tmp_path):
    return write_csv(tmp_path / "csv", [METHANE, AMMONIA, WATER])


@pytest.fixture
def fifty(tmp_path):
    rng = np.random.default_rng(0)
    rows = [synthetic_row(i, rng) for i in range(10, 60)]
    write_csv(tmp_path / "many", rows[:30], "qm9_part1.csv")
    return write_csv(tmp_path / "many", rows[30:], "qm9_part2.csv")


def test_parses_atoms_and_coordinates(tmp_path, small):
    data = QM9(small, root=tmp_path)
    assert len(data) == 3
    methane = data[0]
    assert methane.z.tolist() == [6, 1, 1, 1, 1]
    assert methane.pos.shape == (5, 3) and methane.pos.dtype == torch.float32
    torch.testing.assert_close(
        methane.pos[2], torch.tensor([1.0117308433, 1.4637511618, 0.0002765748])
    )
    assert data[1].z.tolist() == [7, 1, 1, 1] and data[2].z.tolist() == [8, 1, 1]
    assert methane.y.shape == (1, 19) and methane.idx.tolist() == [1]
    assert methane.x.shape == (5, 5)
    torch.testing.assert_close(methane.x[0], torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0]))


def test_units_hartree_to_ev(tmp_path, small):
    y = QM9(small, root=tmp_path)[0].y[0].double()
    homo = y[TARGETS.index("homo")]
    assert abs(homo - (-10.550)) < 5e-4  # methane: -0.3877 Ha
    assert abs(homo - (-0.3877 * 27.211386246)) < 1e-4
    assert abs(y[TARGETS.index("gap")] - 0.5048 * HARTREE_TO_EV) < 1e-4
    assert abs(y[TARGETS.index("U0")] - (-40.47893 * HARTREE_TO_EV)) < 1e-1  # float32 at 1e3 eV
    assert abs(y[TARGETS.index("zpve")] - 0.044749 * HARTREE_TO_EV) < 1e-5


def test_target_order_and_unconverted_units_follow_pyg(tmp_path, small):
    y = QM9(small, root=tmp_path)[2].y[0].double()  # water
    assert TARGETS[:12] == [
        "mu",
        "alpha",
        "homo",
        "lumo",
        "gap",
        "r2",
        "zpve",
        "U0",
        "U",
        "H",
        "G",
        "cv",
    ]
    expect = {
        "mu": 1.8511,
        "alpha": 6.31,
        "r2": 19.0002,
        "cv": 6.002,
        "A": 799.58812,
        "B": 437.90386,
        "C": 282.94545,
    }
    for name, value in expect.items():
        assert abs(y[TARGETS.index(name)] - value) < 1e-3, name


def test_atomisation_energies_subtract_atom_references(tmp_path, small):
    y = QM9(small, root=tmp_path)[0].y[0].double()
    refs = np.array(ATOM_REFERENCE[6]) + 4 * np.array(ATOM_REFERENCE[1])
    molecule = np.array([-40.47893, -40.476062, -40.475117, -40.498597])
    expect = (molecule - refs) * HARTREE_TO_EV
    np.testing.assert_allclose(y[12:16].numpy(), expect, atol=1e-4)
    assert abs(y[TARGETS.index("U0_atom")] - (-17.172)) < 2e-3  # methane, as in PyG's QM9


def test_egnn_features_are_charge_powers_times_one_hot():
    x = node_features(torch.tensor([6, 1, 9]), "egnn")
    assert x.shape == (3, 15)
    carbon = x[0].reshape(5, 3)
    torch.testing.assert_close(carbon[1], torch.tensor([1.0, 6 / 9, (6 / 9) ** 2]))
    assert carbon[[0, 2, 3, 4]].abs().sum() == 0
    torch.testing.assert_close(x[2].reshape(5, 3)[4], torch.tensor([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="features"):
        node_features(torch.tensor([1]), "rdkit")


def test_egnn_split_sizes():
    assert split_sizes(130_831) == (100_000, 17_748, 13_083)


def test_split_is_disjoint_seeded_and_covers(tmp_path, fifty):
    data = QM9(fifty, root=tmp_path)
    assert len(data) == 50
    train, valid, test = qm9_split(data, seed=1)
    ids = [set(s.idx.tolist()) for s in (train, valid, test)]
    assert [len(i) for i in ids] == [40, 5, 5]
    assert set.union(*ids) == set(range(10, 60)) and sum(len(i) for i in ids) == 50
    again = qm9_split(data, seed=1)[0]
    assert again.idx.tolist() == train.idx.tolist()
    assert qm9_split(data, seed=2)[0].idx.tolist() != train.idx.tolist()


def test_subset_shrinks_every_split(tmp_path, fifty):
    data = QM9(fifty, root=tmp_path)
    train, valid, test = qm9_split(data, seed=0, subset=8)
    assert (len(train), len(valid), len(test)) == (8, 1, 1)
    with pytest.raises(ValueError, match="subset"):
        qm9_split(data, subset=41)


def test_liegan_inputs_are_padded_affine_coordinates(tmp_path, small):
    data = QM9(small, root=tmp_path)
    inputs = liegan_inputs(data)
    assert inputs.coords.shape == (3, 5, 4) and inputs.mask.sum(1).tolist() == [5, 4, 3]
    assert (inputs.coords[..., 3] == inputs.mask.float()).all()
    torch.testing.assert_close(inputs.coords[1, :4, :3], data[1].pos)
    assert (inputs.coords[2, 3:] == 0).all() and inputs.z[2].tolist() == [8, 1, 1, 0, 0]
    # an affine map [[R, t], [0, 1]] moves the real atoms and leaves padding at zero
    g = torch.eye(4)
    g[:3, 3] = torch.tensor([1.0, -2.0, 0.5])
    moved = inputs.coords @ g.T
    torch.testing.assert_close(moved[0, :, :3], data[0].pos + g[:3, 3])
    assert (moved[2, 3:] == 0).all()
    padded = liegan_inputs(data[1:], max_atoms=7)
    assert padded.coords.shape == (2, 7, 4)
    with pytest.raises(ValueError, match="max_atoms"):
        liegan_inputs(data, max_atoms=4)


def test_cache_is_reused_and_damage_refused_until_reloaded(tmp_path, small, monkeypatch):
    a = QM9(small, root=tmp_path)
    assert a.cache_path.parent == tmp_path / "qm9"
    real = qm9.read_qm9pack_csv

    def fail(*args):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(qm9, "read_qm9pack_csv", fail)
    assert len(QM9(small, root=tmp_path)) == 3
    a.cache_path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="force_reload=True"):
        QM9(small, root=tmp_path)
    monkeypatch.setattr(qm9, "read_qm9pack_csv", real)
    assert len(QM9(small, root=tmp_path, force_reload=True)) == 3
    assert len(QM9(small, root=tmp_path)) == 3  # the rebuilt cache is read again


def test_missing_column_raises(tmp_path):
    folder = tmp_path / "bad"
    write_csv(folder, [METHANE])
    text = (folder / "qm9_part1.csv").read_text().replace("HOMO_au", "HOMO")
    (folder / "qm9_part1.csv").write_text(text)
    with pytest.raises(ValueError, match="missing column.*HOMO_au"):
        QM9(folder, root=tmp_path)


def test_nan_property_raises_naming_the_molecule(tmp_path):
    folder = write_csv(tmp_path / "nan", [METHANE, AMMONIA.replace(",-0.257,", ",,")])
    with pytest.raises(ValueError, match="missing values.*Index 2"):
        QM9(folder, root=tmp_path)


def test_truncated_csv_raises(tmp_path):
    folder = write_csv(tmp_path / "cut", [METHANE, AMMONIA])
    path = folder / "qm9_part1.csv"
    path.write_text(path.read_text()[:-120])
    with pytest.raises(ValueError):
        QM9(folder, root=tmp_path)
    assert not list((tmp_path / "qm9").glob("*.pt"))  # nothing cached


def test_atom_count_mismatch_raises(tmp_path):
    folder = write_csv(tmp_path / "mis", [WATER.replace('H2O/h1H2",3,', 'H2O/h1H2",4,')])
    with pytest.raises(ValueError, match="N_atoms"):
        QM9(folder, root=tmp_path)


def test_folder_without_csv_raises(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="qm9_part"):
        QM9(tmp_path / "empty", root=tmp_path)


def test_reads_a_torch_geometric_qm9_root(tmp_path):
    """A user's PyG QM9 root (its processed file) gives the same fields."""
    rng = np.random.default_rng(0)
    graphs = []
    for i, z in enumerate([[6, 1, 1, 1, 1], [8, 1, 1]]):
        z = torch.tensor(z)
        x = torch.cat([node_features(z), torch.zeros(len(z), 6)], dim=1)  # PyG: 11 features
        graphs.append(
            Data(
                x=x,
                z=z,
                pos=torch.as_tensor(rng.normal(size=(len(z), 3))).float(),
                y=torch.randn(1, 19),
                idx=torch.tensor([i]),
                edge_index=torch.zeros(2, 0, dtype=torch.long),
                name=f"gdb_{i + 1}",
            )
        )
    root = tmp_path / "QM9"
    (root / "processed").mkdir(parents=True)
    InMemoryDataset.save(graphs, str(root / "processed" / "data_v3.pt"))
    data = QM9(root, root=tmp_path / "cache")
    assert len(data) == 2
    for ours, theirs in zip(data, graphs, strict=True):
        torch.testing.assert_close(ours.pos, theirs.pos)
        torch.testing.assert_close(ours.y, theirs.y)
        torch.testing.assert_close(ours.x, theirs.x[:, :5])
        assert ours.z.tolist() == theirs.z.tolist()


def test_missing_qm9pack_names_the_extra(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "qm9pack" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"liegnn\[qm9\]"):
        QM9(root=tmp_path)


def test_qm9pack_holds_every_characterised_molecule():
    pytest.importorskip("pandas")
    if importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack ([qm9] extra) not installed")
    assert count_molecules() == 130_831


@pytest.mark.slow
def test_full_qm9_loads_with_egnn_split(tmp_path):
    if importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack ([qm9] extra) not installed")
    data = QM9(root=tmp_path)
    assert len(data) == 130_831
    train, valid, test = qm9_split(data)
    assert (len(train), len(valid), len(test)) == (100_000, 17_748, 13_083)
    assert set(torch.cat([data.z]).unique().tolist()) == {1, 6, 7, 8, 9}
    homo = data._data.y[:, 2]
    assert -12.0 < homo.min() and homo.max() < -2.0  # eV


def test_egnn_features_match_the_molecule_graph_transform(tmp_path, small):
    graphs = pytest.importorskip("liegnn.nn.graphs")  # written alongside, in liegnn.nn
    ours = QM9(small, root=tmp_path, features="egnn")
    theirs = QM9(small, root=tmp_path, transform=graphs.MoleculeGraph(charge_power=2))
    for i in range(3):
        torch.testing.assert_close(ours[i].x, theirs[i].x)


def test_pyg_root_without_data_raises(tmp_path):
    (tmp_path / "QM9" / "raw").mkdir(parents=True)
    with pytest.raises(ValueError, match="not a torch_geometric QM9 root"):
        QM9(tmp_path / "QM9", root=tmp_path)
