"""The ``--symmetry`` choice of an experiment: none, a known group, or a discovered basis.

``"none"`` (no symmetry beyond permutations), ``"minkowski"`` (the Lorentz group, J = η),
``"euclidean"`` (rotations, J = I) or ``"discovered:PATH"`` (a basis saved by
:mod:`liegnn.discovery`, a ``.npy`` / ``.npz`` / ``.pt`` / ``.safetensors`` file of shape
(c, n, n)). A symmetry gives generators (for augmentation and EMLP) and an invariant metric
J = :func:`liegnn.solve_metric` of those generators (for LieGNN).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..algebra import bases

KINDS = ("none", "minkowski", "euclidean", "discovered")


@dataclass(frozen=True)
class Symmetry:
    """A parsed ``--symmetry`` value."""

    kind: str
    path: Path | None = None

    @property
    def tag(self) -> str:
        """A short name for folders: ``minkowski``, ``discovered-<file stem>``, ..."""
        return self.kind if self.path is None else f"discovered-{self.path.stem}"

    def __str__(self) -> str:
        return self.kind if self.path is None else f"discovered:{self.path}"


def parse_symmetry(spec: str | Symmetry) -> Symmetry:
    """``"none"``, ``"minkowski"``, ``"euclidean"`` or ``"discovered:PATH"`` (the file must
    exist)."""
    if isinstance(spec, Symmetry):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"symmetry must be a string, got {type(spec).__name__}")
    kind, sep, path = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS or (kind == "discovered") != bool(sep):
        raise ValueError(
            f"unknown symmetry {spec!r}; use one of none, minkowski, euclidean, discovered:PATH"
        )
    if kind != "discovered":
        return Symmetry(kind)
    file = Path(path).expanduser()
    if not path or not file.is_file():
        raise ValueError(f"discovered:PATH needs an existing generators file, got {path!r}")
    return Symmetry("discovered", file)


def load_basis(symmetry: Symmetry) -> torch.Tensor:
    """The (c, n, n) float64 generators of a discovered symmetry."""
    from ..discovery.result import load_generators

    if symmetry.path is None:
        raise ValueError(f"symmetry {symmetry} has no generators file")
    L = load_generators(symmetry.path)
    if L.is_complex():
        raise ValueError(f"{symmetry.path}: complex generators cannot act on real data here")
    return L.to(torch.float64)


def four_vector_generators(L: torch.Tensor) -> torch.Tensor:
    """Generators acting on one 4-vector from a basis found on jets' leading constituents.

    A (c, 4, 4) basis is returned as is. A (c, 8, 8) basis found on two stacked 4-vectors
    (E₁, p₁, E₂, p₂) must act on both alike, g ⊕ g; the two diagonal 4 × 4 blocks are averaged.
    ValueError when the off-diagonal blocks (coupling the particles) carry more than 10 % of
    the weight.
    """
    n = L.shape[-1]
    if n == 4:
        return L
    if n != 8:
        raise ValueError(f"jet generators must act on 4 or 8 dimensions, got {n}")
    diag = torch.cat([L[:, :4, :4].flatten(1), L[:, 4:, 4:].flatten(1)], 1).norm()
    off = torch.cat([L[:, :4, 4:].flatten(1), L[:, 4:, :4].flatten(1)], 1).norm()
    if off > 0.1 * diag:
        raise ValueError(
            "the 8 x 8 generators couple the two constituents (off-diagonal weight "
            f"{float(off / diag):.2f}); a LieGNN needs one action on every 4-vector"
        )
    return 0.5 * (L[:, :4, :4] + L[:, 4:, 4:])


def linear_part(L: torch.Tensor, affine: bool) -> torch.Tensor:
    """The action on vectors: for affine generators ((c, n + 1, n + 1) on (v, 1)) the n × n
    blocks, without the pure translations (which leave differences of positions unchanged)."""
    if not affine:
        return L
    A = L[:, :-1, :-1]
    keep = A.flatten(1).norm(dim=1) > 1e-6 * L.flatten(1).norm(dim=1).max()
    if not keep.any():
        raise ValueError("the affine generators are pure translations: no linear part")
    return A[keep]


def metric_of(L: torch.Tensor) -> torch.Tensor:
    """J = solve_metric(L) as float32, with a warning (not an error) for a noisy basis."""
    from ..metric import solve_metric

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # several metrics: the first is used, as documented
        J = solve_metric(L)
    return J.to(torch.float32)


def known_generators(kind: str, dim: int) -> torch.Tensor:
    """so(1, dim − 1) for ``"minkowski"`` and so(dim) for ``"euclidean"`` (float64)."""
    if kind == "minkowski":
        return bases.so_pq(1, dim - 1, dtype=torch.float64)
    if kind == "euclidean":
        return bases.so(dim, dtype=torch.float64)
    raise ValueError(f"symmetry {kind!r} has no known generators")


__all__ = [
    "KINDS",
    "Symmetry",
    "four_vector_generators",
    "known_generators",
    "linear_part",
    "load_basis",
    "metric_of",
    "parse_symmetry",
]
