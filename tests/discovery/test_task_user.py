"""The reader of a user's data file (``liegnn discover data.npz``): what it refuses, what it
normalises."""

import io

import numpy as np
import pytest
import torch

from liegnn.discovery.tasks.user import file_task, read_task_file


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [b"", _npz(x=np.ones((4, 2)))[:100], b"PK\x03\x04 not really a zip"],
    ids=["empty", "truncated", "garbage"],
)
def test_an_empty_or_truncated_npz_is_a_value_error_naming_the_file(tmp_path, content):
    path = tmp_path / "data.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"data\.npz: cannot read the \.npz file"):
        read_task_file(path)


def test_a_string_array_is_refused_by_name(tmp_path):
    path = tmp_path / "data.npz"
    path.write_bytes(_npz(x=np.ones((3, 2)), features=np.array([["a"], ["b"], ["c"]])))
    with pytest.raises(ValueError, match="features must hold numbers, got an array of dtype <U1"):
        read_task_file(path)


@pytest.mark.parametrize("suffix", [".npz", ".pt"])
def test_integer_labels_are_renumbered_in_increasing_order(tmp_path, suffix):
    x = np.random.default_rng(0).normal(size=(6, 2))
    y = np.array([10**12, 7, 7, -3, 10**12, 7])
    path = tmp_path / f"data{suffix}"
    if suffix == ".npz":
        np.savez(path, x=x, y=y)
    else:
        torch.save({"x": torch.from_numpy(x), "y": torch.from_numpy(y)}, path)
    labels = read_task_file(path)["y"]
    assert labels.tolist() == [2, 1, 1, 0, 2, 1]
    # the task hands the renumbered labels to LieGAN: an embedding of 3 classes, not 10^12 + 1
    assert file_task(path).load(0, False).y.max() == 2


def test_labels_of_shape_n_by_1_keep_their_shape_and_targets_stay_numbers(tmp_path):
    x = np.zeros((4, 2))
    np.savez(tmp_path / "col.npz", x=x, y=np.array([[5], [9], [5], [9]]))
    assert read_task_file(tmp_path / "col.npz")["y"].tolist() == [[0], [1], [0], [1]]
    targets = np.array([0.5, 10.0**12, 3.0, 0.5])
    np.savez(tmp_path / "reg.npz", x=x, y=targets)
    assert read_task_file(tmp_path / "reg.npz")["y"].tolist() == targets.tolist()
