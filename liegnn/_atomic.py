"""Atomic file writes; they live in :mod:`liegnn.io`, re-exported here for older imports."""

from __future__ import annotations

from .io import atomic_path, atomic_write_json

__all__ = ["atomic_path", "atomic_write_json"]
