"""On-disk cache of generated datasets: one folder, atomic writes.

The cache folder is ``root`` when given, else ``$LIEGNN_CACHE``, else ``~/.cache/liegnn``.
Every file is written to a temporary name in the same folder and moved into place with
:func:`os.replace`, so an interrupted write never leaves a half-written file under the final name.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .._atomic import atomic_path


def cache_dir(root: str | os.PathLike | None = None, *parts: str) -> Path:
    """The folder ``root / parts`` (created); ``root`` defaults to ``$LIEGNN_CACHE`` or
    ``~/.cache/liegnn``."""
    if root is None:
        root = os.environ.get("LIEGNN_CACHE") or Path.home() / ".cache" / "liegnn"
    path = Path(root).expanduser().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Write arrays to ``path`` (``.npz``) atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def cached_arrays(path: Path, make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Load the arrays stored at ``path``, or make them, store them atomically and return them.

    A cache file that cannot be read (truncated, foreign) is rebuilt rather than trusted.
    """
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            path.unlink()
    arrays = make()
    atomic_save_npz(path, **arrays)
    return arrays


def cached_in_memory(dataset, path: Path, build: Callable[[], tuple], force_reload: bool = False):
    """Fill a PyG ``InMemoryDataset`` from the collated (data, slices) stored at ``path``, or
    ``build()`` them, store them atomically and load them. An unreadable cache is rebuilt."""
    if not force_reload and path.exists():
        try:
            dataset.load(str(path))
            return
        except Exception:  # a foreign or damaged cache file is rebuilt, never trusted
            path.unlink(missing_ok=True)
    import torch
    from torch_geometric.data import Data

    data, slices = build()
    with atomic_path(path) as tmp:
        torch.save((data.to_dict(), slices, Data), tmp)
    dataset.load(str(path))
