"""Equivariant linear maps: the null space of the equivariance constraint (EMLP-style).

A map W: rep_in → rep_out is equivariant when

    dρ_out(L_i) W − W dρ_in(L_i) = 0   for every generator L_i,
    ρ_out(h_j) W − W ρ_in(h_j) = 0     for every discrete generator h_j.

With vec(W) the row-major flatten of W (dim_out, dim_in) these are linear in vec(W); the
equivariant maps are the (approximate) null space, read off the singular values of the stacked
constraint with a cut (a float, or ``"auto"``: a gap in the spectrum).

Both reps decompose into tensor-power summands (V, V**2, V*V.T, Scalar, ...) on which the actions
are block-diagonal, so each distinct pair of summands is solved once and the block basis is
assembled: a ``100*V`` hidden layer costs what ``V`` costs. Solutions are cached, keyed on the
values of the generators and on the cut (never on a name).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import torch

from . import _tensor_solver
from ._validation import as_generators
from .reps import Rep, TensorRep

__all__ = [
    "BasisInfo",
    "PairBases",
    "PairInfo",
    "SpectrumWarning",
    "auto_cut",
    "clear_cache",
    "equivariant_basis",
    "group_matrices",
    "pair_bases",
]

AUTO_GAP = 5.0  # a significant gap: consecutive singular values differ by at least this factor
AUTO_SMALL = 0.05  # the small-value region: relative singular values up to this
AUTO_FLOOR = 1e-10  # relative singular values below this are rounding: indistinguishable from 0

_CACHE: OrderedDict[tuple, tuple[torch.Tensor, PairInfo]] = OrderedDict()
_CACHE_SIZE = 256


class SpectrumWarning(UserWarning):
    """No gap in the singular values can be trusted; the cut returned no maps."""


@dataclass(frozen=True)
class PairInfo:
    """The solve for one pair of tensor-power summands rep_in → rep_out.

    ``singular_values``: ascending, absolute (for a projected solve, those of the zero-weight
    subspace, see ``method``); ``scale``: the largest singular value of the whole constraint;
    ``cut``: relative cut used (maps kept: s ≤ cut · scale); ``rank``: number of maps.
    """

    rep_in: TensorRep
    rep_out: TensorRep
    singular_values: torch.Tensor
    scale: float
    cut: float
    rank: int
    method: str

    @property
    def relative_singular_values(self) -> torch.Tensor:
        return self.singular_values / self.scale if self.scale > 0 else self.singular_values * 0


@dataclass(frozen=True)
class BasisInfo:
    """What ``equivariant_basis(..., return_info=True)`` returns.

    ``basis``: (dim_out·dim_in, r). ``singular_values``: relative singular values s / s_max of
    every distinct pair of summands, ascending (the spectrum to plot, as in the paper's Fig. 7).
    ``cut``: the relative cut, or None when the pairs used different automatic cuts (see
    ``pairs``). ``threshold``: the requested threshold.
    """

    basis: torch.Tensor
    singular_values: torch.Tensor
    cut: float | None
    threshold: float | str
    pairs: tuple[PairInfo, ...]


def clear_cache() -> None:
    """Forget every cached basis."""
    _CACHE.clear()


def auto_cut(
    relative_values: torch.Tensor,
    excluded: float | None = None,
    *,
    context: str = "",
    gap: float = AUTO_GAP,
    small: float = AUTO_SMALL,
    floor: float = AUTO_FLOOR,
    warn: bool = True,
) -> tuple[int, float]:
    """Number of null directions and relative cut at the highest significant gap of the small
    values: the one cut rule (equivariant maps here, invariant forms in :mod:`liegnn.metric`).

    ``relative_values``: ascending singular values divided by a scale (here the largest one;
    the metric solver divides by ‖L̂‖_F so that each value is the residual of its vector). Values
    below ``floor`` (default ``AUTO_FLOOR``) count as zero. A gap is significant when consecutive
    values differ by at least a factor ``gap`` (default ``AUTO_GAP``) and the lower one is at most
    ``small`` (default ``AUTO_SMALL``). The cut sits at the highest such gap (geometric mean of its
    two sides), so maps at rounding level (identity, swap) and maps at the noise level of a noisy
    algebra are kept together; the single largest ratio would fall between those two and drop
    the latter. ``excluded``: a lower bound of the values missing from the list (a projected
    solve). Returns (0, 0.0) when there is no such gap, with a ``SpectrumWarning`` (unless
    ``warn=False``) when small values exist but no gap can be trusted.
    """
    x = relative_values.to(torch.float64).clamp_min(floor)
    if len(x) == 0:
        return 0, 0.0
    above = x[1:]
    if excluded is not None:
        above = torch.cat([above, x.new_tensor([max(float(excluded), float(x[-1]))])])
    below = x[: len(above)]
    significant = (above >= gap * below) & (below <= small)
    if significant.any():
        j = int(torch.nonzero(significant).max())
        return j + 1, math.sqrt(float(below[j]) * float(above[j]))
    if warn and float(x[0]) <= small:
        warnings.warn(
            f"{context}no significant gap (factor {gap:g}) among the small singular values "
            f"(smallest relative value {float(relative_values[0]):.2e}); returning no maps. "
            "Inspect the spectrum with return_info=True and pass a float threshold.",
            SpectrumWarning,
            stacklevel=6,
        )
    return 0, 0.0


def _digest(t: torch.Tensor | None) -> bytes:
    if t is None:
        return b""
    a = t.detach().cpu().to(torch.float64).contiguous()
    return hashlib.blake2b(a.numpy().tobytes() + str(tuple(a.shape)).encode()).digest()


def _threshold_key(threshold) -> tuple:
    if isinstance(threshold, str):
        if threshold != "auto":
            raise ValueError(f'threshold must be a float or "auto", got {threshold!r}')
        return ("auto", AUTO_GAP, AUTO_SMALL, AUTO_FLOOR)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ValueError(f'threshold must be a float or "auto", got {threshold!r}')
    t = float(threshold)
    if not (math.isfinite(t) and t >= 0):
        raise ValueError(f"threshold must be a finite non-negative float, got {threshold!r}")
    return ("float", t)


def _resolve_group(generators, discrete_generators) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(L, H) in float64 from generators (tensor, Symmetry, discovery result or known name) and
    optional discrete elements; a real group is required."""
    from .symmetry import Group, as_symmetry

    sym = as_symmetry(generators, discrete_generators)
    sym = Group(sym.generators, sym.discrete)  # real, invertible discrete elements
    L = sym.generators.to(torch.float64)
    H = None if sym.discrete is None else sym.discrete.to(torch.float64)
    return L, H


def _solve_pair(out_rep: TensorRep, in_rep: TensorRep, L, H, key, threshold) -> tuple:
    """Basis (|out|·|in|, r) of the equivariant maps in_rep → out_rep, and its PairInfo."""
    factors = out_rep.factors + tuple(-f for f in in_rep.factors)  # Hom(A, B) = B ⊗ A*
    order = sorted(range(len(factors)), key=lambda j: -factors[j])  # V factors first, then V*
    canonical = tuple(factors[j] for j in order)
    cache_key = (canonical, *key)
    if cache_key in _CACHE:
        _CACHE.move_to_end(cache_key)
        basis, info = _CACHE[cache_key]
    else:
        basis, info = _solve_canonical(canonical, L, H, threshold)
        _CACHE[cache_key] = (basis, info)
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    m, n, r = len(factors), L.shape[-1], basis.shape[1]
    if m > 1 and order != sorted(order):  # back from the canonical factor order
        inverse = [order.index(j) for j in range(m)]
        basis = basis.reshape((n,) * m + (r,)).permute(*inverse, m).reshape(n**m, r)
    return _fix_signs(basis), PairInfo(in_rep, out_rep, *info)


def _fix_signs(basis: torch.Tensor) -> torch.Tensor:
    """Make the first entry of largest magnitude of each column positive (reproducible output)."""
    if basis.numel() == 0:
        return basis
    a = basis.abs()
    first = (a >= (1 - 1e-6) * a.max(dim=0).values).to(torch.int8).argmax(dim=0)
    signs = torch.sign(basis[first, torch.arange(basis.shape[1])])
    return basis * torch.where(signs == 0, 1.0, signs).to(basis.dtype)


def _solve_canonical(factors, L, H, threshold) -> tuple[torch.Tensor, tuple]:
    out_factors = tuple(f for f in factors if f > 0)
    in_factors = tuple(-f for f in factors if f < 0)
    if not factors:  # Scalar → Scalar: every constraint vanishes
        values = torch.zeros(1, dtype=torch.float64)
        return torch.ones(1, 1, dtype=torch.float64), (values, 0.0, 1.0, 1, "trivial")
    spectrum = _tensor_solver.solve(factors, L, H)
    values, scale = spectrum.values, spectrum.scale
    if scale <= 0:  # the constraint vanishes identically: every vector is a map
        rank, cut = len(values), 1.0
    elif threshold == "auto":
        excluded = None if spectrum.excluded is None else spectrum.excluded / scale
        context = f"{TensorRep(in_factors)!r} → {TensorRep(out_factors)!r}: "
        rank, cut = auto_cut(values / scale, excluded, context=context)
    else:
        cut = float(threshold)
        rank = int((values <= cut * scale).sum())
    return spectrum.vectors(rank), (values, scale, cut, rank, spectrum.method)


class PairBases(NamedTuple):
    """The per-pair solution behind :func:`equivariant_basis`, for layers that keep it in blocks.

    ``generators`` (c, n, n) and ``discrete_generators`` (k, n, n) or None: the group, float64.
    ``blocks_in``, ``blocks_out``: ``Rep.blocks(n)`` of each rep, [(TensorRep, coordinates)].
    ``bases``: {(out_factors, in_factors): (basis (|out|·|in|, r), PairInfo)}, one entry per
    distinct pair of summand types; vec of the block map, row-major.
    """

    generators: torch.Tensor
    discrete_generators: torch.Tensor | None
    blocks_in: list
    blocks_out: list
    bases: dict


def group_matrices(
    generators, discrete_generators=None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(L (c, n, n), H (k, n, n) or None) in float64 from anything :func:`equivariant_basis`
    accepts as a group (a real one, with invertible discrete elements)."""
    return _resolve_group(generators, discrete_generators)


def pair_bases(
    rep_in: Rep, rep_out: Rep, generators, *, discrete_generators=None, threshold="auto"
) -> PairBases:
    """Solve every distinct pair of summand types of rep_in → rep_out once (cached on values).

    The arguments are those of :func:`equivariant_basis`; it assembles the full basis from this.
    """
    for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
        if not isinstance(rep, Rep):
            raise TypeError(f"{name} must be a liegnn representation (V, Scalar, ...), got {rep!r}")
    key = _threshold_key(threshold)
    L, H = _resolve_group(generators, discrete_generators)
    n = L.shape[-1]
    rep_in.check_n(n)
    rep_out.check_n(n)
    blocks_in, blocks_out = rep_in.blocks(n), rep_out.blocks(n)
    digest = (_digest(L), _digest(H), key)
    solved: dict[tuple, tuple[torch.Tensor, PairInfo]] = {}
    for u, _ in blocks_out:
        for t, _ in blocks_in:
            pair = (u.factors, t.factors)
            if pair not in solved:
                solved[pair] = _solve_pair(
                    TensorRep(u.factors), TensorRep(t.factors), L, H, digest, threshold
                )
    return PairBases(L, H, blocks_in, blocks_out, solved)


def equivariant_basis(
    rep_in: Rep,
    rep_out: Rep,
    generators,
    *,
    discrete_generators=None,
    threshold: float | str = "auto",
    return_info: bool = False,
    dtype: torch.dtype | None = None,
) -> torch.Tensor | BasisInfo:
    """Orthonormal basis of the equivariant linear maps rep_in → rep_out.

    Spans {W : dρ_out(L)W = W dρ_in(L) ∀L, ρ_out(h)W = Wρ_in(h) ∀h}, as vec(W) = the row-major
    flatten of W (dim_out, dim_in).

    Args:
        rep_in, rep_out: representations built from ``V`` and ``Scalar``.
        generators: (c, n, n) real Lie algebra basis, a :class:`~liegnn.Symmetry` (with its
            discrete elements), a discovery result or a known name (``"so(3)"``).
        discrete_generators: (k, n, n) group elements (parity, time reversal, ...) or None.
        threshold: a float t keeps the directions whose singular value is at most t times the
            largest singular value (of the constraint of each pair of summands); ``"auto"``
            cuts at the highest significant gap of the small singular values (see
            :func:`auto_cut`) and warns (``SpectrumWarning``) when no gap can be trusted.
        return_info: also return the singular values and the cut (a :class:`BasisInfo`).
        dtype: of the returned basis; default: that of the generators (solved in float64).

    Returns:
        (dim_out · dim_in, r) tensor with orthonormal columns, or a :class:`BasisInfo`.
    """
    _, _, blocks_in, blocks_out, solved = pair_bases(
        rep_in, rep_out, generators, discrete_generators=discrete_generators, threshold=threshold
    )
    if dtype is None:
        carries = hasattr(generators, "generators") or hasattr(generators, "symmetry")
        src = as_generators(generators) if carries else generators  # a Symmetry's own dtype
        dtype = src.dtype if isinstance(src, torch.Tensor) else torch.get_default_dtype()
    d_in = sum(len(i) for _, i in blocks_in)
    d_out = sum(len(j) for _, j in blocks_out)
    r = sum(solved[(u.factors, t.factors)][0].shape[1] for u, _ in blocks_out for t, _ in blocks_in)
    basis = torch.zeros(d_out * d_in, r, dtype=dtype)
    k = 0
    for u, rows in blocks_out:
        for t, cols in blocks_in:
            Q = solved[(u.factors, t.factors)][0]
            positions = (rows[:, None] * d_in + cols[None, :]).reshape(-1)
            basis[positions, k : k + Q.shape[1]] = Q.to(dtype)
            k += Q.shape[1]
    if not return_info:
        return basis
    pairs = tuple(info for _, info in solved.values())
    values = torch.sort(torch.cat([p.relative_singular_values for p in pairs])).values
    cuts = {p.cut for p in pairs}
    return BasisInfo(basis, values, cuts.pop() if len(cuts) == 1 else None, threshold, pairs)
