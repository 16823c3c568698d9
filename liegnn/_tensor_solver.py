"""Invariant vectors of a tensor representation T = F_1 ⊗ … ⊗ F_m, each F_j ∈ {V, V*}.

The equivariant maps between two tensor powers are the invariants of the hom-space
Hom(A, B) = B ⊗ A*, so this is the only problem the solver has to solve. The constraint

    B v = [dρ_T(L_1) v; …; dρ_T(L_c) v; (ρ_T(h_1) − I) v; …] = 0,
    dρ_T(L) = Σ_j I ⊗ … ⊗ (L or −Lᵀ at factor j) ⊗ … ⊗ I,   ρ_T(h) = ⊗_j (h or h^{−T}),

is applied matrix-free, one factor at a time (never as an n^m × n^m Kronecker matrix), with the
Kronecker operators of :mod:`liegnn.algebra.kronecker`.

Small spaces are solved densely (eigh of BᵀB, the smallest singular values re-evaluated as
‖Bv‖). Large ones are first restricted to the kernel of dρ_T(X) for one diagonalisable element
X of the algebra: with X = Q Λ Q⁻¹, that kernel is spanned by the Kronecker products ⊗_j q_{k_j}
whose eigenvalue sums Σ_j ±λ_{k_j} vanish (the zero-weight space), which every invariant lies in.
On that subspace P, min ‖BPy‖ / ‖Py‖ is a small dense eigenproblem of PᵀBᵀBP. When X is normal
(Q unitary) PᵀBᵀBP is assembled sparsely in the eigenbasis, where each dρ_T(L_i) moves a
Kronecker product to m·n others; otherwise densely on an explicit P. For an exact algebra the
restriction loses nothing; for a noisy one the singular values it reports are upper bounds
(Courant–Fischer) of the true small ones, slightly above the noise level.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
import torch

from .algebra.kronecker import factor_position, kron_product_apply, kron_sum_apply, kron_sum_sparse

DENSE_LIMIT = 512  # weight-space dimension up to which the constraint is solved densely
_ZERO_WEIGHT_TOL = 0.2  # |Σ ±λ| ≤ tol · max|λ| counts as a zero weight (generous: noise-safe)
_MAX_KRON_COND = 1e8  # largest accepted condition number of the Kronecker eigenbasis
_REFINE_BELOW = 1e-6  # recompute ‖Bv‖ directly for relative singular values below this
_UNITARY = 1e-9  # cond(Q) − 1 below which the eigenbasis counts as unitary (X normal)


@dataclass
class Spectrum:
    """Singular values of the constraint on the searched subspace, and the vectors behind them.

    ``values``: ascending (p,) singular values (Ritz values on the subspace when projected).
    ``scale``: the largest singular value of the whole constraint.
    ``excluded``: a lower bound of the singular values outside the searched subspace (None when
    the search was dense). ``vectors(k)``: the (N, k) orthonormal vectors of the k smallest.
    """

    values: torch.Tensor
    scale: float
    excluded: float | None
    method: str
    vectors: Callable[[int], torch.Tensor]


class _Constraint:
    """The stacked constraint B of the tensor representation with ``factors`` (±1 per factor)."""

    def __init__(self, factors: tuple[int, ...], L: torch.Tensor, H: torch.Tensor | None):
        self.factors, self.m, self.n = factors, len(factors), L.shape[-1]
        self.N = self.n**self.m
        Lt = -L.transpose(-1, -2)
        # ("sum", mats): Σ_j (mat at factor j); ("product", mats): ⊗_j mats − I
        self.ops = [
            ("sum", [Li if f > 0 else Lti for f in factors]) for Li, Lti in zip(L, Lt, strict=True)
        ]
        if H is not None:
            Hinv_T = torch.linalg.inv(H).transpose(-1, -2)
            self.ops += [
                ("product", [h if f > 0 else hit for f in factors])
                for h, hit in zip(H, Hinv_T, strict=True)
            ]

    def _apply(self, op, v: torch.Tensor, transpose: bool = False) -> torch.Tensor:
        """One block row of B applied to v (N, p): Σ_j A_j^{(j)} v or (⊗_j A_j) v − v."""
        kind, mats = op
        if transpose:
            mats = [A.T for A in mats]
        if kind == "sum":
            return kron_sum_apply(mats, v)
        return kron_product_apply(mats, v) - v

    def gram(self, v: torch.Tensor, kinds=("sum", "product")) -> torch.Tensor:
        """vᵀ BᵀB v over the rows of the given kinds, shape (p, p)."""
        out = v.new_zeros(v.shape[-1], v.shape[-1])
        for op in self.ops:
            if op[0] not in kinds:
                continue
            b = self._apply(op, v)
            out += b.T @ b
        return out

    def norms(self, v: torch.Tensor) -> torch.Tensor:
        """‖B v_k‖ for the columns of v, computed directly (accurate near zero)."""
        sq = v.new_zeros(v.shape[-1])
        for op in self.ops:
            sq += self._apply(op, v).square().sum(0)
        return sq.sqrt()

    def largest_singular_value(self) -> float:
        """‖B‖₂ by Lanczos on BᵀB; the algebra rows as sparse Kronecker sums (one call each)."""
        sparse = [
            kron_sum_sparse([A.numpy() for A in mats]) for kind, mats in self.ops if kind == "sum"
        ]
        group = [op for op in self.ops if op[0] == "product"]

        def normal(v: np.ndarray) -> np.ndarray:
            out = sum(A.T @ (A @ v) for A in sparse)
            if group:
                t = torch.from_numpy(v.reshape(-1, 1))
                out = (
                    out
                    + sum(self._apply(op, self._apply(op, t), True) for op in group).numpy().ravel()
                )
            return out

        op = scipy.sparse.linalg.LinearOperator((self.N, self.N), matvec=normal, dtype=np.float64)
        v0 = np.random.default_rng(0).standard_normal(self.N)
        lam = scipy.sparse.linalg.eigsh(
            op, k=1, which="LA", v0=v0, tol=1e-10, return_eigenvectors=False
        )
        return math.sqrt(max(float(lam[0]), 0.0))


def _paired_eig(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """Eigen-decomposition of a real X with exact conjugate pairing (None if not diagonalisable).

    Returns eigenvalues λ (n,), unit eigenvectors Q (n, n) and conj (n,): the index of the
    conjugate partner, so that λ[conj] = conj(λ) and Q[:, conj] = conj(Q) exactly.
    """
    lam, Q = torch.linalg.eig(X)
    n = X.shape[-1]
    scale = max(float(lam.abs().max()), 1e-300)
    conj = torch.arange(n)
    k = 0
    while k < n:  # LAPACK returns conjugate pairs next to each other
        if abs(float(lam[k].imag)) <= 1e-12 * scale:
            lam[k] = lam[k].real.clone()
            Q[:, k] = Q[:, k].real.clone()
            k += 1
        elif k + 1 < n and abs(complex(lam[k + 1]) - complex(lam[k]).conjugate()) <= 1e-9 * scale:
            lam[k + 1], Q[:, k + 1] = lam[k].conj().clone(), Q[:, k].conj().clone()
            conj[k], conj[k + 1] = k + 1, k
            k += 2
        else:
            return None
    return lam, Q / Q.norm(dim=0, keepdim=True), conj


class _WeightBasis:
    """Real basis of the zero-weight space of dρ_T(X), X = Q Λ Q⁻¹, in Kronecker form.

    Columns: Re u_t for self-conjugate tuples t, then √2 Re u_t and √2 Im u_t for one tuple of
    each conjugate pair, where u_t = ⊗_j q^{(j)}_{t_j} and q^{(j)} are the eigenvectors of X (V
    factors) or of −Xᵀ (V* factors: the columns of Q^{−T}).
    """

    def __init__(self, factors, lam, Q, conj, selected, bound, unitary):
        self.factors, self.n, self.m = factors, Q.shape[0], len(factors)
        self.N = self.n**self.m
        Qd = torch.linalg.inv(Q).T
        self.bases = [Q if f > 0 else Qd / Qd.norm(dim=0, keepdim=True) for f in factors]
        self.selected, self.bound, self.unitary = selected, bound, unitary
        self.digits = torch.stack(
            [(selected // self.n ** (self.m - 1 - j)) % self.n for j in range(self.m)]
        )
        partner = torch.zeros_like(selected)
        for j in range(self.m):
            partner = partner * self.n + conj[self.digits[j]]
        rep = selected <= partner  # one tuple per conjugate pair
        self.rep_self = torch.nonzero(rep & (selected == partner)).ravel()
        self.rep_pair = torch.nonzero(rep & (selected != partner)).ravel()
        self.partner_pos = torch.searchsorted(selected, partner[self.rep_pair])
        self.p = len(self.rep_self) + 2 * len(self.rep_pair)

    def explicit(self) -> torch.Tensor:
        """The basis as a dense (N, p) real matrix."""
        idx = torch.cat([self.rep_self, self.rep_pair])
        U = torch.ones(1, len(idx), dtype=self.bases[0].dtype)
        for j, B in enumerate(self.bases):
            U = (U[:, None, :] * B[:, self.digits[j, idx]][None]).reshape(-1, len(idx))
        s, q = len(self.rep_self), math.sqrt(2)
        return torch.cat([U[:, :s].real, q * U[:, s:].real, q * U[:, s:].imag], dim=1)

    def coefficients(self) -> scipy.sparse.csr_matrix:
        """(len(selected), p) complex: the columns in the basis (u_t)_{t ∈ selected}.

        √2 Re u_t = (u_t + u_t̄)/√2 and √2 Im u_t = −i (u_t − u_t̄)/√2, since u_t̄ = conj(u_t).
        """
        s, k = len(self.rep_self), len(self.rep_pair)
        h = 1 / math.sqrt(2)
        t, tbar = self.rep_pair.numpy(), self.partner_pos.numpy()
        rows = np.concatenate([self.rep_self.numpy(), t, tbar, t, tbar])
        re, im = s + np.arange(k), s + k + np.arange(k)
        cols = np.concatenate([np.arange(s), re, re, im, im])
        vals = np.concatenate(
            [np.ones(s), np.full(k, h), np.full(k, h), np.full(k, -1j * h), np.full(k, 1j * h)]
        )
        return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(len(self.selected), self.p))

    def operator(self, mats) -> scipy.sparse.csr_matrix:
        """Σ_j (mats[j] at factor j) in the Kronecker eigenbasis, on the selected columns.

        Shape (N, len(selected)); exact for the unitary basis, where it is Q⁻¹ A Q = Qᴴ A Q.
        """
        rows, cols, vals = [], [], []
        col = torch.arange(len(self.selected))
        for j, (A, B) in enumerate(zip(mats, self.bases, strict=True)):
            At = torch.linalg.solve(B, A.to(B.dtype) @ B)  # (n, n) in the eigenbasis
            stride = factor_position((self.n,) * self.m, j)[2]  # I_left ⊗ A ⊗ I_stride
            d = self.digits[j]
            for k in range(self.n):
                rows.append(self.selected + (k - d) * stride)
                cols.append(col)
                vals.append(At[k, d])
        rows, cols, vals = (torch.cat(x).numpy() for x in (rows, cols, vals))
        return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(self.N, len(self.selected)))

    def combine(self, Z: torch.Tensor) -> torch.Tensor:
        """Original coordinates (N, k) of the basis combinations Z (p, k)."""
        C = torch.from_numpy(self.coefficients() @ Z.numpy().astype(np.complex128))
        full = torch.zeros(self.N, Z.shape[1], dtype=C.dtype)
        full[self.selected] = C
        return kron_product_apply(self.bases, full).real.contiguous()


def _commuting_pairs(L: torch.Tensor, limit: int = 12) -> list[tuple[int, int]]:
    pairs = []
    for i in range(L.shape[0]):
        for j in range(i + 1, L.shape[0]):
            bracket = L[i] @ L[j] - L[j] @ L[i]
            if float(bracket.norm()) <= 1e-9 * float(L[i].norm() * L[j].norm()):
                pairs.append((i, j))
                if len(pairs) >= limit:
                    return pairs
    return pairs


def _zero_weight_basis(factors: tuple[int, ...], L: torch.Tensor, seed: int) -> _WeightBasis | None:
    """The zero-weight space of the best of several algebra elements X.

    Candidates: random combinations, the generators themselves and random combinations of
    commuting pairs (a Cartan-like element is normal and small). Prefers a normal X (unitary
    eigenbasis), then one whose weights are clearly zero or not (none within a factor 2 of the
    tolerance: noise moves the weights of a noisy algebra), then the smallest space; rejects X
    whose Kronecker eigenbasis is ill-conditioned.
    None when no candidate qualifies or the space is not much smaller than the whole.
    """
    c, n, _ = L.shape
    m = len(factors)
    g = torch.Generator().manual_seed(seed)
    candidates = [torch.randn(c, generator=g, dtype=torch.float64) for _ in range(3)]
    candidates += list(torch.eye(c, dtype=torch.float64)[:12])
    for i, j in _commuting_pairs(L):
        r = torch.zeros(c, dtype=torch.float64)
        r[[i, j]] = torch.randn(2, generator=g, dtype=torch.float64)
        candidates.append(r)
    best, best_key = None, None
    for r in candidates:
        eig = _paired_eig(torch.einsum("i,ijk->jk", r, L))
        if eig is None:
            continue
        lam, Q, conj = eig
        scale = float(lam.abs().max())
        cond = float(torch.linalg.cond(Q))
        if (
            scale <= 1e-12
            or not math.isfinite(cond)
            or m * math.log10(cond) > math.log10(_MAX_KRON_COND)
        ):
            continue
        unitary = cond - 1 <= _UNITARY
        sums = torch.zeros((), dtype=lam.dtype)
        for f in factors:
            sums = (sums[..., None] + (lam if f > 0 else -lam)).reshape(-1)
        weights = sums.abs() / scale
        selected = torch.nonzero(weights <= _ZERO_WEIGHT_TOL).ravel()
        # noise spreads the weights: a zero weight moved near the tolerance would be lost, so
        # prefer an X whose weights leave the band (tol/2, 2 tol] empty
        band = (weights > _ZERO_WEIGHT_TOL / 2) & (weights <= 2 * _ZERO_WEIGHT_TOL)
        key = (not unitary, bool(band.any()), len(selected))
        if best_key is None or key < best_key:
            # excluded directions: ‖dρ(X)v‖ ≥ tol·scale·‖v‖/cond^m, and ‖dρ(X)v‖ ≤ ‖r‖ ‖Bv‖
            bound = _ZERO_WEIGHT_TOL * scale / (float(r.norm()) * cond**m)
            best, best_key = (lam, Q, conj, selected, bound, unitary), key
    if best is None or best_key[2] > (n**m) // 2:
        return None
    return _WeightBasis(factors, *best)


@dataclass(frozen=True)
class Limits:
    """Refuse a solve above these: ``max_bytes`` of estimated peak memory, ``max_eigenproblem``
    for the dimension of the dense symmetric eigenproblem (time ∝ dimension³)."""

    max_bytes: float
    max_eigenproblem: float


def solve(
    factors: tuple[int, ...],
    L: torch.Tensor,
    H: torch.Tensor | None,
    seed: int = 0,
    *,
    limits: Limits | None = None,
    context: str = "",
) -> Spectrum:
    """Spectrum of the invariance constraint of the tensor representation ``factors``.

    ``L``: (c, n, n) float64 generators; ``H``: (k, n, n) float64 group elements or None.
    ``limits``: checked on cost estimates before anything of that size is allocated (a
    ``ValueError`` naming the size and ``context``); None: no limit.
    """
    with _one_thread():
        return _solve(factors, L, H, seed, limits, context)


def weight_space_bytes(N: int, n: int, m: int, c: int) -> int:
    """Estimated peak bytes before the eigenproblem: the weight-space vectors of the element
    search and of Lanczos (~32 float64 of length N) and the sparse Kronecker sums of the c
    generators (n·m non-zeros per row, 16 bytes each)."""
    return 8 * N * (32 + 2 * n * m * c)


def eigenproblem_bytes(p: int, N: int, explicit: bool, n: int, m: int, c: int) -> int:
    """Estimated peak bytes of a p-dimensional reduced problem on an N-dimensional weight space:
    the eigen-decomposition with its workspace (~4 p² float64), the Gram matrix assembled in
    complex arithmetic (~4 p² complex) or, with an explicit basis, four N × p float64 arrays."""
    assembly = 32 * N * p if explicit else 64 * p * p + 24 * p * n * m * c
    return 32 * p * p + assembly


def _check(limits: Limits | None, context: str, p: int, nbytes: int, what: str) -> None:
    if limits is None:
        return
    if p > limits.max_eigenproblem:
        raise ValueError(
            f"{context}{what} is a {p}-dimensional eigenproblem, above the limit of "
            f"{limits.max_eigenproblem:g} (time grows as its cube); raise it with "
            "max_eigenproblem= or liegnn.nullspace.MAX_EIGENPROBLEM, or use smaller summands"
        )
    if nbytes > limits.max_bytes:
        raise ValueError(
            f"{context}{what} needs about {_gib(nbytes)} of memory, above the limit of "
            f"{_gib(limits.max_bytes)}; raise it with max_bytes= or liegnn.nullspace.MAX_BYTES, "
            "or use smaller summands"
        )


def _gib(nbytes: int) -> str:
    return f"{nbytes / 2**30:.3g} GiB"


def _solve(factors, L, H, seed, limits=None, context="") -> Spectrum:
    c, n = L.shape[0] + (0 if H is None else H.shape[0]), L.shape[-1]
    m, N = len(factors), L.shape[-1] ** len(factors)
    space = f"the constraint on the {n}**{m} = {N}-dimensional weight space"
    if N <= DENSE_LIMIT:
        _check(limits, context, N, 40 * N * N, space)
    else:
        _check(limits, context, 0, weight_space_bytes(N, n, m, c), space)
    con = _Constraint(factors, L, H)
    basis = _zero_weight_basis(factors, L, seed) if N > DENSE_LIMIT else None
    P = R = None
    if basis is not None:
        explicit = not basis.unitary or H is not None
        nbytes = eigenproblem_bytes(basis.p, N, explicit, n, m, c)
        _check(limits, context, basis.p, nbytes, f"{space}, reduced to its zero weights,")
    if basis is not None and basis.unitary:
        M = _sparse_gram(con, basis)
        if any(kind == "product" for kind, _ in con.ops):
            P = basis.explicit()
            M += con.gram(P, kinds=("product",))
    elif basis is not None:  # non-normal X: explicit basis, whitened (PᵀP = RᵀR)
        P = basis.explicit()
        R, info = torch.linalg.cholesky_ex(P.T @ P, upper=True)
        if int(info) != 0:
            basis = None
        else:
            M = torch.linalg.solve_triangular(R, con.gram(P), upper=True, left=False)
            M = torch.linalg.solve_triangular(R.T, M, upper=False)
    if basis is None:
        _check(limits, context, N, 40 * N * N, space)
        P, R = torch.eye(N, dtype=torch.float64), None
        M = con.gram(P)
    lam, Y = _eigh((M + M.T) / 2)
    values = lam.clamp_min(0).sqrt()
    scale = float(values[-1]) if basis is None else con.largest_singular_value()

    def combine(Z: torch.Tensor) -> torch.Tensor:
        if R is not None:
            Z = torch.linalg.solve_triangular(R, Z, upper=True)
        return P @ Z if P is not None else basis.combine(Z)

    # squaring lost the smallest singular values: evaluate ‖Bv‖ directly and re-sort them
    k_small = int((values < _REFINE_BELOW * max(scale, 1e-300)).sum())
    V_small = combine(Y[:, :k_small])
    if k_small:
        refined = con.norms(V_small) / V_small.norm(dim=0)
        order = torch.argsort(refined)
        values = torch.cat([refined[order], values[k_small:]])
        V_small = V_small[:, order]

    def vectors(k: int) -> torch.Tensor:
        if k == 0:
            return torch.zeros(N, 0, dtype=torch.float64)
        V = V_small[:, :k] if k <= k_small else combine(Y[:, :k])
        if float((V.T @ V - torch.eye(k, dtype=V.dtype)).abs().max()) > 1e-12:
            V = torch.linalg.qr(V)[0]
        return V

    method = "dense" if basis is None else f"zero-weight subspace ({basis.p} of {N})"
    excluded = None if basis is None else basis.bound
    return Spectrum(values, scale, excluded, method, vectors)


def _sparse_gram(con: _Constraint, basis: _WeightBasis) -> torch.Tensor:
    """Σ_i (B_i P)ᵀ(B_i P) over the algebra rows, assembled in the unitary Kronecker eigenbasis."""
    S = basis.coefficients()
    M = np.zeros((basis.p, basis.p))
    for kind, mats in con.ops:
        if kind == "sum":
            C = basis.operator(mats) @ S
            M += (C.conj().T @ C).real.toarray()
    return torch.from_numpy(M)


@contextmanager
def _one_thread():
    """The work is small eigenproblems and memory-bound Kronecker products: extra threads only
    add synchronisation, and stall badly on a busy CPU (measured slower on 2 cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _eigh(M: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ascending eigenvalues and eigenvectors of the symmetric M (divide and conquer)."""
    try:
        return torch.linalg.eigh(M)
    except RuntimeError:  # pragma: no cover - LAPACK failure: scipy's QR-iteration driver
        lam, Y = scipy.linalg.eigh(M.numpy(), driver="ev")
        return torch.from_numpy(lam), torch.from_numpy(Y)
