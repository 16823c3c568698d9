import logging
from types import SimpleNamespace

import numpy as np
import pytest

from liegnn.datasets._cache import atomic_path, cache_dir, cached_arrays, default_cache_root


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("LIEGNN_CACHE", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir(None, "a") == tmp_path / "env" / "a"
    assert cache_dir(tmp_path / "arg", "b") == tmp_path / "arg" / "b"
    assert (tmp_path / "arg" / "b").is_dir()
    monkeypatch.delenv("LIEGNN_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir(None) == tmp_path / "home" / ".cache" / "liegnn"


def test_cache_dir_honours_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.delenv("LIEGNN_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir(None, "qm9") == tmp_path / "xdg" / "liegnn" / "qm9"
    assert (tmp_path / "xdg" / "liegnn" / "qm9").is_dir()
    assert not (tmp_path / "home").exists()


def test_liegnn_cache_and_root_take_precedence_over_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LIEGNN_CACHE", str(tmp_path / "env"))
    assert cache_dir(None) == tmp_path / "env"
    assert cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert not (tmp_path / "xdg").exists()


@pytest.mark.parametrize("xdg", ["", "relative/cache"])
def test_empty_or_relative_xdg_cache_home_is_ignored(tmp_path, monkeypatch, xdg):
    monkeypatch.delenv("LIEGNN_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    monkeypatch.chdir(tmp_path)
    assert default_cache_root() == tmp_path / "home" / ".cache" / "liegnn"


def test_interrupted_write_leaves_no_file(tmp_path):
    target = tmp_path / "data.npz"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_a_failed_rewrite(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"good")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"bad")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"good"


def test_cached_arrays_made_once_and_corrupt_cache_rebuilt_with_a_warning(tmp_path, caplog):
    calls = []

    def make():
        calls.append(1)
        return {"a": np.arange(3.0)}

    path = tmp_path / "x.npz"
    cached_arrays(path, make)
    np.testing.assert_array_equal(cached_arrays(path, make)["a"], np.arange(3.0))
    assert len(calls) == 1
    path.write_bytes(path.read_bytes()[:20])  # truncated
    with caplog.at_level(logging.WARNING, logger="liegnn"):
        np.testing.assert_array_equal(cached_arrays(path, make)["a"], np.arange(3.0))
    assert len(calls) == 2
    [record] = caplog.records
    assert record.name == "liegnn.datasets._cache" and str(path) in record.getMessage()


def test_building_a_dataset_cache_is_logged_once(tmp_path, caplog):
    import torch
    from torch_geometric.data import Data

    from liegnn.datasets._cache import cached_in_memory

    def build():
        return Data(x=torch.arange(3.0)), {"x": torch.tensor([0, 3])}

    path = tmp_path / "d.pt"
    with caplog.at_level(logging.INFO, logger="liegnn"):
        cached_in_memory(SimpleNamespace(), path, build)
        cached_in_memory(SimpleNamespace(), path, build)  # read back, not rebuilt
    built = [r for r in caplog.records if "building" in r.getMessage()]
    assert len(built) == 1 and str(path) in built[0].getMessage()
