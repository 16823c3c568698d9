"""QM9 (Ramakrishnan et al. 2014) as a PyTorch Geometric dataset, in PyG's target order and units.

Sources: the CSV files of the ``qm9pack`` package (the ``[qm9]`` extra; 130,831 molecules with
XYZ coordinates and properties, read directly, not through qm9pack's own loader), a folder holding
files in that layout, or the root folder of a user's ``torch_geometric.datasets.QM9``.

Each molecule: ``Data(z=(n,) atomic numbers, pos=(n, 3) Å, x=node features, y=(1, 19), idx)``.
``x`` is the one-hot of H, C, N, O, F (5), or EGNN's (15) ``[1, z/9, (z/9)²] ⊗ one-hot``.
``y`` follows PyG: μ (D), α (a₀³), HOMO, LUMO, gap (eV), R² (a₀²), ZPVE, U0, U, H, G (eV),
Cv (cal/mol K), atomisation U0, U, H, G (eV), A, B, C (GHz); Hartree → eV × 27.211386246, the
atomisation energies subtract the B3LYP atom reference energies.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset

from .._optional import require
from ._cache import cache_dir, cached_in_memory

HARTREE_TO_EV = 27.211386246
TARGETS = [
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
    "U0_atom",
    "U_atom",
    "H_atom",
    "G_atom",
    "A",
    "B",
    "C",
]
ELEMENTS = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
# B3LYP/6-31G(2df,p) energies of the free atoms, Hartree: U0, U, H, G (QM9's atomref table)
ATOM_REFERENCE = {
    1: (-0.500273, -0.498857, -0.497912, -0.510927),
    6: (-37.846772, -37.845355, -37.844411, -37.861317),
    7: (-54.583861, -54.582445, -54.581501, -54.598897),
    8: (-75.064579, -75.063163, -75.062219, -75.079532),
    9: (-99.718730, -99.717314, -99.716370, -99.733544),
}
# qm9pack column -> (PyG target index, factor)
_PROPERTY_COLUMNS = {
    "Dipole_debye": (0, 1.0),
    "Polarizability_bohr3": (1, 1.0),
    "HOMO_au": (2, HARTREE_TO_EV),
    "LUMO_au": (3, HARTREE_TO_EV),
    "HOMO_LUMO_gap_au": (4, HARTREE_TO_EV),
    "R2_bohr2": (5, 1.0),
    "ZPVE_au": (6, HARTREE_TO_EV),
    "InternalEnergy_0K_au": (7, HARTREE_TO_EV),
    "InternalEnergy_298K_au": (8, HARTREE_TO_EV),
    "Enthalphy_298K_au": (9, HARTREE_TO_EV),
    "GibbsFreeEnergy_298K_au": (10, HARTREE_TO_EV),
    "Heatcapacity_Cv_cal_mol_K": (11, 1.0),
    "RotA_GHz": (16, 1.0),
    "RotB_GHz": (17, 1.0),
    "RotC_GHz": (18, 1.0),
}
CSV_COLUMNS = ["Index", "N_atoms", "Elements", "XYZ_Ang", *_PROPERTY_COLUMNS]
EGNN_SPLIT = (100_000, 17_748, 13_083)
_VERSION = 1


def qm9pack_data_dir() -> Path:
    """The folder of qm9pack's CSV files, found without importing qm9pack (its loader needs
    pkg_resources)."""
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "'qm9pack' is required for QM9 but is not installed; "
            "install it with: pip install 'liegnn[qm9]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _csv_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("qm9_part*.csv"))
    if not files:
        raise ValueError(f"{folder} holds no qm9_part*.csv files (qm9pack's layout)")
    return files


def read_qm9pack_csv(files: list[Path]) -> dict[str, np.ndarray]:
    """Parse CSV files in qm9pack's layout.

    Returns arrays: ``z`` (A,) int64, ``pos`` (A, 3) float64 Å, ``n_atoms`` (N,) int64,
    ``y`` (N, 19) float64 in PyG's order and units, ``idx`` (N,) the QM9 molecule index.
    """
    pd = require("pandas", "qm9")

    frames = []
    for f in files:
        try:
            header = pd.read_csv(f, nrows=0).columns
        except (OSError, ValueError, pd.errors.ParserError) as err:
            raise ValueError(f"{f}: not a readable CSV file: {err}") from err
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise ValueError(f"{f}: missing column(s) {missing} of qm9pack's layout")
        try:
            frames.append(pd.read_csv(f, usecols=CSV_COLUMNS))
        except (ValueError, pd.errors.ParserError) as err:
            raise ValueError(f"{f}: corrupt or truncated CSV: {err}") from err
    df = pd.concat(frames, ignore_index=True)
    if len(df) == 0:
        raise ValueError(f"no molecules in {[str(f) for f in files]}")
    numeric = df[["Index", "N_atoms", *_PROPERTY_COLUMNS]]
    bad = numeric.isna().any(axis=1) | df["Elements"].isna() | df["XYZ_Ang"].isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{len(np.flatnonzero(bad))} molecule row(s) with missing values "
            "(truncated or incomplete file?) "
            f"(first: row {row}, Index {df['Index'].iloc[row]})"
        )
    df = df.sort_values("Index", kind="stable").reset_index(drop=True)
    if df["Index"].duplicated().any():
        raise ValueError(
            f"duplicate molecule Index {df['Index'][df['Index'].duplicated()].iloc[0]}"
        )

    n_atoms = df["N_atoms"].to_numpy(np.int64)
    symbols = df["Elements"].str.replace(r"[\[\]'\" ]", "", regex=True).str.split(",")
    counts = symbols.str.len().to_numpy()
    if (counts != n_atoms).any():
        row = int(np.flatnonzero(counts != n_atoms)[0])
        raise ValueError(f"molecule Index {df['Index'][row]}: N_atoms disagrees with Elements")
    flat = [s for mol in symbols for s in mol]
    unknown = set(flat) - set(ELEMENTS)
    if unknown:
        raise ValueError(f"unknown element(s) {sorted(unknown)}; QM9 has only H, C, N, O, F")
    z = np.array([ELEMENTS[s] for s in flat], np.int64)

    text = df["XYZ_Ang"].str.replace(r"[\[\],]", " ", regex=True)
    per_mol = text.str.split().str.len().to_numpy()
    if (per_mol != 3 * n_atoms).any():
        row = int(np.flatnonzero(per_mol != 3 * n_atoms)[0])
        raise ValueError(
            f"molecule Index {df['Index'][row]}: XYZ_Ang does not hold 3 N_atoms values"
        )
    try:
        pos = np.array(" ".join(text).split(), dtype=np.float64).reshape(-1, 3)
    except ValueError as err:
        raise ValueError(f"unparsable coordinates in XYZ_Ang: {err}") from err
    if not np.isfinite(pos).all():
        raise ValueError("non-finite atom coordinates in XYZ_Ang")

    y = np.zeros((len(df), len(TARGETS)))
    for column, (k, factor) in _PROPERTY_COLUMNS.items():
        y[:, k] = df[column].to_numpy(np.float64) * factor
    reference = np.array([ATOM_REFERENCE[int(a)] for a in z]) * HARTREE_TO_EV  # (A, 4)
    molecule = np.repeat(np.arange(len(df)), n_atoms)
    atoms_energy = np.zeros((len(df), 4))
    np.add.at(atoms_energy, molecule, reference)
    y[:, 12:16] = y[:, 7:11] - atoms_energy
    return {
        "z": z,
        "pos": pos,
        "n_atoms": n_atoms,
        "y": y,
        "idx": df["Index"].to_numpy(np.int64).copy(),
    }


def count_molecules(source: str | os.PathLike | None = None) -> int:
    """Number of molecules in qm9pack-layout CSV files (the installed qm9pack by default)."""
    pd = require("pandas", "qm9")

    folder = qm9pack_data_dir() if source is None else Path(source)
    return sum(len(pd.read_csv(f, usecols=["Index"])) for f in _csv_files(folder))


def _pyg_classes() -> list:
    """PyG's plain data and storage classes: the globals a QM9 ``processed/data_v3.pt`` may name
    (a dict of tensors and the ``Data`` class; older PyG pickled a whole ``Data``)."""
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    return [Data, DataEdgeAttr, DataTensorAttr, GlobalStorage]


def _safe_pyg_file(path: Path):
    """``weights_only=True`` load of a file of a PyG root, allowing only PyG's plain data
    classes; ValueError naming the file when it needs anything else."""
    from ..io import safe_torch_load

    return safe_torch_load(path, safe_globals=_pyg_classes(), what="torch_geometric QM9 file")


def _read_pyg_root(root: Path) -> dict[str, np.ndarray]:
    """The molecules of a ``torch_geometric.datasets.QM9`` root (its processed file), read with
    ``weights_only=True``: a file of the root that would need arbitrary pickle is refused."""
    processed = root / "processed" / "data_v3.pt"
    if not processed.exists():
        from torch_geometric.datasets import QM9 as PyGQM9

        raw = root / "raw"
        sdf = all((raw / f).exists() for f in ("gdb9.sdf", "gdb9.sdf.csv", "uncharacterized.txt"))
        if not ((raw / "qm9_v3.pt").exists() or sdf):
            raise ValueError(
                f"{root} is not a torch_geometric QM9 root: neither processed/data_v3.pt nor the "
                "raw files (raw/qm9_v3.pt, or raw/gdb9.sdf with gdb9.sdf.csv and "
                "uncharacterized.txt) are there"
            )
        # PyG falls back to weights_only=False for these files: check them safely first
        for name in ("raw/qm9_v3.pt", "processed/pre_transform.pt", "processed/pre_filter.pt"):
            if (root / name).exists():
                _safe_pyg_file(root / name)
        try:
            PyGQM9(str(root))  # processes the raw files already there
        except Exception as err:  # PyG would download or need rdkit: say what is missing
            msg = f"{root}: torch_geometric could not process its QM9 raw files: {err}"
            raise ValueError(msg) from err
    out = _safe_pyg_file(processed)
    try:
        data = Data.from_dict(out[0]) if isinstance(out[0], dict) else out[0]
        slices = out[1]
        if not (isinstance(data, Data) and isinstance(slices, dict)):
            raise TypeError(f"holds {type(data).__name__} and {type(slices).__name__}")
    except Exception as err:  # any failure here means an unusable file
        raise ValueError(f"{processed}: not a readable torch_geometric QM9 file: {err}") from err
    for key in ("z", "pos", "y"):
        if key not in slices:
            raise ValueError(f"{processed}: no {key!r} field; not a QM9 dataset")
    y = data.y.double().numpy()
    if y.shape[1] != len(TARGETS) or not np.isfinite(y).all():
        raise ValueError(f"{processed}: y must be finite with {len(TARGETS)} targets")
    n = len(slices["y"]) - 1
    idx = data.idx.numpy() if "idx" in slices else np.arange(n)
    return {
        "z": data.z.long().numpy(),
        "pos": data.pos.double().numpy(),
        "n_atoms": np.diff(slices["z"].numpy()),
        "y": y,
        "idx": idx,
    }


def node_features(z: torch.Tensor, kind: str = "onehot") -> torch.Tensor:
    """One-hot of H, C, N, O, F (n, 5), or EGNN's [1, z/9, (z/9)²] ⊗ one-hot (n, 15)."""
    table = torch.full((10,), -1, dtype=torch.long)
    table[torch.tensor(list(ELEMENTS.values()))] = torch.arange(5)
    onehot = torch.nn.functional.one_hot(table[z], 5).float()
    if kind == "onehot":
        return onehot
    if kind == "egnn":
        powers = (z.float()[:, None] / 9.0) ** torch.arange(3).float()
        return (onehot[:, :, None] * powers[:, None, :]).reshape(len(z), 15)
    raise ValueError(f"features must be 'onehot' or 'egnn', got {kind!r}")


