import numpy as np
import pytest

from liegnn.datasets._cache import atomic_path, cache_dir, cached_arrays


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("LIEGNN_CACHE", str(tmp_path / "env"))
    assert cache_dir(None, "a") == tmp_path / "env" / "a"
    assert cache_dir(tmp_path / "arg", "b") == tmp_path / "arg" / "b"
    assert (tmp_path / "arg" / "b").is_dir()
    monkeypatch.delenv("LIEGNN_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir(None) == tmp_path / "home" / ".cache" / "liegnn"


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


def test_cached_arrays_made_once_and_corrupt_cache_rebuilt(tmp_path):
    calls = []

    def make():
        calls.append(1)
        return {"a": np.arange(3.0)}

    path = tmp_path / "x.npz"
    cached_arrays(path, make)
    np.testing.assert_array_equal(cached_arrays(path, make)["a"], np.arange(3.0))
    assert len(calls) == 1
    path.write_bytes(path.read_bytes()[:20])  # truncated
    np.testing.assert_array_equal(cached_arrays(path, make)["a"], np.arange(3.0))
    assert len(calls) == 2
