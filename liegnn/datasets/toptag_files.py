"""Files of the top-tagging reference dataset (Kasieczka et al. 2019), read and written.

Three layouts are understood:

- **reference** (the files on Zenodo, and what :mod:`~liegnn.datasets.toptag_generate` writes):
  a pandas HDF5 store, key ``"table"``, one row per jet with columns E_i, PX_i, PY_i, PZ_i for
  i < 200 (constituents sorted by pT, zero padded), ``is_signal_new`` (1 = top, 0 = QCD) and the
  truth columns truthE, truthPX, truthPY, truthPZ (the top quark; zero for QCD) and ``ttv``.
- **converted** (as used by LorentzNet / PELICAN): an HDF5 file with datasets ``Nobj`` (N,),
  ``Pmu`` (N, 200, 4), ``is_signal`` (N,), and optionally ``label`` (N, 200) the particle mask.
- **npz** (as used by L-GATr / LLoCa, e.g. their ``toptagging_full.npz``): one NumPy ``.npz``
  file holding the three splits, ``kinematics_train``, ``kinematics_val``, ``kinematics_test``
  (N, m, 4) float, the constituents' (E, px, py, pz) in GeV sorted by pT and zero padded, and
  ``labels_train``, ``labels_val``, ``labels_test`` (N,) (1 / True = top). A split is named
  with ``split=`` and read whole (``np.load(allow_pickle=False)``: object arrays are refused).

All give a :class:`Jets`. Reading HDF5 needs only h5py: the pandas store is parsed directly
(its ``fixed`` and ``table`` formats), never through pandas / PyTables, which unpickle object
columns and attributes. A column that is not numeric is refused, so reading a jet file never
runs code. Writing the reference layout needs pandas + tables (the ``[toptag]`` extra). Bad files
raise ValueError naming the problem.
"""

from __future__ import annotations

import os
import pickletools
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._optional import require

MAX_CONSTITUENTS = 200
KEY = "table"
MOMENTUM_COLUMNS = [f"{c}_{i}" for i in range(MAX_CONSTITUENTS) for c in ("E", "PX", "PY", "PZ")]
TRUTH_COLUMNS = ["truthE", "truthPX", "truthPY", "truthPZ"]
LABEL_COLUMN = "is_signal_new"
NPZ_SPLITS = ("train", "val", "test")


@dataclass
class Jets:
    """A batch of jets.

    Attributes:
        momenta: float32 (N, m, 4) constituent 4-momenta (E, px, py, pz) in GeV, sorted by pT,
            zero padded.
        n_constituents: int64 (N,) number of non-padding constituents per jet.
        labels: int64 (N,) 1 for top (signal) jets, 0 for QCD.
        truth: float32 (N, 4) top-quark 4-momentum (zeros for QCD), or None when absent.
        ttv: int64 (N,) the reference's train/test/validation flag, or None when absent.
    """

    momenta: np.ndarray
    n_constituents: np.ndarray
    labels: np.ndarray
    truth: np.ndarray | None = None
    ttv: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index) -> Jets:
        pick = lambda a: None if a is None else a[index]
        return Jets(
            self.momenta[index],
            self.n_constituents[index],
            self.labels[index],
            pick(self.truth),
            pick(self.ttv),
        )

    @staticmethod
    def concatenate(parts: list[Jets]) -> Jets:
        """Join batches (row order kept); truth / ttv survive only if every part has them."""
        if not parts:
            raise ValueError("cannot concatenate an empty list of jet batches")
        join = lambda name: (
            None
            if any(getattr(p, name) is None for p in parts)
            else np.concatenate([getattr(p, name) for p in parts])
        )
        return Jets(
            *(np.concatenate([getattr(p, n) for p in parts]) for n in _CORE),
            join("truth"),
            join("ttv"),
        )


_CORE = ("momenta", "n_constituents", "labels")


