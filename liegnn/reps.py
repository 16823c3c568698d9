"""Representation algebra: representations built from the defining representation ``V``.

A representation is a value that composes like the mathematics (EMLP's notation)::

    V, Scalar, V.T (dual), V * W (⊗), V ** k, V + W (⊕), 3 * V (multiplicity)

Its dimension and its action follow from the generators L (c, n, n) of the defining
representation, and from group elements h (k, n, n) for the discrete part of the group:

    dρ_V(L) = L          dρ_{V*}(L) = −Lᵀ       dρ_{A⊗B} = dρ_A ⊗ I + I ⊗ dρ_B
    ρ_V(h)  = h          ρ_{V*}(h)  = h^{−T}    ρ_{A⊗B}  = ρ_A ⊗ ρ_B

and block-diagonal matrices for ⊕ (the Kronecker forms of :mod:`liegnn.algebra.kronecker`). A rep
is hashable and compares structurally. :func:`act` is the library's one way of applying ρ(g) to
data (last axis, optional point mask); ``rep.act(g, x)`` applies ρ_rep(g).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch

from ._validation import as_generators
from .algebra.kronecker import kron, kron_sum

__all__ = ["Rep", "TensorRep", "SumRep", "ProductRep", "V", "Scalar", "act", "parse_rep"]

# size guards, checked before anything of that size is built (raise them here if needed)
MAX_TENSOR_POWER = 32  # k in V**k (V**k ⊗ V**k has 3**(2k) coordinates under so(3))
MAX_MULTIPLICITY = 10**6  # k in k*V, and the number of tensor-power summands of a product


def _block_diag(mats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Batched block-diagonal matrix: list of (b, d_i, d_i) → (b, Σd, Σd)."""
    b = mats[0].shape[0]
    d = sum(m.shape[-1] for m in mats)
    out = mats[0].new_zeros(b, d, d)
    o = 0
    for m in mats:
        k = m.shape[-1]
        out[:, o : o + k, o : o + k] = m
        o += k
    return out


class _Elements:
    """Group elements h (k, n, n); h^{−T} is computed once, when a dual factor first needs it."""

    def __init__(self, h: torch.Tensor):
        self.h = h
        self._inv_T: torch.Tensor | None = None

    @property
    def inv_T(self) -> torch.Tensor:
        if self._inv_T is None:
            try:
                self._inv_T = torch.linalg.inv(self.h).transpose(-1, -2)
            except RuntimeError as err:
                raise ValueError("group_elements must be invertible matrices") from err
        return self._inv_T