class QM9(InMemoryDataset):
    r"""QM9 molecules as PyG graphs (no edges: add them with a transform, e.g. radius graphs).

    Args:
        source: ``None`` (the installed qm9pack), a folder of qm9pack-layout CSV files, or a
            ``torch_geometric.datasets.QM9`` root.
        root: cache folder (default: ``$LIEGNN_CACHE``, ``$XDG_CACHE_HOME/liegnn`` or
            ``~/.cache/liegnn``).
        features: ``"onehot"`` (x: (n, 5)) or ``"egnn"`` (x: (n, 15)).
        transform: applied to each ``Data`` on access.
    """

    def __init__(
        self,
        source: str | os.PathLike | None = None,
        *,
        root: str | os.PathLike | None = None,
        features: str = "onehot",
        transform: Callable | None = None,
        force_reload: bool = False,
    ):
        super().__init__(None, transform)
        node_features(torch.tensor([1]), features)  # validates ``features``
        folder = qm9pack_data_dir() if source is None else Path(source).expanduser()
        if not folder.is_dir():
            raise ValueError(f"QM9 source {folder} is not a folder")
        is_pyg = (folder / "processed").is_dir() or (folder / "raw").is_dir()
        files = (
            sorted(p for p in folder.rglob("*") if p.is_file()) if is_pyg else _csv_files(folder)
        )
        stamp = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
        digest = hashlib.sha1(repr((stamp, features, _VERSION)).encode()).hexdigest()[:12]
        self.cache_path = cache_dir(root, "qm9") / f"qm9_{features}_{digest}.pt"
        cached_in_memory(
            self,
            self.cache_path,
            lambda: self._collate(
                _read_pyg_root(folder) if is_pyg else read_qm9pack_csv(files), features
            ),
            force_reload,
        )

    @staticmethod
    def _collate(arrays: dict[str, np.ndarray], features: str):
        z = torch.as_tensor(arrays["z"], dtype=torch.long)
        n = len(arrays["n_atoms"])
        atom_slice = torch.cat(
            [torch.zeros(1, dtype=torch.long), torch.tensor(arrays["n_atoms"]).cumsum(0)]
        )
        data = Data(
            z=z,
            pos=torch.as_tensor(arrays["pos"], dtype=torch.float32),
            x=node_features(z, features),
            y=torch.as_tensor(arrays["y"], dtype=torch.float32),
            idx=torch.as_tensor(arrays["idx"], dtype=torch.long),
        )
        graph_slice = torch.arange(n + 1)
        slices = {
            "z": atom_slice,
            "pos": atom_slice,
            "x": atom_slice,
            "y": graph_slice,
            "idx": graph_slice,
        }
        return data, slices


