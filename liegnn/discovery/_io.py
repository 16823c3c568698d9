"""Safe, atomic files for discovery: they live in :mod:`liegnn.io`, re-exported here."""

from __future__ import annotations

from ..io import atomic_torch_save, load_tensors, safe_torch_load, save_tensors

__all__ = ["atomic_torch_save", "load_tensors", "safe_torch_load", "save_tensors"]
