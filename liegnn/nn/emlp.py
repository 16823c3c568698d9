"""Equivariant MLP (EMLP-style) for any matrix group given by its generators.

Every linear layer is W = Σ_k θ_k Q_k with Q_k the basis of equivariant maps of
:func:`liegnn.equivariant_basis` (solved once per pair of summand types, then shared by all
copies), the bias lives in the invariant vectors of the output rep, and the nonlinearity is a
gate: each non-scalar block is multiplied by σ of its own invariant scalar. Quadratic invariants
xᵀGx of every block (G an invariant bilinear form, e.g. the Minkowski metric) are fed to each layer
as extra scalars, so the network is nonlinear in the vectors even where no linear map reaches a
scalar (the Lorentz group).
"""

from __future__ import annotations

import torch
from torch import nn

from ..metric import invariant_forms
from ..nullspace import group_matrices, pair_bases
from ..reps import Rep, Scalar, TensorRep, V
from ..symmetry import Group
from .psi import psi

__all__ = ["EMLP", "EquivariantLinear", "GatedNonlinearity", "QuadraticInvariants", "gated"]


def _grouped(blocks) -> dict[tuple, torch.Tensor]:
    """{factors: (copies, size) coordinates} for the summands of one type."""
    out: dict[tuple, list] = {}
    for t, idx in blocks:
        out.setdefault(t.factors, []).append(idx)
    return {f: torch.stack(idx) for f, idx in out.items()}


def _group(generators, discrete_generators) -> Group:
    """The real group of a tensor, Symmetry, discovery result or known name (+ discrete ones)."""
    from ..symmetry import as_symmetry

    sym = as_symmetry(generators, discrete_generators)
    return Group(sym.generators, sym.discrete)


