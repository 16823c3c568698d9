import sys

import h5py
import numpy as np
import pandas as pd
import pytest

from liegnn.datasets.toptag_files import (
    LABEL_COLUMN,
    MOMENTUM_COLUMNS,
    TRUTH_COLUMNS,
    Jets,
    count_jets,
    detect_layout,
    iter_jets,
    read_jets,
    to_frame,
    write_converted,
    write_npz,
    write_reference,
)


def assert_same_jets(a: Jets, b: Jets, truth: bool = True):
    np.testing.assert_array_equal(a.momenta, b.momenta)
    np.testing.assert_array_equal(a.n_constituents, b.n_constituents)
    np.testing.assert_array_equal(a.labels, b.labels)
    if truth:
        np.testing.assert_array_equal(a.truth, b.truth)


def test_reference_layout_round_trip(tmp_path, make_jets):
    pytest.importorskip("tables")
    jets = make_jets()
    path = tmp_path / "ref.h5"
    write_reference(path, jets)
    assert detect_layout(path) == "reference"
    df = pd.read_hdf(path, "table")
    assert list(df.columns[:4]) == ["E_0", "PX_0", "PY_0", "PZ_0"]
    assert {LABEL_COLUMN, "ttv", *TRUTH_COLUMNS} <= set(df.columns)
    assert df.shape == (12, 806)
    back = read_jets(path)
    assert_same_jets(jets, back)
    np.testing.assert_array_equal(back.ttv, 0)


def test_reference_layout_as_pandas_fixed_format_is_read(tmp_path, make_jets):
    """The downloadable files are written by pandas; the fixed format must read the same."""
    pytest.importorskip("tables")
    jets = make_jets()
    path = tmp_path / "fixed.h5"
    to_frame(jets).to_hdf(path, key="table", format="fixed", mode="w")
    assert count_jets(path) == 12
    assert_same_jets(jets, read_jets(path))
    assert_same_jets(jets[3:7], read_jets(path, 3, 7))


def test_converted_layout_round_trip(tmp_path, make_jets):
    jets = make_jets()
    path = tmp_path / "conv.h5"
    write_converted(path, jets)
    assert detect_layout(path) == "converted"
    with h5py.File(path) as f:
        assert f["Pmu"].shape == (12, 200, 4)
        np.testing.assert_array_equal(f["label"][:].sum(1), jets.n_constituents)
    back = read_jets(path)
    assert_same_jets(jets, back, truth=False)
    assert back.truth is None


def test_reference_appends_and_reads_in_chunks(tmp_path, make_jets):
    pytest.importorskip("tables")
    a, b = make_jets(7, 1), make_jets(5, 2)
    path = tmp_path / "ref.h5"
    write_reference(path, a)
    write_reference(path, b, append=True)
    assert count_jets(path) == 12
    chunks = list(iter_jets(path, chunk_size=5))
    assert [len(c) for c in chunks] == [5, 5, 2]
    assert_same_jets(Jets.concatenate(chunks), Jets.concatenate([a, b]))


def test_fewer_constituents_requested_truncates(tmp_path, make_jets):
    jets = make_jets()
    path = tmp_path / "conv.h5"
    write_converted(path, jets)
    back = read_jets(path, max_constituents=10)
    assert back.momenta.shape == (12, 10, 4)
    np.testing.assert_array_equal(back.n_constituents, np.minimum(jets.n_constituents, 10))


def test_missing_columns_raise(tmp_path, make_jets):
    pytest.importorskip("tables")
    df = to_frame(make_jets()).drop(columns=["PX_3", LABEL_COLUMN])
    path = tmp_path / "bad.h5"
    df.to_hdf(path, key="table", format="table", mode="w")
    with pytest.raises(ValueError, match="missing column.*PX_3"):
        read_jets(path)


def test_nan_row_raises_naming_the_row(tmp_path, make_jets):
    pytest.importorskip("tables")
    df = to_frame(make_jets())
    df.loc[5, "E_0"] = np.nan
    path = tmp_path / "nan.h5"
    df.to_hdf(path, key="table", format="table", mode="w")
    with pytest.raises(ValueError, match="NaN.*row 5"):
        read_jets(path)
    # the bad row is found by its file position even inside a later chunk
    with pytest.raises(ValueError, match="row 5"):
        list(iter_jets(path, chunk_size=4))