def _check(jets: Jets, source: str, offset: int = 0) -> Jets:
    """Reject NaN/Inf rows, labels outside {0, 1} and negative energies, naming the first row."""
    bad = ~np.isfinite(jets.momenta).all(axis=(1, 2)) | ~np.isfinite(jets.labels)
    if jets.truth is not None:
        bad |= ~np.isfinite(jets.truth).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"{source}: {len(rows)} jet(s) contain NaN or Inf values "
            f"(first at row {rows[0] + offset})"
        )
    wrong = ~np.isin(jets.labels, (0, 1))
    if wrong.any():
        row = np.flatnonzero(wrong)[0]
        raise ValueError(f"{source}: label {jets.labels[row]} at row {row + offset} is not 0 or 1")
    if (jets.momenta[..., 0] < 0).any():
        row = np.flatnonzero((jets.momenta[..., 0] < 0).any(axis=1))[0]
        raise ValueError(f"{source}: negative constituent energy in row {row + offset}")
    return jets


def detect_layout(path: str | os.PathLike) -> str:
    """``"reference"``, ``"converted"`` or ``"npz"``; ValueError for a missing, corrupt or
    foreign file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no jet file at {path}")
    if path.suffix == ".npz" or zipfile.is_zipfile(path):
        return "npz"
    h5py = require("h5py", "toptag")
    try:
        with h5py.File(path, "r") as f:
            keys = set(f.keys())
    except OSError as err:
        raise ValueError(
            f"{path} is not a readable HDF5 file (corrupt or truncated?): {err}"
        ) from err
    if {"Nobj", "Pmu", "is_signal"} <= keys:
        return "converted"
    if KEY in keys:
        return "reference"
    raise ValueError(
        f"{path} holds neither the reference layout (key 'table') nor the converted layout "
        f"(Nobj, Pmu, is_signal); found keys {sorted(keys)}"
    )


def _npz_split(path, split: str | None, *, kinematics: bool = True):
    """``(kinematics, labels)`` of split ``split`` of an npz-layout file (kinematics None when
    not asked for), checked for missing keys, shapes and non-numeric arrays."""
    if split not in NPZ_SPLITS:
        raise ValueError(
            f"{path} holds the splits {NPZ_SPLITS} (the npz layout); pass split= one of them, "
            f"got {split!r}"
        )
    names = (f"kinematics_{split}", f"labels_{split}")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in names if k not in f.files]
            if missing:
                raise ValueError(
                    f"{path}: missing array(s) {missing} of the npz layout (kinematics_<split> "
                    f"(N, m, 4), labels_<split> (N,)); found {sorted(f.files)}"
                )
            labels = f[names[1]]
            momenta = f[names[0]] if kinematics else None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"{path} is not a readable .npz file (corrupt or truncated?): {err}"
        ) from None
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise ValueError(
                f"{path}: the npz layout holds numeric arrays; an object array was refused "
                "(loading it would unpickle Python objects)"
            ) from None
        raise
    for name, array in zip(names, (momenta, labels), strict=True):
        if array is not None and array.dtype.kind not in "biuf":
            raise ValueError(f"{path}: {name} is not numeric ({array.dtype}); refused")
    if labels.ndim != 1:
        raise ValueError(f"{path}: {names[1]} must have shape (N,), got {labels.shape}")
    if momenta is not None:
        if momenta.ndim != 3 or momenta.shape[2] != 4:
            raise ValueError(
                f"{path}: {names[0]} must have shape (N, max_particles, 4) = (E, px, py, pz), "
                f"got {momenta.shape}"
            )
        if momenta.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{path}: {names[0]} has {momenta.shape[0]} jets but {names[1]} has "
                f"{labels.shape[0]} labels"
            )
    return momenta, labels


def _npz_jets(path, momenta, labels, start, stop, max_constituents) -> Jets:
    momenta = np.asarray(momenta[start:stop, :max_constituents], dtype=np.float32)
    if momenta.shape[1] < max_constituents:
        pad = np.zeros((len(momenta), max_constituents - momenta.shape[1], 4), np.float32)
        momenta = np.concatenate([momenta, pad], axis=1)
    label = labels[start:stop].astype(np.float64)
    labels = label.astype(np.int64) if np.isfinite(label).all() else label
    jets = Jets(momenta, (momenta[..., 0] > 0).sum(1).astype(np.int64), labels)
    return _check(jets, str(path), start)


def count_jets(path: str | os.PathLike, split: str | None = None) -> int:
    """Number of jets in a file of any layout (of split ``split`` for the npz layout)."""
    layout = detect_layout(path)
    if layout == "npz":
        return int(_npz_split(path, split, kinematics=False)[1].shape[0])
    if layout == "converted":
        h5py = require("h5py", "toptag")
        with h5py.File(path, "r") as f:
            return int(f["is_signal"].shape[0])
    h5py = require("h5py", "toptag")
    with h5py.File(path, "r") as f:
        return _PandasTable(f, str(path)).n_rows


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pickled_names(blob, source: str, attribute: str) -> list[str]:
    """The column names pandas stores as a pickled list of strings, parsed without unpickling:
    only list and string opcodes are accepted, anything else is refused."""
    allowed = {
        "PROTO", "FRAME", "MARK", "LIST", "EMPTY_LIST", "APPEND", "APPENDS", "PUT", "BINPUT",
        "LONG_BINPUT", "MEMOIZE", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
        "STOP",
    }  # fmt: skip
    names, lists = [], 0
    try:
        for op, arg, _ in pickletools.genops(bytes(blob)):
            if op.name not in allowed:
                raise ValueError(f"opcode {op.name}")
            lists += op.name in ("LIST", "EMPTY_LIST")
            if "UNICODE" in op.name:
                names.append(arg)
    except ValueError as err:
        raise ValueError(
            f"{source}: attribute {attribute!r} is not a plain list of column names ({err}); "
            "refused (reading it would unpickle Python objects)"
        ) from None
    if lists != 1:
        raise ValueError(f"{source}: attribute {attribute!r} is not a list of column names")
    return names


def _numeric(dtype, names: list[str], source: str):
    if dtype.kind not in "biuf":
        raise ValueError(
            f"{source}: column {names[0] if names else '?'!r} is not numeric ({dtype}); refused "
            "(reading a non-numeric column would unpickle Python objects)"
        )


class _PandasTable:
    """The columns of the pandas HDF5 store under key ``"table"`` (``fixed`` or ``table`` format),
    read with h5py only. Every column must be numeric.

    Attributes:
        n_rows: number of rows (jets).
        columns: column name -> (block, position in the block).
    """

    def __init__(self, f, source: str):
        group = f.get(KEY)
        kind = _text(group.attrs.get("pandas_type", b"")) if group is not None else ""
        self.source = source
        self.columns: dict[str, tuple[int, int]] = {}
        self._blocks: list[Callable[[int, int | None], np.ndarray]] = []
        if kind == "frame":
            self._fixed(group)
        elif kind == "frame_table":
            self._table(group)
        else:
            raise ValueError(
                f"{source}: key 'table' is not a pandas data frame (pandas_type {kind!r})"
            )

    def _add(self, names: list[str], read) -> None:
        for j, name in enumerate(names):
            self.columns[name] = (len(self._blocks), j)
        self._blocks.append(read)

    def _fixed(self, group) -> None:
        self.n_rows = int(group["axis1"].shape[0])
        for k in range(int(group.attrs["nblocks"])):
            names = [_text(v) for v in group[f"block{k}_items"][()]]
            values = group[f"block{k}_values"]
            _numeric(values.dtype, names, self.source)
            if values.attrs.get("transposed", True):  # stored (rows, columns)
                read = lambda a, b, v=values: v[a:b]
            else:
                read = lambda a, b, v=values: v[:, a:b].T
            self._add(names, read)

    def _table(self, group) -> None:
        table = group["table"]
        self.n_rows = int(table.shape[0])
        for field in table.dtype.names:
            if field == "index":
                continue
            base = table.dtype[field].base
            if field.startswith("values_block_"):
                attribute = f"{field}_kind"
                names = _pickled_names(table.attrs[attribute], self.source, attribute)
            else:  # a data column: one column stored under its own name
                names = [field]
            _numeric(base, names, self.source)
            self._add(names, lambda a, b, t=table, n=field: np.asarray(t.fields(n)[a:b]))

    def read(self, names: list[str], start: int, stop: int | None) -> dict[str, np.ndarray]:
        """Rows ``start:stop`` of the columns ``names``, each block read once."""
        out, cache = {}, {}
        for name in names:
            block, j = self.columns[name]
            if block not in cache:
                cache[block] = self._blocks[block](start, stop)
            values = cache[block]
            out[name] = values[:, j] if values.ndim == 2 else values
        return out


def _read_reference(path, start: int, stop: int | None, max_constituents: int) -> Jets:
    h5py = require("h5py", "toptag")
    source = str(path)
    cols = MOMENTUM_COLUMNS[: 4 * max_constituents]
    with h5py.File(path, "r") as f:
        try:
            table = _PandasTable(f, source)
            missing = [c for c in [*cols, LABEL_COLUMN] if c not in table.columns]
            if missing:
                raise ValueError(
                    f"{source}: missing column(s) {missing[:6]}"
                    f"{' ...' if len(missing) > 6 else ''} of the reference layout"
                )
            extra = [c for c in [*TRUTH_COLUMNS, "ttv"] if c in table.columns]
            values = table.read([*cols, LABEL_COLUMN, *extra], start, stop)
        except (OSError, KeyError) as err:
            raise ValueError(f"{source}: corrupt or truncated data: {err}") from err
    n = len(values[LABEL_COLUMN])
    momenta = np.stack([values[c] for c in cols], axis=1).astype(np.float32)
    momenta = momenta.reshape(n, max_constituents, 4)
    label = values[LABEL_COLUMN].astype(np.float64)
    truth = (
        np.stack([values[c] for c in TRUTH_COLUMNS], axis=1).astype(np.float32)
        if set(TRUTH_COLUMNS) <= set(values)
        else None
    )
    ttv = values["ttv"].astype(np.int64) if "ttv" in values else None
    if np.isfinite(label).all():
        labels = label.astype(np.int64)
        if not np.array_equal(labels, label):
            raise ValueError(f"{source}: non-integer values in column {LABEL_COLUMN!r}")
    else:
        labels = label  # _check names the NaN row
    jets = Jets(momenta, (momenta[..., 0] > 0).sum(1).astype(np.int64), labels, truth, ttv)
    return _check(jets, source, start)


def _read_converted(path, start, stop, max_constituents) -> Jets:
    h5py = require("h5py", "toptag")
    source = str(path)
    with h5py.File(path, "r") as f:
        try:
            pmu = f["Pmu"]
            if pmu.ndim != 3 or pmu.shape[2] != 4:
                raise ValueError(f"{source}: Pmu must have shape (N, m, 4), got {pmu.shape}")
            n = pmu.shape[0]
            if f["Nobj"].shape[0] != n or f["is_signal"].shape[0] != n:
                raise ValueError(f"{source}: Nobj, Pmu and is_signal disagree on the jet count")
            momenta = pmu[start:stop, :max_constituents].astype(np.float32)
            nobj = f["Nobj"][start:stop].astype(np.int64)
            label = f["is_signal"][start:stop].astype(np.float64)
        except OSError as err:
            raise ValueError(f"{source}: corrupt or truncated data: {err}") from err
    if momenta.shape[1] < max_constituents:
        pad = np.zeros((len(momenta), max_constituents - momenta.shape[1], 4), np.float32)
        momenta = np.concatenate([momenta, pad], axis=1)
    labels = label.astype(np.int64) if np.isfinite(label).all() else label
    jets = Jets(momenta, np.minimum(nobj, max_constituents), labels)
    return _check(jets, source, start)


def read_jets(
    path: str | os.PathLike,
    start: int = 0,
    stop: int | None = None,
    max_constituents: int = MAX_CONSTITUENTS,
    split: str | None = None,
) -> Jets:
    """Rows ``start:stop`` of a jet file in any layout (detected; of split ``split`` for the npz
    layout), checked for bad rows."""
    if not 1 <= max_constituents <= MAX_CONSTITUENTS:
        raise ValueError(f"max_constituents must lie in [1, 200], got {max_constituents}")
    layout = detect_layout(path)
    if layout == "npz":
        momenta, labels = _npz_split(path, split)
        return _npz_jets(path, momenta, labels, start, stop, max_constituents)
    if layout == "converted":
        return _read_converted(path, start, stop, max_constituents)
    return _read_reference(path, start, stop, max_constituents)


def iter_jets(
    path: str | os.PathLike,
    chunk_size: int = 100_000,
    max_constituents: int = MAX_CONSTITUENTS,
    split: str | None = None,
) -> Iterator[Jets]:
    """Read a file in chunks of ``chunk_size`` jets (bounded memory for the 1.2M-jet HDF5
    files; an npz split is loaded once, whole, then cut into chunks)."""
    if not 1 <= max_constituents <= MAX_CONSTITUENTS:
        raise ValueError(f"max_constituents must lie in [1, 200], got {max_constituents}")
    if detect_layout(path) == "npz":
        momenta, labels = _npz_split(path, split)
        for start in range(0, len(labels), chunk_size):
            stop = min(start + chunk_size, len(labels))
            yield _npz_jets(path, momenta, labels, start, stop, max_constituents)
        return
    n = count_jets(path)
    for start in range(0, n, chunk_size):
        yield read_jets(path, start, min(start + chunk_size, n), max_constituents)


def to_frame(jets: Jets):
    """The reference-layout pandas DataFrame of ``jets`` (padded to 200 constituents)."""
    pd = require("pandas", "toptag")
    N, m, _ = jets.momenta.shape
    if m > MAX_CONSTITUENTS:
        raise ValueError(f"at most {MAX_CONSTITUENTS} constituents per jet, got {m}")
    momenta = np.zeros((N, MAX_CONSTITUENTS, 4), np.float32)
    momenta[:, :m] = jets.momenta
    columns = {c: momenta.reshape(N, -1)[:, i] for i, c in enumerate(MOMENTUM_COLUMNS)}
    truth = np.zeros((N, 4), np.float32) if jets.truth is None else jets.truth.astype(np.float32)
    columns.update({c: truth[:, i] for i, c in enumerate(TRUTH_COLUMNS)})
    columns["ttv"] = np.zeros(N, np.int64) if jets.ttv is None else jets.ttv.astype(np.int64)
    columns[LABEL_COLUMN] = jets.labels.astype(np.int64)
    return pd.DataFrame(columns)


def write_reference(path: str | os.PathLike, jets: Jets, append: bool = False) -> None:
    """Write (or append) ``jets`` to ``path`` in the reference layout (pandas table format)."""
    require("tables", "toptag")
    _check(jets, "jets to write")
    to_frame(jets).to_hdf(
        path, key=KEY, format="table", mode="a" if append else "w", append=append, complevel=1
    )


def write_converted(path: str | os.PathLike, jets: Jets) -> None:
    """Write ``jets`` in the converted layout: Nobj, Pmu (N, 200, 4), is_signal, label (mask)."""
    h5py = require("h5py", "toptag")
    _check(jets, "jets to write")
    N, m, _ = jets.momenta.shape
    momenta = np.zeros((N, MAX_CONSTITUENTS, 4), np.float32)
    momenta[:, :m] = jets.momenta
    with h5py.File(path, "w") as f:
        f["Nobj"] = jets.n_constituents.astype(np.int64)
        f["Pmu"] = momenta
        f["is_signal"] = jets.labels.astype(np.int64)
        f["label"] = np.arange(MAX_CONSTITUENTS) < jets.n_constituents[:, None]


def write_npz(path: str | os.PathLike, splits: dict[str, Jets]) -> None:
    """Write jets in the npz layout: ``kinematics_<split>`` (N, m, 4) float32 and
    ``labels_<split>`` (N,) int64 for each ``split`` in ``splits`` (train / val / test)."""
    arrays = {}
    for split, jets in splits.items():
        if split not in NPZ_SPLITS:
            raise ValueError(f"splits must be among {NPZ_SPLITS}, got {split!r}")
        _check(jets, f"jets to write ({split})")
        arrays[f"kinematics_{split}"] = jets.momenta.astype(np.float32)
        arrays[f"labels_{split}"] = jets.labels.astype(np.int64)
    np.savez(path, **arrays)