class EquivariantLinear(nn.Module):
    r"""Equivariant affine map y = W x + b between representations.

    .. math:: W = \sum_k \theta_k Q_k, \qquad b = \sum_l \beta_l q_l

    with Q_k the equivariant maps rep_in → rep_out and q_l the invariant vectors of rep_out.

    Args:
        rep_in, rep_out: representations (``V``, ``3*V + Scalar``, ...).
        group: a :class:`~liegnn.reps.Group` (generators and discrete generators).
        threshold: singular-value cut of :func:`~liegnn.equivariant_basis` (float or "auto").
        bias: learn the invariant bias b.

    Shapes: input (..., dim_in), output (..., dim_out).
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, group: Group, threshold="auto", bias=True):
        super().__init__()
        self.rep_in, self.rep_out, self.threshold = rep_in, rep_out, threshold
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)  # dtype and device
        _, _, blocks_in, blocks_out, solved = pair_bases(
            rep_in, rep_out, group, threshold=threshold
        )
        self.dim_in = sum(len(i) for _, i in blocks_in)
        self.dim_out = sum(len(i) for _, i in blocks_out)
        ins, outs = _grouped(blocks_in), _grouped(blocks_out)
        self.weights = nn.ParameterList()
        self._n_pairs = 0
        n_coefficients = 0
        dtype = torch.get_default_dtype()
        for (fo, fi), (Q, _) in solved.items():
            if Q.shape[1] == 0:
                continue
            rows, cols = outs[fo], ins[fi]
            positions = rows[:, None, :, None] * self.dim_in + cols[None, :, None, :]
            k = self._n_pairs
            Q = Q.reshape(rows.shape[1], cols.shape[1], -1)
            self.register_buffer(f"basis_{k}", Q.to(dtype, copy=True))  # not the cached tensor
            self.register_buffer(f"positions_{k}", positions.reshape(-1))
            self.weights.append(nn.Parameter(torch.empty(len(rows), len(cols), Q.shape[-1])))
            n_coefficients += self.weights[-1].numel()
            self._n_pairs += 1
        self._n_coefficients = n_coefficients
        self.biases = nn.ParameterList()
        self._n_bias = 0
        if bias:
            _, _, _, blocks_b, solved_b = pair_bases(Scalar, rep_out, group, threshold=threshold)
            for (fo, _), (q, _) in solved_b.items():
                if q.shape[1] == 0:
                    continue
                rows = _grouped(blocks_b)[fo]
                self.register_buffer(f"bias_basis_{self._n_bias}", q.to(dtype, copy=True))
                self.register_buffer(f"bias_positions_{self._n_bias}", rows.reshape(-1))
                self.biases.append(nn.Parameter(torch.zeros(len(rows), q.shape[1])))
                self._n_bias += 1
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # E‖Wx‖² ≈ ‖x‖²·dim_out/dim_in for orthonormal Q_k: variance dim_out / #coefficients
        std = (self.dim_out / max(self._n_coefficients, 1)) ** 0.5
        for w in self.weights:
            nn.init.normal_(w, std=std)
        for b in self.biases:
            nn.init.zeros_(b)

    def weight(self) -> torch.Tensor:
        """The equivariant matrix W, shape (dim_out, dim_in)."""
        a = self._anchor
        W = torch.zeros(self.dim_out * self.dim_in, dtype=a.dtype, device=a.device)
        for k, theta in enumerate(self.weights):
            values = torch.einsum("abr,ijr->abij", theta, getattr(self, f"basis_{k}"))
            W = W.index_put((getattr(self, f"positions_{k}"),), values.reshape(-1))
        return W.reshape(self.dim_out, self.dim_in)

    def bias(self) -> torch.Tensor | None:
        """The invariant bias b, shape (dim_out,), or None."""
        if not self._n_bias:
            return None
        b = torch.zeros(self.dim_out, dtype=self._anchor.dtype, device=self._anchor.device)
        for k, beta in enumerate(self.biases):
            values = beta @ getattr(self, f"bias_basis_{k}").T  # (copies, size)
            b = b.index_put((getattr(self, f"bias_positions_{k}"),), values.reshape(-1))
        return b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.dim_in:
            raise ValueError(
                f"input has last dimension {x.shape[-1]}, but {self.rep_in!r} has dimension "
                f"{self.dim_in}"
            )
        y = x @ self.weight().T
        b = self.bias()
        return y if b is None else y + b

    def extra_repr(self) -> str:
        return f"{self.rep_in!r} → {self.rep_out!r}, coefficients={self._n_coefficients}"


def gated(rep: Rep, n: int) -> Rep:
    """``rep`` plus one gate Scalar per non-scalar summand: what feeds a gate nonlinearity."""
    gates = sum(1 for t, _ in rep.blocks(n) if not t.is_scalar)
    return rep + gates * Scalar if gates else rep


class GatedNonlinearity(nn.Module):
    """Gate: x_a ↦ x_a · σ(g_a) for each non-scalar summand a with its own invariant scalar g_a;
    a scalar gates itself, s ↦ s · σ(s) (SiLU). Input (..., dim + gates), output (..., dim)."""

    def __init__(self, rep: Rep, n: int):
        super().__init__()
        blocks = rep.blocks(n)
        self.dim = sum(len(i) for _, i in blocks)
        gate = torch.empty(self.dim, dtype=torch.long)
        k = 0
        for t, idx in blocks:
            if t.is_scalar:
                gate[idx] = idx
            else:
                gate[idx] = self.dim + k
                k += 1
        self.register_buffer("gate_index", gate)
        self.n_gates = k

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z[..., : self.dim] * torch.sigmoid(z[..., self.gate_index])


class QuadraticInvariants(nn.Module):
    """ψ(x_aᵀ G_k x_a) for each non-scalar summand x_a and each symmetric invariant bilinear form
    G_k of its type T: dρ_T(L_i)ᵀG + G dρ_T(L_i) = 0 and ρ_T(h_j)ᵀGρ_T(h_j) = G, solved by
    :func:`liegnn.metric.invariant_forms` (the solver behind ``solve_metric``; ``threshold`` is
    its ``tol``), ψ of :mod:`liegnn.nn.psi`. Input (..., dim), output (..., n_invariants)."""

    def __init__(self, rep: Rep, group: Group, threshold="auto"):
        super().__init__()
        self.n_invariants = 0
        self._types = 0
        dtype = torch.get_default_dtype()
        L, H = group_matrices(group)
        for factors, idx in _grouped(rep.blocks(L.shape[-1])).items():
            if not factors:
                continue
            T = TensorRep(factors)
            solved = invariant_forms(T.drho(L), None if H is None else T.rho(H), tol=threshold)
            if solved.nullity == 0:
                continue
            G = solved.forms[: solved.nullity]  # (k, d, d), Frobenius-orthonormal, symmetric
            self.register_buffer(f"forms_{self._types}", G.to(dtype))
            self.register_buffer(f"index_{self._types}", idx)
            self.n_invariants += len(idx) * G.shape[0]
            self._types += 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = [x.new_zeros(*x.shape[:-1], 0)]
        for k in range(self._types):
            xs = x[..., getattr(self, f"index_{k}")]  # (..., copies, d)
            q = torch.einsum("...ai,kij,...aj->...ak", xs, getattr(self, f"forms_{k}"), xs)
            out.append(psi(q).flatten(-2))
        return torch.cat(out, dim=-1)


class _Block(nn.Module):
    """[x, ψ(xᵀGx)] → EquivariantLinear → gate."""

    def __init__(self, rep_in, rep_out, group, threshold, quadratic):
        super().__init__()
        self.invariants = QuadraticInvariants(rep_in, group, threshold) if quadratic else None
        k = self.invariants.n_invariants if quadratic else 0
        rep = rep_in + k * Scalar if k else rep_in
        self.linear = EquivariantLinear(rep, gated(rep_out, group.n), group, threshold)
        self.gate = GatedNonlinearity(rep_out, group.n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.invariants is not None and self.invariants.n_invariants:
            x = torch.cat([x, self.invariants(x)], dim=-1)
        return self.gate(self.linear(x))


def default_hidden(channels: int, n: int) -> Rep:
    """About ``channels`` dimensions split evenly over Scalar, V and V**2 (V**2 when it fits)."""
    if not isinstance(channels, int) or channels < 3:
        raise ValueError(f"hidden must be a Rep or an integer >= 3, got {channels!r}")
    rep = max(1, channels // 3) * Scalar + max(1, channels // (3 * n)) * V
    m2 = channels // (3 * n * n)
    return rep + m2 * V**2 if m2 else rep


class EMLP(nn.Module):
    r"""Equivariant MLP: f(ρ_in(g) x) = ρ_out(g) f(x) for every g of the group.

    ``n_layers`` blocks [x, ψ(xᵀGx)] → equivariant linear → gate, then an equivariant linear
    readout. Every weight is a coefficient in the basis of equivariant maps.

    Args:
        rep_in, rep_out: input and output representations.
        generators: (c, n, n) Lie algebra basis, a :class:`~liegnn.Symmetry` (its discrete
            elements included), a discovery result or a known name.
        hidden: the hidden representation (e.g. ``32*V + 16*Scalar``) or an integer: about that
            many dimensions split evenly over Scalar, V and V**2.
        n_layers: number of hidden blocks.
        discrete_generators: (k, n, n) group elements (parity, time reversal) or None.
        threshold: singular-value cut of the equivariant bases (float or "auto").
        quadratic_invariants: feed ψ(xᵀGx) of every block to every layer.

    Shapes: input (..., dim_in), output (..., dim_out).
    """

    def __init__(
        self,
        rep_in: Rep,
        rep_out: Rep,
        generators,
        hidden: Rep | int = 96,
        n_layers: int = 3,
        *,
        discrete_generators=None,
        threshold: float | str = "auto",
        quadratic_invariants: bool = True,
    ):
        super().__init__()
        group = _group(generators, discrete_generators)
        if not isinstance(n_layers, int) or n_layers < 0:
            raise ValueError(f"n_layers must be a non-negative integer, got {n_layers!r}")
        hidden_rep = hidden if isinstance(hidden, Rep) else default_hidden(hidden, group.n)
        self.rep_in, self.rep_out, self.hidden = rep_in, rep_out, hidden_rep
        self.dim_in = rep_in.dim(group)
        self.dim_out = rep_out.dim(group)
        self.register_buffer("generators", group.generators.to(torch.get_default_dtype()))
        reps = [rep_in] + [hidden_rep] * n_layers
        self.blocks = nn.ModuleList(
            _Block(a, b, group, threshold, quadratic_invariants)
            for a, b in zip(reps[:-1], reps[1:], strict=True)
        )
        self.invariants = (
            QuadraticInvariants(reps[-1], group, threshold) if quadratic_invariants else None
        )
        k = self.invariants.n_invariants if quadratic_invariants else 0
        self.readout = EquivariantLinear(reps[-1] + k * Scalar if k else reps[-1], rep_out, group,
                                         threshold)  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.dim_in:
            raise ValueError(
                f"input has last dimension {x.shape[-1]}, but rep_in {self.rep_in!r} has "
                f"dimension {self.dim_in}"
            )
        for block in self.blocks:
            x = block(x)
        if self.invariants is not None and self.invariants.n_invariants:
            x = torch.cat([x, self.invariants(x)], dim=-1)
        return self.readout(x)

    def extra_repr(self) -> str:
        return f"{self.rep_in!r} → {self.rep_out!r}, hidden={self.hidden!r}"
