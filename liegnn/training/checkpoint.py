"""Checkpoints that load without arbitrary pickle, written atomically, with every RNG state.

A checkpoint is a dict of tensors, dicts, lists, strings and numbers only, so
``torch.load(path, weights_only=True)`` reads it: no code runs when loading a file. It is written
to a temporary file in the same folder and moved into place with ``os.replace``
(:func:`liegnn.datasets._cache.atomic_path`), so a kill mid-write leaves the previous checkpoint
intact.

Files of a run folder:

- ``last.pt``: everything needed to resume (``format``, ``epoch`` = completed epochs, ``model``,
  ``optimizer``, ``scheduler``, ``rng`` = one RNG state per rank, ``history``, ``best``,
  ``best_model``, ``config``);
- ``best.pt``: the best-validation weights (``format``, ``epoch``, ``model``, ``metrics``,
  ``config``), for inference;
- ``metrics.json``: the history and results, strict JSON, also written atomically
  (:func:`write_json`).
"""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

import numpy as np
import torch

from .._atomic import atomic_path

FORMAT = "liegnn.training.checkpoint/1"


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA)."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (the legacy global generator is the state to seed)
    torch.manual_seed(seed)


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


def save_checkpoint(checkpoint: dict, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file next to ``path``, then ``os.replace`` onto it."""
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint with ``weights_only=True``; ValueError for a file that needs pickle
    or is not a liegnn checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # the unpickler's error types vary between torch versions
        raise ValueError(
            f"{path} is not a safe checkpoint (weights_only load failed): {err}"
        ) from err
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError(f"{path} is not a liegnn training checkpoint (format {FORMAT!r})")
    return obj


def load_weights(model: torch.nn.Module, path: str | os.PathLike) -> dict:
    """Load the weights of ``best.pt`` or ``last.pt`` into ``model``; returns the checkpoint."""
    checkpoint = load_checkpoint(path)
    model.load_state_dict(checkpoint["model"])
    return checkpoint


def _json_safe(obj):
    """Replace ±inf / NaN (1/ε_B without background) by None: strict JSON has no infinity."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def write_json(data: dict, path: str | os.PathLike) -> None:
    """Write ``data`` as indented JSON atomically (inf → null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n")


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