def split_sizes(n: int) -> tuple[int, int, int]:
    """EGNN's split sizes: test 10 %, train min(100 000, 80 %), valid the rest.

    For the 130,831 molecules this is 100,000 / 17,748 / 13,083.
    """
    n_test = int(0.1 * n)
    n_train = min(EGNN_SPLIT[0], int(0.8 * n))
    return n_train, n - n_train - n_test, n_test


def qm9_split(dataset: QM9, seed: int = 0, subset: int | None = None):
    """Train / valid / test subsets of ``dataset`` with EGNN's sizes and a seeded permutation.

    ``subset=k`` (CPU-sized runs) keeps k training molecules and shrinks valid and test by the
    same fraction (at least one molecule each).
    """
    n_train, n_valid, n_test = split_sizes(len(dataset))
    if subset is not None:
        if not 1 <= subset <= n_train:
            raise ValueError(f"subset must lie in [1, {n_train}], got {subset}")
        scale = subset / n_train
        n_train, n_valid, n_test = (
            subset,
            max(1, round(n_valid * scale)),
            max(1, round(n_test * scale)),
        )
    perm = torch.as_tensor(np.random.default_rng(seed).permutation(len(dataset)))
    train = perm[:n_train]
    valid = perm[n_train : n_train + n_valid]
    test = perm[len(perm) - n_test :]
    return dataset[train], dataset[valid], dataset[test]