def test_nan_in_converted_file_raises(tmp_path, make_jets):
    jets = make_jets()
    path = tmp_path / "conv.h5"
    write_converted(path, jets)
    with h5py.File(path, "a") as f:
        f["Pmu"][2, 0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN.*row 2"):
        read_jets(path)


def test_wrong_labels_raise(tmp_path, make_jets):
    pytest.importorskip("tables")
    df = to_frame(make_jets())
    df.loc[3, LABEL_COLUMN] = 2
    path = tmp_path / "lab.h5"
    df.to_hdf(path, key="table", format="table", mode="w")
    with pytest.raises(ValueError, match="label 2 at row 3"):
        read_jets(path)


def test_truncated_file_raises(tmp_path, make_jets):
    jets = make_jets(50)
    path = tmp_path / "conv.h5"
    write_converted(path, jets)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        read_jets(path)


def test_truncated_reference_file_raises(tmp_path, make_jets):
    pytest.importorskip("tables")
    path = tmp_path / "ref.h5"
    write_reference(path, make_jets(50))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        read_jets(path)


def test_foreign_hdf5_file_raises(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match="neither the reference layout"):
        read_jets(path)
    with pytest.raises(ValueError, match="no jet file"):
        read_jets(tmp_path / "absent.h5")


def test_inconsistent_converted_file_raises(tmp_path):
    path = tmp_path / "conv.h5"
    with h5py.File(path, "w") as f:
        f["Nobj"] = np.ones(3, np.int64)
        f["Pmu"] = np.zeros((4, 200, 4), np.float32)
        f["is_signal"] = np.ones(3, np.int64)
    with pytest.raises(ValueError, match="disagree"):
        read_jets(path)


def test_momentum_column_order_is_e_px_py_pz_per_constituent():
    assert MOMENTUM_COLUMNS[:8] == ["E_0", "PX_0", "PY_0", "PZ_0", "E_1", "PX_1", "PY_1", "PZ_1"]
    assert len(MOMENTUM_COLUMNS) == 800


def test_reading_needs_no_pandas_and_writing_names_the_extra(tmp_path, monkeypatch, make_jets):
    """The reference layout is parsed with h5py alone; writing it needs pandas."""
    pytest.importorskip("tables")
    path = tmp_path / "ref.h5"
    jets = make_jets()
    write_reference(path, jets)
    monkeypatch.setitem(sys.modules, "pandas", None)
    assert_same_jets(jets, read_jets(path))
    assert count_jets(path) == len(jets)
    with pytest.raises(ImportError, match=r"liegnn\[toptag\]"):
        write_reference(tmp_path / "again.h5", jets)


def _lgatr_npz(path, jets_by_split, max_particles=30):
    """An .npz as L-GATr / LLoCa users have it, written with plain NumPy: kinematics_<split>
    (N, max_particles, 4) = (E, px, py, pz) zero padded, labels_<split> (N,) bool."""
    arrays = {}
    for split, jets in jets_by_split.items():
        arrays[f"kinematics_{split}"] = jets.momenta[:, :max_particles].astype(np.float64)
        arrays[f"labels_{split}"] = jets.labels.astype(bool)
    np.savez_compressed(path, **arrays)
    return path


def test_npz_layout_of_lgatr_is_read_split_by_split(tmp_path, make_jets):
    splits = {"train": make_jets(10, 0), "val": make_jets(4, 1), "test": make_jets(5, 2)}
    for jets in splits.values():  # the file keeps 30 particles: so do the jets compared
        jets.momenta[:, 30:] = 0
        jets.n_constituents = np.minimum(jets.n_constituents, 30)
    path = _lgatr_npz(tmp_path / "toptagging.npz", splits)
    assert detect_layout(path) == "npz"
    for split, jets in splits.items():
        assert count_jets(path, split=split) == len(jets)
        back = read_jets(path, split=split)
        assert_same_jets(jets, back, truth=False)
        assert back.momenta.dtype == np.float32 and back.labels.dtype == np.int64
    rows = read_jets(path, 2, 5, max_constituents=8, split="train")
    np.testing.assert_array_equal(rows.momenta, splits["train"].momenta[2:5, :8])
    chunks = list(iter_jets(path, chunk_size=4, split="train"))
    assert [len(c) for c in chunks] == [4, 4, 2]


def test_write_npz_round_trip(tmp_path, make_jets):
    jets = make_jets(6)
    path = tmp_path / "j.npz"
    write_npz(path, {"train": jets, "val": jets[:2], "test": jets[2:4]})
    assert_same_jets(jets, read_jets(path, split="train"), truth=False)
    assert count_jets(path, split="val") == 2


@pytest.mark.parametrize(
    ("arrays", "split", "match"),
    [
        (
            {"kinematics_train": np.zeros((2, 3, 4))},
            "train",
            r"missing array\(s\) \['labels_train'\]",
        ),
        (
            {"kinematics_train": np.zeros((2, 3, 3)), "labels_train": np.zeros(2)},
            "train",
            "(N, max_particles, 4)",
        ),
        (
            {"kinematics_train": np.zeros((2, 3, 4)), "labels_train": np.zeros(3)},
            "train",
            "3 labels",
        ),
        (
            {"kinematics_train": np.zeros((2, 3, 4)), "labels_train": np.zeros((2, 1))},
            "train",
            "shape \\(N,\\)",
        ),
        (
            {"kinematics_train": np.zeros((2, 3, 4)), "labels_train": np.zeros(2)},
            "validation",
            "split=",
        ),
        ({"kinematics_train": np.zeros((2, 3, 4)), "labels_train": np.zeros(2)}, None, "split="),
    ],
)
def test_npz_layout_errors_name_the_problem(tmp_path, arrays, split, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=match):
        read_jets(path, split=split)


def test_npz_object_array_is_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    kinematics = np.empty(2, dtype=object)
    kinematics[0], kinematics[1] = np.zeros((3, 4)), np.zeros((5, 4))
    np.savez(path, kinematics_train=kinematics, labels_train=np.zeros(2))
    with pytest.raises(ValueError, match="object array was refused"):
        read_jets(path, split="train")


def test_npz_bad_rows_are_refused(tmp_path, make_jets):
    jets = make_jets(4)
    jets.momenta[2, 0, 0] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, kinematics_test=jets.momenta, labels_test=jets.labels)
    with pytest.raises(ValueError, match="NaN or Inf.*row 2"):
        read_jets(path, split="test")
