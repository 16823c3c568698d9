"""Lazy imports of optional dependencies, failing with the extra that installs them."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise an ImportError naming ``pip install 'liegnn[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{module!r} is required for this feature but is not installed; "
            f"install it with: pip install 'liegnn[{extra}]'"
        ) from err
