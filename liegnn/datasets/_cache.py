"""On-disk cache of generated datasets: one folder, atomic writes.

The cache folder is ``root`` when given, else ``$LIEGNN_CACHE``, else ``$XDG_CACHE_HOME/liegnn``
(the XDG base-directory convention), else ``~/.cache/liegnn``.
Every file is written to a temporary name in the same folder and moved into place with
:func:`os.replace`, so an interrupted write never leaves a half-written file under the final name.
Reading a cache never runs code: arrays are read with ``allow_pickle=False`` and collated graphs
with ``weights_only=True`` (:func:`liegnn.io.safe_torch_load`).
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..io import atomic_path, atomic_torch_save, safe_torch_load

_log = logging.getLogger(__name__)


def default_cache_root() -> Path:
    """``$LIEGNN_CACHE``, else ``$XDG_CACHE_HOME/liegnn``, else ``~/.cache/liegnn``.

    As the XDG base-directory specification asks, an empty or relative ``$XDG_CACHE_HOME`` is
    ignored.
    """
    if os.environ.get("LIEGNN_CACHE"):
        return Path(os.environ["LIEGNN_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "liegnn"


def cache_dir(root: str | os.PathLike | None = None, *parts: str) -> Path:
    """The folder ``root / parts`` (created); ``root`` defaults to :func:`default_cache_root`."""
    if root is None:
        root = default_cache_root()
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
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            _log.warning("rebuilding the unreadable cache file %s (%s)", path, err)
            path.unlink()
    arrays = make()
    atomic_save_npz(path, **arrays)
    return arrays


def cached_in_memory(dataset, path: Path, build: Callable[[], tuple], force_reload: bool = False):
    """Fill a PyG ``InMemoryDataset`` from the collated (data, slices) stored at ``path``, or
    ``build()`` them, store them atomically and load them.

    The cache is read with ``weights_only=True`` (only tensors, dicts and PyG's ``Data`` class),
    so a replaced cache file cannot run code. A cache that cannot be read that way is refused
    with a ValueError that says how to remove it; it is never rebuilt silently.
    """
    if force_reload or not path.exists():
        _log.info("building the dataset cache %s", path)
        data, slices = build()
        atomic_torch_save((data.to_dict(), slices, type(data)), path)
    dataset.data, dataset.slices = _load_collated(path)


def _load_collated(path: Path):
    from torch_geometric.data import Data

    def refuse(reason: str):
        return ValueError(
            f"the dataset cache {path} was refused: {reason}. It may be damaged or replaced; "
            f"delete it (rm '{path}') or pass force_reload=True to rebuild it"
        )

    try:
        out = safe_torch_load(path, safe_globals=[Data])
    except ValueError as err:
        raise refuse("it " + str(err).removeprefix(f"{path} ")) from None
    if not (
        isinstance(out, tuple)
        and len(out) == 3
        and isinstance(out[0], dict)
        and isinstance(out[1], dict)
        and out[2] is Data
    ):
        raise refuse("it is not a (data, slices, Data) tuple written by liegnn")
    return Data.from_dict(out[0]), out[1]
