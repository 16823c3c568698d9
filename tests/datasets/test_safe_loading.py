"""Reading a data file never runs code: each reader is given a planted pickle payload.

The payload (:class:`Marker`) creates a marker file when it is unpickled. Every test proves that
the reader refuses the file with a clear error and that the marker file does not appear; where it
is cheap, it also shows that the planted file does run code through the unsafe reader.
"""

import pathlib
import pickle

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from liegnn.datasets.qm9 import QM9
from liegnn.datasets.toptag import TopTagging
from liegnn.datasets.toptag_files import count_jets, read_jets, to_frame, write_converted


class Marker:
    """A harmless payload: unpickling it creates the file ``path``."""

    def __init__(self, path):
        self.path = pathlib.Path(path)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.path,))


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "payload-ran"


def test_the_payload_runs_code_when_unpickled(marker):
    pickle.loads(pickle.dumps(Marker(marker)))  # noqa: S301  (the control case)
    assert marker.exists()


# -- QM9: a torch_geometric root --------------------------------------------------------------


def _raw_root(tmp_path):
    root = tmp_path / "QM9"
    (root / "raw").mkdir(parents=True)
    (root / "processed").mkdir()
    torch.save([], root / "raw" / "qm9_v3.pt")  # a safe raw file, so PyG would process it
    return root


@pytest.mark.parametrize(
    "name", ["processed/data_v3.pt", "raw/qm9_v3.pt", "processed/pre_transform.pt"]
)
def test_qm9_root_with_a_pickle_payload_is_refused(tmp_path, marker, name):
    root = _raw_root(tmp_path)
    torch.save((Marker(marker), {"z": torch.zeros(2)}, Data), root / name)
    with pytest.raises(ValueError, match=rf"{name} is not a safe torch_geometric QM9 file.*pickle"):
        QM9(root, root=tmp_path / "cache")
    assert not marker.exists()
    assert not list((tmp_path / "cache").rglob("*.pt"))  # nothing cached either


# -- top-tagging jet files --------------------------------------------------------------------


def test_jet_file_with_an_object_column_is_refused(tmp_path, marker, make_jets):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables")
    df = to_frame(make_jets(4))
    df["note"] = [Marker(marker)] * len(df)  # pandas pickles object columns into the store
    path = tmp_path / "evil.h5"
    df.to_hdf(path, key="table", format="fixed", mode="w")
    for read in (read_jets, count_jets, lambda p: TopTagging(p, root=tmp_path / "cache")):
        with pytest.raises(ValueError, match=r"evil\.h5: column 'note' is not numeric"):
            read(path)
    assert not marker.exists()
    pd.read_hdf(path, "table")  # the same file through pandas runs the payload
    assert marker.exists()


def test_jet_file_with_a_pickled_column_list_is_refused(tmp_path, marker, make_jets):
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("tables")
    path = tmp_path / "evil.h5"
    to_frame(make_jets(4)).to_hdf(path, key="table", format="table", mode="w")
    with h5py.File(path, "a") as f:  # the column names of a block are a pickled list
        f["table/table"].attrs["values_block_1_kind"] = np.bytes_(pickle.dumps(Marker(marker), 0))
    with pytest.raises(ValueError, match=r"evil\.h5: attribute 'values_block_1_kind'.*refused"):
        read_jets(path)
    assert not marker.exists()


# -- the dataset cache ------------------------------------------------------------------------


def test_replaced_dataset_cache_is_refused_with_how_to_remove_it(tmp_path, marker, make_jets):
    path = tmp_path / "jets.h5"
    write_converted(path, make_jets(6))
    cache = TopTagging(path, root=tmp_path).cache_path
    torch.save((Marker(marker), {}, Data), cache)
    with pytest.raises(ValueError, match=rf"rm '{cache}'.*force_reload=True"):
        TopTagging(path, root=tmp_path)
    assert not marker.exists()
    assert len(TopTagging(path, root=tmp_path, force_reload=True)) == 6  # the way out works
    assert not marker.exists()
    torch.save((Marker(marker), {}, Data), cache)
    torch.load(cache, weights_only=False)  # noqa: S614  (control: the planted cache runs code)
    assert marker.exists()


def test_existing_generator_output_with_a_pickled_attribute_is_not_unpickled(
    tmp_path, marker, make_jets
):
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    pytest.importorskip("tables")
    from liegnn.datasets.toptag_generate import generate_toptag

    path = tmp_path / "out.h5"
    to_frame(make_jets(4)).to_hdf(path, key="table", format="table", mode="w")
    with h5py.File(path, "a") as f:  # pandas unpickles this attribute when it opens the table
        f["table"].attrs["non_index_axes"] = np.bytes_(pickle.dumps(Marker(marker), 0))
    with pytest.raises(ValueError, match="exists with other content"):
        generate_toptag(path, n_jets=4, chunk_size=2, n_workers=1, progress=False)
    assert not marker.exists()
