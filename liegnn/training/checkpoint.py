"""Checkpoints that load without arbitrary pickle, written atomically, with every RNG state.

A checkpoint is a dict of tensors, dicts, lists, strings and numbers only, so
``torch.load(path, weights_only=True)`` reads it: no code runs when loading a file. It is written
to a temporary file in the same folder and moved into place with ``os.replace``
(:func:`liegnn.io.atomic_torch_save`), so a kill mid-write leaves the previous checkpoint intact.

Files of a run folder:

- ``last.pt``: everything needed to resume (``format``, ``epoch`` = completed epochs, ``model``,
  ``optimizer``, ``scheduler``, ``rng`` = one RNG state per rank, ``history``, ``best``,
  ``best_model``, ``config``);
- ``best.pt``: the best-validation weights (``format``, ``epoch``, ``model``, ``metrics``,
  ``config``), for inference; on resume a missing or damaged one is rewritten from ``last.pt``
  (its ``best_model`` and ``best``), while a damaged ``last.pt`` is refused by name;
- ``metrics.json``: the history and results, strict JSON (±inf and NaN become ``null``), also
  written atomically (:func:`liegnn.io.atomic_write_json`);
- ``.liegnn.lock``: present while a run writes to the folder (:func:`liegnn.io.output_lock`), so a
  second run on the same folder is refused.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch
import torch_geometric

from ..io import atomic_torch_save, atomic_write_json, safe_torch_load

FORMAT = "liegnn.training.checkpoint/1"


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA):
    :func:`torch_geometric.seed_everything`, with a clear error for a bad seed."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    torch_geometric.seed_everything(seed)


def rng_state() -> dict:
    """The state of Python's, NumPy's and torch's (CPU, every CUDA device) global generators,
    as tensors and numbers only."""
    version, py_state, gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)  # noqa: NPY002
    state = {
        "python": {
            "version": version,
            "state": torch.tensor(py_state, dtype=torch.int64),
            "gauss": gauss,
        },
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`rng_state`."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        {
            "bit_generator": npy["bit_generator"],
            "state": {"key": npy["key"].cpu().numpy().astype(np.uint32), "pos": npy["pos"]},
            "has_gauss": npy["has_gauss"],
            "gauss": npy["gauss"],
        }
    )
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda = [s.cpu() for s in state["cuda"]]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


#: ``save_checkpoint(checkpoint, path)``: :func:`liegnn.io.atomic_torch_save`.
save_checkpoint = atomic_torch_save
#: ``write_json(data, path)``: :func:`liegnn.io.atomic_write_json` (strict JSON, inf → null).
write_json = atomic_write_json


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint with :func:`liegnn.io.safe_torch_load`; ValueError for a file that needs
    pickle or is not a liegnn checkpoint."""
    obj = safe_torch_load(path, map_location=map_location, what="checkpoint")
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError(f"{path} is not a liegnn training checkpoint (format {FORMAT!r})")
    return obj


def load_weights(model: torch.nn.Module, path: str | os.PathLike) -> dict:
    """Load the weights of ``best.pt`` or ``last.pt`` into ``model``; returns the checkpoint."""
    checkpoint = load_checkpoint(path)
    model.load_state_dict(checkpoint["model"])
    return checkpoint


__all__ = [
    "FORMAT",
    "load_checkpoint",
    "load_weights",
    "rng_state",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
    "write_json",
]
