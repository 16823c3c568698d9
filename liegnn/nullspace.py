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
from collections import Counter, OrderedDict
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
AUTO_DOUBT = 2.0  # values in (AUTO_SMALL, AUTO_DOUBT · AUTO_SMALL] may be maps or not: warn
# cost guard, checked on estimates before allocating (raise them here or per call)
MAX_BYTES = 2**30  # estimated peak memory of one pair's solve, and size of the assembled basis
MAX_EIGENPROBLEM = 2048  # dimension of a pair's dense eigenproblem (time ∝ dimension³)

_CACHE: OrderedDict[tuple, tuple[torch.Tensor, PairInfo]] = OrderedDict()
_CACHE_SIZE = 256


class SpectrumWarning(UserWarning):
    """The automatic cut is unsure: small singular values without a clear gap (see auto_cut)."""


@dataclass(frozen=True)
class PairInfo:
    """The solve for one pair of tensor-power summands rep_in → rep_out.

    ``singular_values``: ascending, absolute (for a projected solve, those of the zero-weight
    subspace, see ``method``); ``scale``: the largest singular value of the whole constraint;
    ``cut``: relative cut used (maps kept: s ≤ cut · scale); ``rank``: number of maps;
    ``doubt``: why an automatic cut is unsure (the ``SpectrumWarning`` text), or None.
    """

    rep_in: TensorRep
    rep_out: TensorRep
    singular_values: torch.Tensor
    scale: float
    cut: float
    rank: int
    method: str
    doubt: str | None = None

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
    below ``floor`` (default ``AUTO_FLOOR``) count as zero. A gap is a pair of consecutive values
    that differ by at least a factor ``gap`` (default ``AUTO_GAP``); the cut sits at the highest
    gap whose lower side is at most ``AUTO_DOUBT · small`` (geometric mean of its two sides), so
    maps at rounding level (identity, swap) and maps at the noise level of a noisy algebra are
    kept together; the single largest ratio would fall between those two and drop the latter.

    The answer is *sure* when the values kept are at most ``small`` (default ``AUTO_SMALL``) and
    the first value dropped is above ``AUTO_DOUBT · small``; otherwise (kept values in the
    doubtful band (small, AUTO_DOUBT · small], a dropped value in it, or small values without
    any gap) a ``SpectrumWarning`` naming ``context`` and the values is emitted (unless
    ``warn=False``). Values that are all above the band give (0, 0.0) silently (clearly no maps).
    ``excluded``: a lower bound of the values missing from the list (a projected solve).
    """
    rank, cut, doubt = _cut_at_gap(relative_values, excluded, gap, small, floor)
    if warn and doubt:
        warnings.warn(f"{context}{doubt}", SpectrumWarning, stacklevel=2)
    return rank, cut


def _cut_at_gap(relative_values, excluded, gap, small, floor) -> tuple[int, float, str | None]:
    """:func:`auto_cut`'s (rank, cut) and, when the answer is unsure, the warning's text."""
    x = relative_values.to(torch.float64).clamp_min(floor)
    if len(x) == 0:
        return 0, 0.0, None
    doubt = AUTO_DOUBT * small
    above = x[1:]
    if excluded is not None:
        above = torch.cat([above, x.new_tensor([max(float(excluded), float(x[-1]))])])
    below = x[: len(above)]
    candidates = torch.nonzero((above >= gap * below) & (below <= doubt)).ravel()
    if len(candidates):
        j = int(candidates.max())
        rank, cut = j + 1, math.sqrt(float(below[j]) * float(above[j]))
        unsure = float(below[j]) > small or float(above[j]) <= doubt
    else:
        rank, cut = 0, 0.0
        unsure = float(x[0]) <= doubt
    if not unsure:
        return rank, cut, None
    shown = ", ".join(f"{float(v):.2e}" for v in relative_values[: rank + 3])
    found = f"a gap after {rank} value(s)" if rank else "no gap"
    message = (
        f"unsure cut: {found} (factor {gap:g}) among the small relative singular values "
        f"[{shown}, ...] (sure only when the kept ones are ≤ {small:g} and the next > "
        f"{doubt:g}); returning {rank} map(s). Inspect the spectrum with return_info=True and "
        "pass a float threshold."
    )
    return rank, cut, message


def _digest(t: torch.Tensor | None) -> bytes:
    if t is None:
        return b""
    a = t.detach().cpu().to(torch.float64).contiguous()
    return hashlib.blake2b(a.numpy().tobytes() + str(tuple(a.shape)).encode()).digest()


def _threshold_key(threshold) -> tuple:
    if isinstance(threshold, str):
        if threshold != "auto":
            raise ValueError(f'threshold must be a float or "auto", got {threshold!r}')
        return ("auto", AUTO_GAP, AUTO_SMALL, AUTO_FLOOR, AUTO_DOUBT)
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


def _solve_pair(out_rep: TensorRep, in_rep: TensorRep, L, H, key, threshold, limits) -> tuple:
    """Basis (|out|·|in|, r) of the equivariant maps in_rep → out_rep, and its PairInfo."""
    factors = out_rep.factors + tuple(-f for f in in_rep.factors)  # Hom(A, B) = B ⊗ A*
    order = sorted(range(len(factors)), key=lambda j: -factors[j])  # V factors first, then V*
    canonical = tuple(factors[j] for j in order)
    cache_key = (canonical, *key)
    if cache_key in _CACHE:
        _CACHE.move_to_end(cache_key)
        basis, info = _CACHE[cache_key]
    else:
        context = f"{in_rep!r} → {out_rep!r}: "
        basis, info = _solve_canonical(canonical, L, H, threshold, limits, context)
        _CACHE[cache_key] = (basis, info)
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    m, n, r = len(factors), L.shape[-1], basis.shape[1]
    if m > 1 and order != sorted(order):  # back from the canonical factor order
        inverse = [order.index(j) for j in range(m)]
        basis = basis.reshape((n,) * m + (r,)).permute(*inverse, m).reshape(n**m, r)
    pair = PairInfo(in_rep, out_rep, *info)
    if pair.doubt is not None:  # on every call, cached or not
        warnings.warn(f"{in_rep!r} → {out_rep!r}: {pair.doubt}", SpectrumWarning, stacklevel=4)
    return _fix_signs(basis), pair


def _fix_signs(basis: torch.Tensor) -> torch.Tensor:
    """Make the first entry of largest magnitude of each column positive (reproducible output)."""
    if basis.numel() == 0:
        return basis
    a = basis.abs()
    first = (a >= (1 - 1e-6) * a.max(dim=0).values).to(torch.int8).argmax(dim=0)
    signs = torch.sign(basis[first, torch.arange(basis.shape[1])])
    return basis * torch.where(signs == 0, 1.0, signs).to(basis.dtype)


def _solve_canonical(factors, L, H, threshold, limits, context) -> tuple[torch.Tensor, tuple]:
    if not factors:  # Scalar → Scalar: every constraint vanishes
        values = torch.zeros(1, dtype=torch.float64)
        return torch.ones(1, 1, dtype=torch.float64), (values, 0.0, 1.0, 1, "trivial", None)
    spectrum = _tensor_solver.solve(factors, L, H, limits=limits, context=context)
    values, scale = spectrum.values, spectrum.scale
    doubt = None
    if scale <= 0:  # the constraint vanishes identically: every vector is a map
        rank, cut = len(values), 1.0
    elif threshold == "auto":
        excluded = None if spectrum.excluded is None else spectrum.excluded / scale
        rank, cut, doubt = _cut_at_gap(values / scale, excluded, AUTO_GAP, AUTO_SMALL, AUTO_FLOOR)
    else:
        cut = float(threshold)
        rank = int((values <= cut * scale).sum())
    return spectrum.vectors(rank), (values, scale, cut, rank, spectrum.method, doubt)


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
    rep_in: Rep,
    rep_out: Rep,
    generators,
    *,
    discrete_generators=None,
    threshold="auto",
    max_bytes: int | None = None,
    max_eigenproblem: int | None = None,
) -> PairBases:
    """Solve every distinct pair of summand types of rep_in → rep_out once (cached on values).

    The arguments are those of :func:`equivariant_basis`; it assembles the full basis from this.
    """
    for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
        if not isinstance(rep, Rep):
            raise TypeError(f"{name} must be a liegnn representation (V, Scalar, ...), got {rep!r}")
    key = _threshold_key(threshold)
    limits = _limits(max_bytes, max_eigenproblem)
    L, H = _resolve_group(generators, discrete_generators)
    n = L.shape[-1]
    rep_in.check_n(n)
    rep_out.check_n(n)
    for rep in (rep_in, rep_out):  # the summands' coordinates: one int64 per dimension
        if 8 * rep.size(n) > limits.max_bytes:
            raise ValueError(
                f"{rep!r} has dimension {rep.size(n)} on R^{n}: its coordinates alone exceed the "
                f"limit of {limits.max_bytes / 2**30:.3g} GiB (max_bytes= or "
                "liegnn.nullspace.MAX_BYTES)"
            )
    blocks_in, blocks_out = rep_in.blocks(n), rep_out.blocks(n)
    digest = (_digest(L), _digest(H), key)
    solved: dict[tuple, tuple[torch.Tensor, PairInfo]] = {}
    for u in dict.fromkeys(u.factors for u, _ in blocks_out):  # distinct types, in order
        for t in dict.fromkeys(t.factors for t, _ in blocks_in):
            solved[(u, t)] = _solve_pair(
                TensorRep(u), TensorRep(t), L, H, digest, threshold, limits
            )
    return PairBases(L, H, blocks_in, blocks_out, solved)


def _limits(max_bytes: int | None, max_eigenproblem: int | None) -> _tensor_solver.Limits:
    """The cost limits of a call: the arguments, or the module constants read now."""
    values = {
        "max_bytes": MAX_BYTES if max_bytes is None else max_bytes,
        "max_eigenproblem": MAX_EIGENPROBLEM if max_eigenproblem is None else max_eigenproblem,
    }
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 1:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    return _tensor_solver.Limits(float(values["max_bytes"]), float(values["max_eigenproblem"]))


def equivariant_basis(
    rep_in: Rep,
    rep_out: Rep,
    generators,
    *,
    discrete_generators=None,
    threshold: float | str = "auto",
    return_info: bool = False,
    dtype: torch.dtype | None = None,
    max_bytes: int | None = None,
    max_eigenproblem: int | None = None,
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
        max_bytes, max_eigenproblem: cost limits, default ``MAX_BYTES`` (1 GiB) and
            ``MAX_EIGENPROBLEM`` (2048); ``float("inf")`` for none. Before anything is
            allocated, the peak memory of each pair's solve, the dimension of its dense
            eigenproblem and the size of the assembled basis are estimated; above a limit a
            ``ValueError`` names the size.

    Returns:
        (dim_out · dim_in, r) tensor with orthonormal columns, or a :class:`BasisInfo`.
    """
    limits = _limits(max_bytes, max_eigenproblem)
    _, _, blocks_in, blocks_out, solved = pair_bases(
        rep_in,
        rep_out,
        generators,
        discrete_generators=discrete_generators,
        threshold=threshold,
        max_bytes=limits.max_bytes,
        max_eigenproblem=limits.max_eigenproblem,
    )
    if dtype is None:
        carries = hasattr(generators, "generators") or hasattr(generators, "symmetry")
        src = as_generators(generators) if carries else generators  # a Symmetry's own dtype
        dtype = src.dtype if isinstance(src, torch.Tensor) else torch.get_default_dtype()
    d_in = sum(len(i) for _, i in blocks_in)
    d_out = sum(len(j) for _, j in blocks_out)
    count_in = Counter(t.factors for t, _ in blocks_in)
    count_out = Counter(u.factors for u, _ in blocks_out)
    r = sum(Q.shape[1] * count_out[u] * count_in[t] for (u, t), (Q, _) in solved.items())
    nbytes = d_out * d_in * r * dtype.itemsize
    if nbytes > limits.max_bytes:
        raise ValueError(
            f"the basis of {rep_in!r} → {rep_out!r} is a dense ({d_out}·{d_in}, {r}) tensor of "
            f"{nbytes / 2**30:.3g} GiB, above the limit of {limits.max_bytes / 2**30:.3g} GiB; "
            "raise it with max_bytes= or liegnn.nullspace.MAX_BYTES, or keep the blocks with "
            "pair_bases (what EquivariantLinear does)"
        )
    basis = torch.zeros(d_out * d_in, r, dtype=dtype)
    nonzero = {  # per output type, the input blocks it has maps from (order kept)
        u: [(t, cols) for t, cols in blocks_in if solved[(u, t.factors)][0].shape[1]]
        for u in count_out
    }
    k = 0
    for u, rows in blocks_out:
        for t, cols in nonzero[u.factors]:
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
