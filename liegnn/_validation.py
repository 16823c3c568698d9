"""Input checks shared by every stage: a bad input raises a ValueError naming the problem."""

from __future__ import annotations

import numpy as np
import torch


def as_tensor(x, *, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Convert an array-like to a tensor and reject NaN/Inf."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    elif not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"{name} must be a tensor or array, got {type(x).__name__}") from err
    if dtype is not None:
        x = x.to(dtype)
    if (x.is_floating_point() or x.is_complex()) and not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or Inf values")
    return x


def as_generators(
    generators,
    *,
    name: str = "generators",
    allow_complex: bool = True,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Validate a Lie algebra basis and return it as a (c, n, n) tensor.

    ``generators`` may be a tensor or array, a :class:`liegnn.Symmetry`, a discovery result
    (anything with a ``.symmetry``) or a known algebra's name (``"so(1,3)"``). A single (n, n)
    matrix is promoted to (1, n, n). Integer input becomes the default float dtype.
    """
    generators = _unwrap(generators)
    L = as_tensor(generators, name=name)
    if not (L.is_floating_point() or L.is_complex()):
        L = L.to(torch.get_default_dtype())
    if dtype is not None:
        L = L.to(dtype)
    if L.ndim == 2:
        L = L.unsqueeze(0)
    if L.ndim != 3:
        raise ValueError(f"{name} must have shape (c, n, n), got {tuple(L.shape)}")
    if L.shape[-1] != L.shape[-2]:
        raise ValueError(f"{name} must be square matrices, got shape {tuple(L.shape)}")
    if L.shape[0] < 1 or L.shape[-1] < 1:
        raise ValueError(f"{name} must hold at least one non-empty matrix, got {tuple(L.shape)}")
    if L.is_complex() and not allow_complex:
        raise ValueError(f"{name} is complex, but a real Lie algebra basis is required here")
    return L


def discrete_of(obj):
    """The discrete elements a Symmetry (or a result with ``.symmetry``) carries; else None."""
    if isinstance(obj, torch.Tensor | np.ndarray | str):
        return None
    from .symmetry import Symmetry, as_symmetry

    if isinstance(obj, Symmetry) or isinstance(getattr(obj, "symmetry", None), Symmetry):
        return as_symmetry(obj).discrete
    return None


def _unwrap(obj):
    """The generators tensor of a Symmetry, a discovery result or a known name; else ``obj``."""
    if isinstance(obj, torch.Tensor | np.ndarray):
        return obj
    from .symmetry import Symmetry, as_symmetry

    if isinstance(obj, Symmetry | str) or isinstance(getattr(obj, "symmetry", None), Symmetry):
        L = as_symmetry(obj).generators
        if L.shape[0] == 0:  # a finite group: its identity component is {I}, a zero generator
            L = L.new_zeros(1, *L.shape[1:])
        return L
    return obj


def as_discrete_generators(
    discrete_generators, n: int, *, name: str = "discrete_generators"
) -> torch.Tensor | None:
    """Validate group elements ρ(h) as a (k, n, n) tensor (or None), matching dimension n."""
    if discrete_generators is None:
        return None
    H = as_generators(discrete_generators, name=name)
    if H.shape[-1] != n:
        raise ValueError(
            f"{name} act on dimension {H.shape[-1]}, but the generators act on dimension {n}"
        )
    return H
