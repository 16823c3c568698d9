"""The ``--symmetry`` choice of an experiment, resolved to one :class:`liegnn.Symmetry` value.

``"none"`` (no symmetry beyond permutations), ``"minkowski"`` (the Lorentz group, J = η),
``"euclidean"`` (rotations, J = I), a known algebra's name (``"so(1,3)"``, ``"so(3)"``,
``"se(3)"``, …), ``"discovered:PATH"`` (a file that :meth:`liegnn.Symmetry.load` reads: a saved
discovery result or Symmetry, or a ``.npy`` / ``.npz`` / ``.pt`` / ``.safetensors`` basis of shape
(c, n, n)), or in Python a :class:`~liegnn.Symmetry`, a discovery result or a tensor directly.
A choice gives the symmetry (for augmentation and EMLP) and, through :func:`metric_of`, the
invariant metric J (for LieGNN).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..symmetry import Symmetry, as_symmetry

KINDS = ("none", "minkowski", "euclidean", "known", "discovered")


@dataclass(frozen=True)
class SymmetryChoice:
    """A parsed ``--symmetry`` value.

    Attributes:
        kind: one of :data:`KINDS`.
        path: the file of a ``discovered:PATH`` choice.
        name: the algebra's name of a ``known`` choice.
        value: a symmetry given in Python (kind ``discovered``, no file).
    """

    kind: str
    path: Path | None = None
    name: str | None = None
    value: Symmetry | None = field(default=None, compare=False, repr=False)

    @property
    def tag(self) -> str:
        """A short name for folders, e.g. ``minkowski``, ``so-1-3``, ``discovered-<file stem>``."""
        if self.kind == "known":
            return "".join(c if c.isalnum() else "-" for c in self.name).strip("-").lower()
        if self.kind == "discovered":
            return "discovered" if self.path is None else f"discovered-{self.path.stem}"
        return self.kind

    def symmetry(self, dim: int) -> Symmetry | None:
        """The symmetry acting on vectors of dimension ``dim``: so(1, dim − 1) for minkowski,
        so(dim) for euclidean, the named or discovered one as it is; None for ``none``."""
        from ..algebra import bases

        if self.kind == "none":
            return None
        if self.kind == "minkowski":
            return Symmetry(bases.so_pq(1, dim - 1, dtype=torch.float64), name="minkowski")
        if self.kind == "euclidean":
            return Symmetry(bases.so(dim, dtype=torch.float64), name="euclidean")
        if self.kind == "known":
            return Symmetry.known(self.name, dtype=torch.float64)
        sym = self.value if self.value is not None else Symmetry.load(self.path)
        if sym.is_complex:
            raise ValueError(f"{self}: complex generators cannot act on real data here")
        return sym.to(torch.float64)

    def __str__(self) -> str:
        if self.kind == "known":
            return self.name
        if self.kind == "discovered":
            return "discovered" if self.path is None else f"discovered:{self.path}"
        return self.kind


def parse_symmetry(spec) -> SymmetryChoice:
    """A :class:`SymmetryChoice` from ``"none"``, ``"minkowski"``, ``"euclidean"``, a known
    algebra's name, ``"discovered:PATH"`` (the file must exist), or a Symmetry, discovery result
    or (c, n, n) tensor."""
    if isinstance(spec, SymmetryChoice):
        return spec
    if not isinstance(spec, str):
        try:
            return SymmetryChoice("discovered", value=as_symmetry(spec))
        except (TypeError, ValueError) as err:
            raise ValueError(f"cannot use {type(spec).__name__} as a symmetry: {err}") from None
    kind, sep, path = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "discovered" and sep:
        file = Path(path).expanduser()
        if not path or not file.is_file():
            raise ValueError(f"discovered:PATH needs an existing generators file, got {path!r}")
        return SymmetryChoice("discovered", file)
    if kind in ("none", "minkowski", "euclidean") and not sep:
        return SymmetryChoice(kind)
    try:
        Symmetry.known(spec)
    except ValueError:
        raise ValueError(
            f"unknown symmetry {spec!r}; use none, minkowski, euclidean, a known algebra "
            "(so(1,3), so(3), se(3), ...) or discovered:PATH"
        ) from None
    return SymmetryChoice("known", name=spec.strip())


def metric_of(symmetry) -> torch.Tensor:
    """J = ``symmetry.metric()`` as float32 for a LieGNN.

    A symmetry that preserves no metric is refused (:class:`~liegnn.NoInvariantMetricError`,
    naming the residual): training a LieGNN on the least-violating J would silently use a
    metric of no group. When there are several invariant metrics the first is used, with the
    library's warning.
    """
    return as_symmetry(symmetry).metric(strict=True).to(torch.float32)


def load_metric(
    source, *, dim: int | None = 4, flip_sign: bool = False, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """A given metric J, exactly as given (never rescaled; only ``flip_sign`` changes it).

    ``source``: a file (``.npy``; ``.npz``, ``.pt`` / ``.pth`` or ``.safetensors`` holding one
    array or one named ``metric``; read safely: ``np.load(allow_pickle=False)``, ``torch.load(
    weights_only=True)``), an (n, n) tensor or array, or a :class:`~liegnn.Symmetry` /
    discovery result (its invariant metric, refused when it preserves none). ``flip_sign``
    returns −J (the LieGAN paper's saved metric is ≈ diag(−1, 1, 1, 1), the opposite of this
    library's η = diag(1, −1, −1, −1)). J is checked: (``dim``, ``dim``), finite, symmetric up
    to rounding (then symmetrised exactly) and nonsingular; a ValueError names the problem.
    """
    import numpy as np

    from ..io import load_tensors
    from ..nn.metric_tensor import resolve_metric

    name = "metric"
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        name = str(path)
        if not path.is_file():
            raise FileNotFoundError(f"no metric file at {path}")
        if path.suffix in (".npy", ".npz"):
            try:
                data = np.load(path, allow_pickle=False)
            except (OSError, EOFError, ValueError) as err:
                raise ValueError(f"{path} is not a readable array file ({err})") from None
            if path.suffix == ".npz":
                arrays = {k: data[k] for k in data.files}
                data = _pick_metric(arrays, path)
            value = torch.from_numpy(np.asarray(data))
        else:
            tensors, _ = load_tensors(path)
            value = _pick_metric(tensors, path)
    elif hasattr(source, "generators") or hasattr(source, "symmetry"):
        value = metric_of(source)
    else:
        value = source
    try:
        value = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name}: cannot read a metric from {type(source).__name__}") from err
    if value.ndim != 2:
        raise ValueError(f"{name}: a metric is an (n, n) matrix, got shape {tuple(value.shape)}")
    if value.is_floating_point() and not torch.isfinite(value).all():
        raise ValueError(f"{name}: the metric contains NaN or Inf values")
    try:
        J = resolve_metric(value, dim).to(torch.float64)  # checked at its own precision
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None
    return (-J if flip_sign else J).to(dtype)


def _pick_metric(arrays: dict, path: Path):
    """The array named ``metric``, else the only array, of a file."""
    if "metric" in arrays:
        return arrays["metric"]
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    raise ValueError(f"{path} holds several arrays {sorted(arrays)}; name the metric 'metric'")


__all__ = ["KINDS", "SymmetryChoice", "load_metric", "metric_of", "parse_symmetry"]