class AffineAtoms(NamedTuple):
    """LieGAN's QM9 input: per molecule, every atom's affine coordinates, padded."""

    coords: torch.Tensor  # float32 (N, max_atoms, 4): (x, y, z, 1) Å, zero rows for padding
    mask: torch.Tensor  # bool (N, max_atoms): True for real atoms
    z: torch.Tensor  # int64 (N, max_atoms): atomic numbers, 0 for padding


def liegan_inputs(dataset: QM9, max_atoms: int | None = None) -> AffineAtoms:
    """Affine coordinates (x, y, z, 1) of every atom per molecule, on which the affine group acts
    by 4×4 matrices; ``max_atoms`` pads to a fixed size (default: the largest molecule)."""
    from torch_geometric.data import Batch
    from torch_geometric.utils import to_dense_batch

    if dataset._indices is None:  # the whole dataset: read the stored tensors directly
        data, atoms = dataset._data, dataset.slices["z"]
        batch = torch.repeat_interleave(torch.arange(len(atoms) - 1), atoms.diff())
        pos, z = data.pos, data.z
    else:  # a subset (e.g. from qm9_split): gather its molecules, without the transform
        b = Batch.from_data_list([dataset.get(i) for i in dataset.indices()])
        pos, z, batch = b.pos, b.z, b.batch
    largest = int(torch.bincount(batch).max())
    if max_atoms is not None and max_atoms < largest:
        raise ValueError(f"max_atoms={max_atoms} is below the largest molecule ({largest} atoms)")
    affine = torch.cat([pos, torch.ones(len(pos), 1)], dim=1)
    coords, mask = to_dense_batch(affine, batch, max_num_nodes=max_atoms or largest)
    zz, _ = to_dense_batch(z, batch, max_num_nodes=max_atoms or largest)
    return AffineAtoms(coords, mask, zz)