def act(
    matrices: torch.Tensor, x: torch.Tensor, point_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """x ↦ M_b x on the last axis of every row of sample b: the one place data is transformed.

    ``matrices``: (N, m, d), one M_b = ρ(g_b) per sample; ``x``: (N, d), or (N, ..., d) where
    the same M_b acts on every time step / point (I ⊗ M_b on the flattened sample). Returns
    (N, m) or (N, ..., m). ``point_mask`` (N, ...) bool: rows where it is False (padding) are
    returned unchanged (needs m = d). Real data acted on by complex matrices becomes complex;
    otherwise the matrices are cast to the data's dtype.
    """
    M = matrices
    if M.is_complex() and not x.is_complex():
        x = x.to(M.dtype)
    else:
        M = M.to(x.dtype)
    if x.ndim == 2:
        out = torch.einsum("bij,bj->bi", M, x)
    else:
        lead = x.shape[1:-1]
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        out = torch.einsum("bij,bpj->bpi", M, flat).reshape(x.shape[0], *lead, M.shape[-2])
    if point_mask is not None:
        out = torch.where(point_mask[..., None], out, x)
    return out


class Rep:
    """Base class of representations. Build them from ``V`` and ``Scalar`` with operators."""

    # --- structure, implemented by subclasses ------------------------------------------------
    def _key(self) -> tuple:
        raise NotImplementedError

    @property
    def n(self) -> int | None:
        """The declared dimension of V (``V(3)``), or None when it follows from the generators."""
        raise NotImplementedError

    def size(self, n: int) -> int:
        """Dimension of the representation when V has dimension n."""
        raise NotImplementedError

    def blocks(self, n: int) -> list[tuple[TensorRep, torch.Tensor]]:
        """Decompose into tensor-power summands: [(T, coordinates of T in this rep)].

        Each T is a product of V and V* factors (or Scalar); the coordinates are a long tensor
        of length ``T.size(n)`` in T's own row-major layout. The action is block-diagonal in
        this decomposition, which is what lets the solver treat each pair of summands alone.
        """
        raise NotImplementedError

    @property
    def T(self) -> Rep:
        """The dual representation, dρ*(L) = −dρ(L)ᵀ and ρ*(h) = ρ(h)^{−T}."""
        raise NotImplementedError

    def _drho(self, L: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _rho(self, E: _Elements) -> torch.Tensor:
        raise NotImplementedError

    def _with_n(self, n: int) -> Rep:
        raise NotImplementedError

    # --- public API ----------------------------------------------------------------------------
    def check_n(self, n: int) -> None:
        """Raise a ValueError when the declared dimension of V disagrees with n."""
        if self.n is not None and self.n != n:
            raise ValueError(
                f"representation {self!r} is declared on V of dimension {self.n}, "
                f"but the generators act on dimension {n}"
            )

    def dim(self, generators) -> int:
        """Dimension for the given generators (c, n, n), Symmetry or known name."""
        n = as_generators(generators).shape[-1]
        self.check_n(n)
        return self.size(n)

    def drho(self, generators) -> torch.Tensor:
        """Lie algebra action: (c, n, n) generators (or a Symmetry) → (c, d, d) matrices dρ(L_i)."""
        L = as_generators(generators)
        self.check_n(L.shape[-1])
        return self._drho(L)

    def rho(self, group_elements) -> torch.Tensor:
        """Group action: (k, n, n) invertible matrices h (or one (n, n)) → (k, d, d) ρ(h)."""
        H = as_generators(group_elements, name="group_elements")
        self.check_n(H.shape[-1])
        return self._rho(_Elements(H))

    def act(
        self, group_elements: torch.Tensor, x: torch.Tensor, point_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """ρ(g_b) x_b on the last axis of x (N, ..., d) for g (N, n, n): :func:`act` with ρ(g).

        E.g. ``(V * V).act(g, xx)`` maps the flattened outer products x xᵀ (N, n²) to the
        flattened (g x)(g x)ᵀ. ``point_mask`` as in :func:`act`.
        """
        R = self.rho(group_elements)
        if x.ndim < 2 or x.shape[-1] != R.shape[-1] or x.shape[0] != R.shape[0]:
            raise ValueError(
                f"data for {self!r} must have shape ({R.shape[0]}, ..., {R.shape[-1]}) for "
                f"{R.shape[0]} group elements, got {tuple(x.shape)}"
            )
        return act(R, x, point_mask)

    def __call__(self, n) -> Rep:
        """Declare the dimension of V: ``V(3)``; ``n`` may also be a Symmetry."""
        if hasattr(n, "generators"):
            n = n.n
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"the dimension of V must be a positive integer, got {n!r}")
        return self._with_n(n)

    def __add__(self, other) -> Rep:
        if isinstance(other, int) and other == 0:
            return self
        if not isinstance(other, Rep):
            return NotImplemented
        return _sum([*_terms(self), *_terms(other)])

    def __radd__(self, other) -> Rep:
        if isinstance(other, int) and other == 0:  # sum([...]) starts from 0
            return self
        return NotImplemented

    def __mul__(self, other) -> Rep:
        if isinstance(other, int) and not isinstance(other, bool):
            return self.__rmul__(other)
        if not isinstance(other, Rep):
            return NotImplemented
        return _product([self, other])

    def __rmul__(self, other) -> Rep:
        if not isinstance(other, int) or isinstance(other, bool):
            return NotImplemented
        if other < 0:
            raise ValueError(f"a multiplicity must be a non-negative integer, got {other}")
        _check_limit("a multiplicity", other, "MAX_MULTIPLICITY", MAX_MULTIPLICITY)
        return _sum([self] * other)

    def __pow__(self, k) -> Rep:
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
            raise ValueError(f"a tensor power must be a non-negative integer, got {k!r}")
        _check_limit("a tensor power", k, "MAX_TENSOR_POWER", MAX_TENSOR_POWER)
        return _product([self] * k) if k else Scalar

    def __eq__(self, other) -> bool:
        return isinstance(other, Rep) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class TensorRep(Rep):
    """V^{⊗a} ⊗ V*^{⊗b} in any order: ``factors`` holds +1 for V and −1 for V* per factor.

    ``TensorRep(())`` is the trivial representation ``Scalar``.
    """

    def __init__(self, factors: tuple[int, ...] = (), n: int | None = None):
        if any(f not in (1, -1) for f in factors):
            raise ValueError(f"factors must be +1 (V) or -1 (V*), got {factors}")
        self.factors = tuple(int(f) for f in factors)
        self._n = n

    def _key(self) -> tuple:
        return ("T", self.factors, self._n)

    @property
    def n(self) -> int | None:
        return self._n

    @property
    def is_scalar(self) -> bool:
        return not self.factors

    def size(self, n: int) -> int:
        self.check_n(n)
        return n ** len(self.factors)

    def blocks(self, n: int) -> list[tuple[TensorRep, torch.Tensor]]:
        return [(self, torch.arange(self.size(n)))]

    @property
    def T(self) -> TensorRep:
        return TensorRep(tuple(-f for f in self.factors), self._n)

    def _with_n(self, n: int) -> TensorRep:
        return TensorRep(self.factors, n)

    def _drho(self, L: torch.Tensor) -> torch.Tensor:
        if not self.factors:
            return L.new_zeros(L.shape[0], 1, 1)
        return kron_sum([L if f > 0 else -L.transpose(-1, -2) for f in self.factors])

    def _rho(self, E: _Elements) -> torch.Tensor:
        out = E.h.new_ones(E.h.shape[0], 1, 1)
        for f in self.factors:
            out = kron(out, E.h if f > 0 else E.inv_T)
        return out

    def __repr__(self) -> str:
        if not self.factors:
            return "Scalar" if self._n is None else f"Scalar({self._n})"
        base = "V" if self._n is None else f"V({self._n})"
        parts = []
        for f, group in itertools.groupby(self.factors):
            k = len(list(group))
            name = base if f > 0 else f"{base}.T"
            parts.append(name if k == 1 else f"{name}**{k}")
        return "*".join(parts)


class _CompositeRep(Rep):
    """A rep built from ``terms``; the dual and a declared n act term by term."""

    _tag = ""

    def __init__(self, terms: Sequence[Rep]):
        self.terms = tuple(terms)
        self._n = _common_n(self.terms)

    def _key(self) -> tuple:
        return (self._tag, tuple(t._key() for t in self.terms))

    @property
    def n(self) -> int | None:
        return self._n

    @property
    def T(self) -> Rep:
        return type(self)([t.T for t in self.terms])

    def _with_n(self, n: int) -> Rep:
        return type(self)([t._with_n(n) for t in self.terms])


class SumRep(_CompositeRep):
    """Direct sum ⊕ of representations (coordinates concatenated in order)."""

    _tag = "S"

    def size(self, n: int) -> int:
        return sum(t.size(n) for t in self.terms)

    def blocks(self, n: int) -> list[tuple[TensorRep, torch.Tensor]]:
        out, offset = [], 0
        for t in self.terms:
            out.extend((r, idx + offset) for r, idx in t.blocks(n))
            offset += t.size(n)
        return out

    def _drho(self, L: torch.Tensor) -> torch.Tensor:
        if not self.terms:
            return L.new_zeros(L.shape[0], 0, 0)
        return _block_diag([t._drho(L) for t in self.terms])

    def _rho(self, E: _Elements) -> torch.Tensor:
        if not self.terms:
            return E.h.new_zeros(E.h.shape[0], 0, 0)
        return _block_diag([t._rho(E) for t in self.terms])

    def __repr__(self) -> str:
        if not self.terms:
            return "0*Scalar"
        parts = []
        for t, group in itertools.groupby(self.terms):
            k = len(list(group))
            name = f"({t!r})" if isinstance(t, ProductRep) and k > 1 else repr(t)
            parts.append(name if k == 1 else f"{k}*{name}")
        return " + ".join(parts)


class ProductRep(_CompositeRep):
    """Tensor product ⊗ of representations, at least one of them a sum (Kronecker layout)."""

    _tag = "P"

    def size(self, n: int) -> int:
        out = 1
        for t in self.terms:
            out *= t.size(n)
        return out

    def blocks(self, n: int) -> list[tuple[TensorRep, torch.Tensor]]:
        out = [(Scalar, torch.zeros(1, dtype=torch.long))]
        for t in self.terms:
            d = t.size(n)
            t_blocks = t.blocks(n)
            _check_limit(
                f"the number of summands of {self!r}",
                len(out) * len(t_blocks),
                "MAX_MULTIPLICITY",
                MAX_MULTIPLICITY,
            )
            out = [
                (TensorRep(a.factors + b.factors, _common_n([a, b])), (i[:, None] * d + j).ravel())
                for a, i in out
                for b, j in t_blocks
            ]
        return out

    def _drho(self, L: torch.Tensor) -> torch.Tensor:
        return kron_sum([t._drho(L) for t in self.terms])

    def _rho(self, E: _Elements) -> torch.Tensor:
        out = E.h.new_ones(E.h.shape[0], 1, 1)
        for t in self.terms:
            out = kron(out, t._rho(E))
        return out

    def __repr__(self) -> str:
        return "*".join(f"({t!r})" if isinstance(t, SumRep) else repr(t) for t in self.terms)


def _check_limit(what: str, value: int, name: str, limit: int) -> None:
    if value > limit:
        raise ValueError(
            f"{what} of {value} is above the limit of {limit}; raise liegnn.reps.{name} if you "
            "mean it"
        )


def _common_n(reps: Sequence[Rep]) -> int | None:
    declared = {r.n for r in reps if r.n is not None}
    if len(declared) > 1:
        raise ValueError(f"cannot combine representations declared on V of dimensions {declared}")
    return declared.pop() if declared else None


def _terms(rep: Rep) -> list[Rep]:
    return list(rep.terms) if isinstance(rep, SumRep) else [rep]


def _sum(terms: list[Rep]) -> Rep:
    flat = [s for t in terms for s in _terms(t)]
    return flat[0] if len(flat) == 1 else SumRep(flat)


def _product(terms: list[Rep]) -> Rep:
    """⊗ with the simplifications that keep the coordinate layout: flatten nested products,
    drop Scalar factors, and merge neighbouring tensor powers into one TensorRep."""
    _common_n(terms)
    flat: list[Rep] = []
    for t in terms:
        flat.extend(t.terms if isinstance(t, ProductRep) else [t])
    merged: list[Rep] = []
    for t in flat:
        if isinstance(t, TensorRep) and merged and isinstance(merged[-1], TensorRep):
            prev = merged.pop()
            merged.append(TensorRep(prev.factors + t.factors, _common_n([prev, t])))
        else:
            merged.append(t)
    merged = [t for t in merged if not (isinstance(t, TensorRep) and t.is_scalar)] or [
        TensorRep((), _common_n(flat))
    ]
    return merged[0] if len(merged) == 1 else ProductRep(merged)


V = TensorRep((1,))
"""The defining (base) representation: dρ(L) = L, ρ(h) = h."""

Scalar = TensorRep(())
"""The trivial representation: dρ(L) = 0, ρ(h) = 1."""


def __getattr__(name: str):
    if name == "Group":  # a real Symmetry; it lives in liegnn.symmetry
        from .symmetry import Group

        return Group
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_rep(text: str) -> Rep:
    """A rep from its written form, e.g. ``"V**2 + 3*Scalar"``, ``"V*V.T"``, ``"2*V + V**3"``.

    Only ``V``, ``Scalar``, integers, ``+``, ``*``, ``**`` and ``.T`` are allowed (no ``eval``).
    """
    import ast

    largest = max(MAX_TENSOR_POWER, MAX_MULTIPLICITY)

    def integer(node: ast.BinOp, a: int, b: int) -> int:
        """Integer arithmetic, refused before evaluating when the result would exceed every
        limit (so that ``V**(9**9**9)`` fails at once instead of computing 9**9**9)."""
        if isinstance(node.op, ast.Pow):  # no unary minus is read: a, b ≥ 0
            if a > 1 and b * math.log2(a) > math.log2(largest) + 1:
                raise ValueError(
                    f"{ast.unparse(node)!r} in {text!r} is above every size limit ({largest}); "
                    "see liegnn.reps.MAX_TENSOR_POWER and MAX_MULTIPLICITY"
                )
            return a**b
        return a + b if isinstance(node.op, ast.Add) else a * b

    def build(node: ast.AST):
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Name) and node.id in ("V", "Scalar"):
            return V if node.id == "V" else Scalar
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Attribute) and node.attr == "T":
            return build(node.value).T
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mult | ast.Pow):
            a, b = build(node.left), build(node.right)
            if isinstance(a, int) and isinstance(b, int):
                return integer(node, a, b)
            if isinstance(node.op, ast.Add):
                return a + b
            return a * b if isinstance(node.op, ast.Mult) else a**b
        raise ValueError(
            f"cannot read the rep {text!r}: use V, Scalar, integers, +, *, ** and .T "
            f"(offending part: {ast.unparse(node)!r})"
        )

    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError as err:
        raise ValueError(f"cannot read the rep {text!r}: {err.msg}") from None
    rep = build(tree)
    if not isinstance(rep, Rep):
        raise ValueError(f"{text!r} is a number, not a representation")
    return rep
