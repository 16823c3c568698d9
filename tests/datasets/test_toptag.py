import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from liegnn.datasets import toptag
from liegnn.datasets.toptag import TopTagging, generated_toptag, liegan_inputs
from liegnn.datasets.toptag_files import write_converted, write_npz, write_reference


@pytest.fixture
def files(tmp_path, make_jets):
    jets = make_jets(20, seed=4)
    conv = tmp_path / "conv.h5"
    write_converted(conv, jets)
    paths = {"converted": conv}
    try:
        import tables  # noqa: F401
    except ImportError:
        pass
    else:
        paths["reference"] = tmp_path / "ref.h5"
        write_reference(paths["reference"], jets)
    return jets, paths


def test_each_jet_becomes_a_graph_of_its_constituents(tmp_path, files):
    jets, paths = files
    for path in paths.values():
        data = TopTagging(path, root=tmp_path / "cache")
        assert len(data) == 20
        for i in (0, 7, 19):
            g = data[i]
            n = int(jets.n_constituents[i])
            assert g.pos.shape == (n, 4) and g.pos.dtype == torch.float32
            np.testing.assert_array_equal(g.pos.numpy(), jets.momenta[i, :n])
            assert g.y.tolist() == [int(jets.labels[i])]
        torch.testing.assert_close(data.labels, torch.as_tensor(jets.labels))


def test_batches_through_pyg_loader(tmp_path, files):
    jets, paths = files
    data = TopTagging(paths["converted"], root=tmp_path)
    batch = next(iter(DataLoader(data, batch_size=5)))
    assert batch.num_graphs == 5
    assert batch.pos.shape == (int(jets.n_constituents[:5].sum()), 4)
    assert batch.y.shape == (5,)


def test_transform_is_applied_on_access(tmp_path, files):
    _, paths = files

    def add_mass(d):
        p = d.pos.sum(0)
        d.mass = (p[0] ** 2 - (p[1:] ** 2).sum()).clamp_min(0).sqrt()
        return d

    data = TopTagging(paths["converted"], root=tmp_path, transform=add_mass)
    assert hasattr(data[3], "mass") and data[3].mass >= 0


def test_liegan_inputs_are_two_leading_four_momenta(tmp_path, files):
    jets, paths = files
    x, y = liegan_inputs(paths["converted"], root=tmp_path)
    assert x.shape == (20, 8) and x.dtype == torch.float32 and y.shape == (20,)
    expect = jets.momenta[:, :2].reshape(20, 8).copy()
    expect[jets.n_constituents < 2, 4:] = 0.0
    np.testing.assert_array_equal(x.numpy(), expect)
    torch.testing.assert_close(y, torch.as_tensor(jets.labels))


def test_n_jets_keeps_the_first_jets(tmp_path, files):
    jets, paths = files
    data = TopTagging(paths["converted"], root=tmp_path, n_jets=6, chunk_size=4)
    assert len(data) == 6
    np.testing.assert_array_equal(data[5].pos.numpy(), jets.momenta[5, : jets.n_constituents[5]])
    with pytest.raises(ValueError, match="n_jets"):
        TopTagging(paths["converted"], root=tmp_path, n_jets=21)


def test_parsed_jets_are_cached_and_reused(tmp_path, files, monkeypatch):
    _, paths = files
    first = TopTagging(paths["converted"], root=tmp_path)
    assert first.cache_path.exists() and first.cache_path.parent == tmp_path / "toptag"

    def fail(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(toptag, "_collate", fail)
    second = TopTagging(paths["converted"], root=tmp_path)
    torch.testing.assert_close(second[4].pos, first[4].pos)


def test_changed_file_is_parsed_again(tmp_path, files, make_jets):
    _, paths = files
    path = paths["converted"]
    a = TopTagging(path, root=tmp_path)
    write_converted(path, make_jets(9, seed=5))
    b = TopTagging(path, root=tmp_path)
    assert len(a) == 20 and len(b) == 9 and a.cache_path != b.cache_path


def test_damaged_cache_is_refused_and_removing_it_rebuilds(tmp_path, files):
    _, paths = files
    a = TopTagging(paths["converted"], root=tmp_path)
    a.cache_path.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"rm '.*\.pt'"):
        TopTagging(paths["converted"], root=tmp_path)
    a.cache_path.unlink()
    b = TopTagging(paths["converted"], root=tmp_path)
    assert len(b) == 20 and a.cache_path.exists()


def test_jet_without_constituents_raises(tmp_path, make_jets):
    jets = make_jets(5)
    jets.momenta[2] = 0.0
    jets.n_constituents[2] = 0
    path = tmp_path / "empty.h5"
    write_converted(path, jets)
    with pytest.raises(ValueError, match="jet 2 has no constituents"):
        TopTagging(path, root=tmp_path)


def test_missing_file_raises(tmp_path):
    with pytest.raises(ValueError, match="no jet file"):
        TopTagging(tmp_path / "absent.h5", root=tmp_path)


def test_generated_jets_load_as_a_dataset(tmp_path):
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    pytest.importorskip("tables")
    data = generated_toptag(4, seed=3, root=tmp_path, n_workers=1, chunk_size=4, progress=False)
    assert len(data) == 4 and int(data.labels.sum()) == 2
    assert (tmp_path / "toptag" / "generated_4_seed3.h5").exists()
    pt = torch.hypot(*data[0].pos.sum(0)[1:3])
    assert 550 <= pt <= 650


def test_lorentznet_transform_adds_beams_scalars_and_edges(tmp_path, files):
    graphs = pytest.importorskip("liegnn.nn.graphs")  # written alongside, in liegnn.nn
    jets, paths = files
    data = TopTagging(paths["converted"], root=tmp_path, transform=graphs.LorentzNetInputs())
    g = data[0]
    n = int(jets.n_constituents[0]) + 2
    assert g.pos.shape == (n, 4) and g.x.shape == (n, 2) and g.edge_index.shape == (2, n * (n - 1))
    np.testing.assert_array_equal(g.pos[2:].numpy(), jets.momenta[0, : n - 2])


def test_npz_split_loads_as_a_dataset_with_its_own_cache(tmp_path, make_jets):
    train, test = make_jets(6, 0), make_jets(3, 1)
    path = tmp_path / "toptagging.npz"
    write_npz(path, {"train": train, "val": test, "test": test})
    a = TopTagging(path, split="train", root=tmp_path / "cache")
    b = TopTagging(path, split="test", root=tmp_path / "cache")
    assert (len(a), len(b)) == (6, 3) and a.cache_path != b.cache_path
    assert "toptagging_train_" in a.cache_path.name
    first = train.momenta[0, : train.n_constituents[0]]
    torch.testing.assert_close(a[0].pos, torch.from_numpy(first))
    with pytest.raises(ValueError, match="split="):
        TopTagging(path, root=tmp_path / "cache")
