"""A user's data file as a discovery task: ``liegnn discover data.npz``.

The file (``.npz``, or a ``.pt`` dict of tensors read with ``weights_only=True``) holds

- ``x``: the data, (N, n) vectors, (N, T, n) trajectories or point clouds, or (N, C, H, W)
  images (with ``rep_x="image"``); real or complex;
- ``y`` (optional): targets (N, ...) or integer class labels (N,), invariant (ρ_Y trivial) unless
  ``rep_y`` says otherwise; labels are classes, renumbered 0..K−1 in increasing order (the label
  discriminator embeds each class, so 7 and 10¹² become 0 and 1);
- ``truth`` (optional): known generators (c, n, n) to compare the result with;
- ``point_mask`` (optional): (N, P) bool, True for the real points of padded point clouds;
- ``features`` (optional): (N, P, f) per-point invariant features (atom types, …).

The recipe is LieGAN's defaults (one channel; training stops when the found span stops moving,
at most 100 epochs of at most 50 batches); choose channels, coefficients and weights with
``run_task(..., recipe={...})`` or the ``liegnn discover`` options.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ._task import DiscoveryTask, TaskData

__all__ = ["KEYS", "file_task", "read_task_file"]

KEYS = ("x", "y", "truth", "point_mask", "features")

#: the starting recipe of a user's file (n, n_channels and complex are set from the data): the
#: defaults, which were tuned for data nobody tuned for (randomly conjugated so(2) and so(3))
USER_RECIPE: dict = {}


def read_task_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The arrays of a task file as tensors, integer labels ``y`` renumbered 0..K−1 (see the
    module docstring); ValueError naming a missing ``x``, an unknown key, an array that is not
    numbers, NaN/Inf or an unreadable (empty, truncated, not .npz) file."""
    from ..._validation import as_tensor

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path}")
    if path.suffix == ".npz":
        import zipfile
        import zlib

        import numpy as np

        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: np.asarray(f[k]) for k in f.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            reason = str(err) or type(err).__name__
            raise ValueError(
                f"{path}: cannot read the .npz file, it is empty, truncated or not a numpy "
                f"archive ({reason})"
            ) from None
        for k, a in arrays.items():
            if a.dtype.kind not in "biufc":  # bool, int, uint, float, complex
                raise ValueError(f"{path}: {k} must hold numbers, got an array of dtype {a.dtype}")
        arrays = {k: torch.from_numpy(a) for k, a in arrays.items()}
    elif path.suffix == ".pt":
        from .._io import safe_torch_load

        obj = safe_torch_load(path)
        if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
            raise ValueError(f"{path} must hold a dict of tensors with keys among {KEYS}")
        arrays = dict(obj)
    else:
        raise ValueError(f"{path}: a task file must be .npz or .pt, got {path.suffix!r}")
    if "x" not in arrays:
        raise ValueError(f"{path} has no array 'x' (keys: {sorted(arrays)})")
    unknown = sorted(set(arrays) - set(KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; a task file holds {', '.join(KEYS)}")
    out = {k: as_tensor(v, name=f"{path.name}: {k}") for k, v in arrays.items()}
    if out["x"].ndim < 2 or out["x"].shape[0] < 2:
        raise ValueError(
            f"{path}: x must have shape (N, ..., n) with N >= 2, got {tuple(out['x'].shape)}"
        )
    if not (out["x"].is_floating_point() or out["x"].is_complex()):
        out["x"] = out["x"].to(torch.get_default_dtype())
    for k in ("y", "point_mask", "features"):
        if k in out and out[k].shape[0] != out["x"].shape[0]:
            raise ValueError(
                f"{path}: {k} has {out[k].shape[0]} rows but x has {out['x'].shape[0]}"
            )
    if "point_mask" in out:
        out["point_mask"] = out["point_mask"].bool()
    if "y" in out:
        out["y"] = _as_classes(out["y"])
    return out


def _as_classes(y: torch.Tensor) -> torch.Tensor:
    """Integer labels (N,) or (N, 1) renumbered 0..K−1 in increasing order; other y unchanged.

    The label discriminator has one embedding row per class up to the largest label, so labels
    such as 10¹² would ask for terabytes; only which samples share a class matters.
    """
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        return y
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
        return torch.unique(y, sorted=True, return_inverse=True)[1]
    return y


def _size(x: torch.Tensor, rep_x: str) -> int:
    if rep_x == "image":
        return 3
    if rep_x == "affine":
        return x.shape[-1] + 1
    return x.shape[-1]


def file_task(
    path: str | os.PathLike,
    *,
    rep_x: str = "standard",
    rep_y: str = "trivial",
    epochs: int = 100,
    steps_per_epoch: int | None = 50,
    seeds: int = 1,
) -> DiscoveryTask:
    """A :class:`DiscoveryTask` for the data in ``path`` (see the module docstring).

    ``rep_x`` is ``"standard"`` (x ↦ g x, n = x's last axis), ``"affine"`` (n = last axis + 1,
    translations allowed) or ``"image"`` (affine maps of the plane, n = 3); ``rep_y`` is
    ``"trivial"`` or ``"standard"``. The data are read now, so a bad file fails before training.
    """
    if rep_x not in ("standard", "affine", "image"):
        raise ValueError(f"rep_x must be 'standard', 'affine' or 'image', got {rep_x!r}")
    if rep_y not in ("trivial", "standard"):
        raise ValueError(f"rep_y must be 'trivial' or 'standard', got {rep_y!r}")
    path = Path(path)
    arrays = read_task_file(path)
    x = arrays["x"]
    n = _size(x, rep_x)
    truth = arrays.get("truth")
    if truth is not None:
        from ..._validation import as_generators

        truth = as_generators(truth, name=f"{path.name}: truth")
        if truth.shape[-1] != n:
            raise ValueError(
                f"{path}: truth acts on dimension {truth.shape[-1]}, the data need n = {n}"
            )

    def load(seed: int, quick: bool) -> TaskData:
        fit_kwargs = {k: arrays[k] for k in ("point_mask", "features") if k in arrays}
        info = {"file": str(path), "x_shape": list(x.shape), "dtype": str(x.dtype)}
        if "y" in arrays:
            info["y_shape"] = list(arrays["y"].shape)
        return TaskData(x=x, y=arrays.get("y"), fit_kwargs=fit_kwargs, truth=truth, info=info)

    recipe = dict(USER_RECIPE, n=n, n_channels=1, complex=x.is_complex(), rep_x=rep_x, rep_y=rep_y)
    if rep_x in ("affine", "image"):
        from ..masks import affine

        recipe["mask"] = affine(n - 1)
    return DiscoveryTask(
        name=path.name,
        description=f"user data {path.name}: x {tuple(x.shape)}",
        load=load,
        recipe=recipe,
        epochs=epochs,
        quick_epochs=2,
        steps_per_epoch=steps_per_epoch,
        seeds=seeds,
    )
