import random

import numpy as np
import pytest
import torch

from liegnn.training.checkpoint import (
    FORMAT,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)


def _draws():
    return (
        random.random(),
        float(np.random.rand()),  # noqa: NPY002  (the global generator is what is checkpointed)
        torch.rand(3).tolist(),
    )


def test_rng_states_round_trip_through_a_weights_only_file(tmp_path):
    seed_everything(3)
    _draws()
    save_checkpoint({"format": FORMAT, "rng": rng_state()}, tmp_path / "c.pt")
    expected = _draws()
    seed_everything(99)
    set_rng_state(torch.load(tmp_path / "c.pt", weights_only=True)["rng"])
    assert _draws() == expected


def test_numpy_gaussian_cache_survives_the_round_trip():
    seed_everything(0)
    np.random.standard_normal()  # noqa: NPY002  (leaves a cached second Gaussian)
    state = rng_state()
    expected = np.random.standard_normal()  # noqa: NPY002
    set_rng_state(state)
    assert np.random.standard_normal() == expected  # noqa: NPY002


class Opaque:
    def __init__(self):
        self.value = 1


def test_a_file_that_needs_pickle_is_refused(tmp_path):
    torch.save({"format": FORMAT, "model": Opaque()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="weights_only"):
        load_checkpoint(tmp_path / "evil.pt")


def test_a_foreign_file_is_refused(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a liegnn training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_failed_write_keeps_the_previous_checkpoint_and_no_temporary(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({"format": FORMAT, "epoch": 1}, path)
    with pytest.raises(Exception):  # noqa: B017  (torch raises a pickling error of its own type)
        save_checkpoint({"format": FORMAT, "epoch": 2, "bad": lambda: 0}, path)
    assert load_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_negative_seed_raises():
    with pytest.raises(ValueError):
        seed_everything(-1)
