r"""Discrete symmetry discovery: group elements found at a finite distance from the identity.

LieGAN grows g = exp(Σ w_i L_i) from the identity, so it finds the identity component of a
group; a finite symmetry (a permutation, a reflection, a rotation by 2π/k) sits behind a barrier
that small steps do not cross (docs/discovery.md). :class:`DiscreteSearch` looks for the elements
themselves:

1. **Whitening.** With M = E[v vᵀ] the second moment of the data's vectors and W = M^{-1/2},
   every linear symmetry h of the distribution keeps M (h M hᵀ = M), so W h W⁻¹ is orthogonal:
   the search starts in the compact group O(n) whatever the data's coordinates.
2. **A two-sample score.** A predictor f̂: z ↦ y is fit on part of the data. A symmetry h keeps
   the joint distribution of (x, y), so on held-out data its error is unchanged:

   .. math:: v(h) = \frac{E\,\ell(\hat f(h z), \rho_Y(h) y)}{E\,\ell(\hat f(z), y)} - 1 \approx 0,

   and the transformed x cannot be told from x (a kernel two-sample test, MMD with a
   permutation p-value). Targets are required: the two-sample test alone is too weak to tell
   symmetries from other maps (see :meth:`DiscreteSearch.fit`).
3. **Many starts.** Haar-random orthogonal matrices and every signed permutation of the data's
   coordinates (n ≤ 6) are scored; the best ``restarts`` are refined by gradient descent on
   g = Q₀ exp(A) in GL(n) (with the sample's W the symmetry is only nearly orthogonal), with the
   training error and an MMD term as the loss.
4. **Survivors** (v below ``tolerance``, not the identity) are clustered,
   refined again, given their order m (g^m ≈ I) and snapped to exact order, g (g^m)^{-1/m}, or to
   an exact signed permutation of the data's coordinates when within ``snap_tol``.
5. **Closure.** The group grows one survivor at a time (as the nearest signed permutation
   first): products and powers until nothing new appears, kept when every new element passes
   both tests; each generator is then polished on all its powers, and the order reported.

The result's :attr:`DiscreteResult.symmetry` is a :class:`~liegnn.Symmetry` whose discrete
part is a generating set of the group (joined to a given identity component, e.g. LieGAN's).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from ..algebra.finite import (
    close_group,
    contains,
    cycle_notation,
    element_distance,
    element_order,
    generating_set,
    signed_permutations,
    snap_order,
    snap_signed_permutation,
)

__all__ = ["DiscreteResult", "DiscreteSearch", "select_discrete"]

log = logging.getLogger("liegnn.discovery")


@dataclass
class DiscreteResult:
    """A discovered finite group of linear symmetries, in the data's coordinates.

    Attributes:
        elements: (|G|, n, n) the group's elements, the identity first.
        generators: (k, n, n) a generating set (empty for the trivial group).
        closed: whether the generators regenerate exactly these elements under products
            (within half of ``cluster_tol``); candidates whose closure exceeds ``max_order``
            elements are rejected while the group grows.
        names: per element, its cycle notation when it snapped to a signed permutation
            (``"(1 2 3)"``), else ``"order m"``.
        snapped: per element, whether it is an exact signed permutation matrix.
        violation: (|G|,) held-out excess error v(h) of each element (about 0 for a symmetry).
        p_value: (|G|,) the smaller p-value of the paired test of the held-out error and the
            two-sample test that h x and x share a distribution.
        unresolved: (u, n, n) survivors of no finite order up to ``max_order`` (members of a
            continuous family: run :class:`~liegnn.discovery.LieGAN` for those).
        continuous: optional (c, n, n) identity component given to the search.
        info: settings, timings and counts (JSON-serialisable).
    """

    elements: torch.Tensor
    generators: torch.Tensor
    closed: bool
    names: list[str]
    snapped: list[bool]
    violation: torch.Tensor
    p_value: torch.Tensor
    unresolved: torch.Tensor
    continuous: torch.Tensor | None = None
    info: dict = field(default_factory=dict)

    @property
    def order(self) -> int:
        """|G|, the number of elements (1 when no symmetry was found)."""
        return len(self.elements)

    @property
    def n(self) -> int:
        return self.elements.shape[-1]

    @property
    def symmetry(self):
        """The group as a :class:`~liegnn.Symmetry`: the given identity component (or none) and
        this group's generators as its discrete part."""
        from ..symmetry import Symmetry

        L = self.continuous
        if L is None:
            L = torch.zeros(0, self.n, self.n, dtype=self.elements.dtype)
        discrete = self.generators if len(self.generators) else None
        if discrete is None and not len(L):
            return Symmetry(torch.zeros(1, self.n, self.n, dtype=self.elements.dtype))
        return Symmetry(L, discrete)

    @property
    def generator_names(self) -> list[str]:
        """Names of :attr:`generators` in the style of :attr:`names`."""
        return [element_name(h, max_order=max(self.order, 1)) for h in self.generators]

    def to_dict(self) -> dict:
        """A JSON-serialisable summary: order, element names, violations, p-values, matrices."""
        return {
            "order": self.order,
            "closed": self.closed,
            "elements": [
                {
                    "name": name,
                    "snapped": snapped,
                    "violation": float(v),
                    "p_value": float(p),
                    "matrix": g.tolist(),
                }
                for name, snapped, v, p, g in zip(
                    self.names,
                    self.snapped,
                    self.violation,
                    self.p_value,
                    self.elements,
                    strict=True,
                )
            ],
            "generators": [
                {"name": name, "matrix": g.tolist()}
                for name, g in zip(self.generator_names, self.generators, strict=True)
            ],
            "unresolved": len(self.unresolved),
            "info": self.info,
        }

    def __repr__(self) -> str:
        names = ", ".join(self.names[1:]) or "trivial"
        return f"DiscreteResult(order={self.order}, closed={self.closed}, elements: {names})"


def element_name(h: torch.Tensor, *, max_order: int = 240) -> str:
    """Cycle notation for a signed permutation matrix (``"(1 2 3)"``), else ``"order m"``."""
    if snap_signed_permutation(h, tol=1e-9) is not None:
        return cycle_notation(h)
    m = element_order(h, tol=0.05, max_order=max_order)
    return f"order {m}" if m else f"order > {max_order}"


def _haar(k: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """k Haar-random orthogonal matrices (both components of O(n))."""
    q, r = torch.linalg.qr(torch.randn(k, n, n, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]


def _polar(a: torch.Tensor) -> torch.Tensor:
    """The orthogonal factor of a's polar decomposition (the nearest orthogonal matrix)."""
    u, _, vh = torch.linalg.svd(a)
    return u @ vh


def _mmd2(a: torch.Tensor, b: torch.Tensor, bandwidth: float) -> torch.Tensor:
    r"""Biased MMD² with a Gaussian kernel between samples a (..., m, d) and b (..., m', d)."""
    gamma = 1.0 / (2 * bandwidth**2)
    k = lambda u, v: torch.exp(-gamma * torch.cdist(u, v).pow(2)).mean((-2, -1))
    return k(a, a) + k(b, b) - 2 * k(a, b)


def _mmd_p_value(
    a: torch.Tensor, b: torch.Tensor, bandwidth: float, permutations: int, generator
) -> float:
    r"""Permutation p-value of the (biased) MMD² between samples a and b (m, d).

    With s = (1/m, …, −1/m, …) the signed group indicator, MMD² = sᵀ K s for the kernel matrix K
    of the pooled sample; the null distribution relabels s at random (one matmul for all).
    """
    z = torch.cat([a, b]).double()
    m = len(a)
    kern = torch.exp(-torch.cdist(z, z).pow(2) / (2 * bandwidth**2))
    s = torch.cat([torch.full((m,), 1.0 / m), torch.full((len(b),), -1.0 / len(b))]).double()
    shuffled = torch.stack(
        [s[torch.randperm(len(s), generator=generator)] for _ in range(permutations)]
    )
    observed = s @ kern @ s
    null = ((shuffled @ kern) * shuffled).sum(-1)
    return float(((null >= observed).sum() + 1) / (permutations + 1))


class _Predictor(nn.Module):
    r"""f̂(z) = MLP([z, sin(zB), cos(zB)]): an MLP on z and random Fourier features.

    B (d, F) ~ N(0, s²/d): frequencies of norm ≈ s. The features let f̂ resolve sharp,
    high-frequency targets (a sawtooth in an angle) that a plain MLP's spectral bias smooths
    away; their law is rotation invariant, so no frame of the whitened data is preferred.
    """

    def __init__(
        self, d_in: int, d_out: int, hidden: int, layers: int, features: int, scale: float
    ):
        super().__init__()
        self.register_buffer("freq", torch.randn(d_in, features) * scale / math.sqrt(d_in))
        sizes = [d_in + 2 * features] + [hidden] * layers
        mods: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            mods += [nn.Linear(a, b), nn.SiLU()]
        mods.append(nn.Linear(sizes[-1], d_out))
        self.net = nn.Sequential(*mods)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        phase = z @ self.freq
        return self.net(torch.cat([z, phase.sin(), phase.cos()], -1))


class DiscreteSearch:
    r"""Search for the finite group of linear symmetries of data x (and targets y).

    ``DiscreteSearch().fit(x, y)`` returns a :class:`DiscreteResult`: the elements h with
    (h·x, ρ_Y(h)·y) distributed as (x, y), closed into a group and snapped to exact signed
    permutations or exact orders. The steps are in the module docstring.

    Args:
        restarts (int): candidate elements refined by gradient descent. (default: ``64``)
        random_starts (int): Haar-random orthogonal starts scored before the refinement (the
            signed permutations of the coordinates are added for n ≤ 6). (default: ``1024``)
        steps (int): refinement steps of the candidates. (default: ``100``)
        lr (float): Adam learning rate on the parameter A of g = Q₀ exp(A).
            (default: ``0.03``)
        batch_size (int): samples per candidate and refinement step. (default: ``128``)
        tolerance (float): largest held-out excess error v(h) of a candidate after the first
            refinement (a loose cut; the tests decide). (default: ``0.5``)
        alpha (float): the tests' level: an element is kept when neither the paired test of
            its held-out error nor the two-sample test of h x against x rejects at this
            level. (default: ``1e-3``)
        mmd_weight (float): weight of the MMD term in the refinement loss. (default: ``1.0``)
        hidden (int): width of the predictors f̂ (3 hidden layers; on z, and on z with 128
            Fourier features). (default: ``128``)
        predictor_epochs (int): f̂'s epochs. (default: ``60``)
        holdout (float): fraction of the samples held out for the tests. (default: ``0.25``)
        cluster_tol (float): RMS entry distance (whitened) under which two survivors are one
            element. (default: ``0.1``)
        order_tol (float): ‖g^m − I‖ (RMS entry, whitened) accepted for g to have order m.
            (default: ``0.1``)
        snap_tol (float): largest entry error at which a found element is replaced by the
            nearest signed permutation; the permutation must then pass the tests itself.
            (default: ``0.25``)
        max_order (int): the largest group (and element order) searched. (default: ``240``)
        seed (int): seeds the split, the starts and the predictor. (default: ``0``)
        progress (bool): log each stage at INFO level. (default: ``False``)
    """

    def __init__(
        self,
        *,
        restarts: int = 64,
        random_starts: int = 1024,
        steps: int = 100,
        lr: float = 0.03,
        batch_size: int = 128,
        tolerance: float = 0.5,
        alpha: float = 1e-3,
        mmd_weight: float = 1.0,
        hidden: int = 128,
        predictor_epochs: int = 60,
        holdout: float = 0.25,
        cluster_tol: float = 0.1,
        order_tol: float = 0.1,
        snap_tol: float = 0.25,
        max_order: int = 240,
        seed: int = 0,
        progress: bool = False,
    ):
        if not 0 < holdout < 1:
            raise ValueError(f"holdout must be in (0, 1), got {holdout}")
        for name, value in (("restarts", restarts), ("steps", steps), ("max_order", max_order)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.settings = dict(
            restarts=restarts,
            random_starts=random_starts,
            steps=steps,
            lr=lr,
            batch_size=batch_size,
            tolerance=tolerance,
            alpha=alpha,
            mmd_weight=mmd_weight,
            hidden=hidden,
            predictor_epochs=predictor_epochs,
            holdout=holdout,
            cluster_tol=cluster_tol,
            order_tol=order_tol,
            snap_tol=snap_tol,
            max_order=max_order,
            seed=seed,
        )
        self.progress = progress
        for key, value in self.settings.items():
            setattr(self, key, value)

    # ------------------------------------------------------------------ data and predictor
    def _prepare(self, x, y, rep_y):
        x = torch.as_tensor(x)
        if x.is_complex() or not x.is_floating_point():
            raise ValueError("x must be a real floating-point tensor (N, ..., n)")
        if x.ndim < 2 or len(x) < 20:
            raise ValueError(f"x must have shape (N, ..., n) with N ≥ 20, got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("x contains NaN or Inf")
        x = x.detach().to(torch.float64).cpu()
        n = x.shape[-1]
        vectors = x.reshape(-1, n)
        moment = vectors.T @ vectors / len(vectors)
        evals, evecs = torch.linalg.eigh(moment)
        if evals.min() <= 1e-10 * evals.max():
            raise ValueError(
                "the data's vectors do not span R^n (a singular second moment): drop the "
                "constant directions first"
            )
        self._w = evecs @ torch.diag(evals.rsqrt()) @ evecs.T
        self._w_inv = evecs @ torch.diag(evals.sqrt()) @ evecs.T
        z = x @ self._w.T
        self._kind = None
        if y is not None:
            y = torch.as_tensor(y).detach().cpu()
            if len(y) != len(x):
                raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
            if y.is_complex():
                raise ValueError("y must be real")
            if not y.is_floating_point():
                if rep_y != "invariant":
                    raise ValueError("class labels y can only be invariant (rep_y='invariant')")
                self._kind = "class"
                y = y.reshape(len(y)).long()
                _, y = torch.unique(y, return_inverse=True)
            else:
                if not torch.isfinite(y).all():
                    raise ValueError("y contains NaN or Inf")
                y = y.to(torch.float64)
                if rep_y == "standard":
                    if y.shape[-1] != n:
                        raise ValueError(
                            f"rep_y='standard' needs y (N, ..., {n}), got {tuple(y.shape)}"
                        )
                    self._kind = "vector"
                    y = y @ self._w.T
                elif rep_y == "invariant":
                    self._kind = "scalar"
                    flat = y.reshape(len(y), -1)
                    y = ((flat - flat.mean(0)) / flat.std(0).clamp_min(1e-12)).reshape(y.shape)
                else:
                    raise ValueError(f"rep_y must be 'invariant' or 'standard', got {rep_y!r}")
        return z, y

    def _act(self, g: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """g (R, n, n) on z (B, ..., n) → (R, B, ...·n) flattened samples."""
        out = torch.einsum("rij,b...j->rb...i", g.to(z.dtype), z)
        return out.reshape(g.shape[0], z.shape[0], -1)

    def _loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-sample loss (..., B)."""
        if self._kind == "class":
            logits = pred.reshape(-1, pred.shape[-1])
            t = target.expand(*pred.shape[:-1]).reshape(-1)
            return nn.functional.cross_entropy(logits, t, reduction="none").reshape(pred.shape[:-1])
        return (pred - target).pow(2).mean(-1)

    def _fit_predictor(self, z, y, generator) -> None:
        """f̂: an MLP on z and one on z with Fourier features, each on the training split with a
        one-cycle learning rate, keeping its epoch of lowest error on the stopping split; the
        better of the two on that split is used (the held-out split stays untouched for the
        tests)."""
        zt, yt = z[self._train].reshape(len(self._train), -1), self._flat_y(y[self._train])
        zs, ys = z[self._stop].reshape(len(self._stop), -1), self._flat_y(y[self._stop])
        d_out = int(yt.max()) + 1 if self._kind == "class" else yt.shape[-1]
        fits = {}
        for name, features in (("mlp", 0), ("fourier", 128)):
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
            f = _Predictor(zt.shape[-1], d_out, self.hidden, 3, features, 2.6)
            fits[name] = self._train_predictor(f, zt, yt, zs, ys, generator)
        self._predictor = min(fits, key=lambda k: fits[k][1])
        self._f, self._floor = fits[self._predictor]
        self._errors = {k: v[1] for k, v in fits.items()}
        for p in self._f.parameters():
            p.requires_grad_(False)

    def _train_predictor(self, f, zt, yt, zs, ys, generator):
        batch = 256
        steps = self.predictor_epochs * math.ceil(len(zt) / batch)
        opt = torch.optim.AdamW(f.parameters(), lr=3e-3, weight_decay=1e-5)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
        best, best_state = math.inf, None
        for _ in range(self.predictor_epochs):
            f.train()
            order = torch.randperm(len(zt), generator=generator)
            for start in range(0, len(zt), batch):
                idx = order[start : start + batch]
                loss = self._loss(f(zt[idx]), yt[idx]).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
            f.eval()
            with torch.no_grad():
                error = float(self._loss(f(zs), ys).mean())
            if error < best:
                best = error
                best_state = {k: v.clone() for k, v in f.state_dict().items()}
        f.load_state_dict(best_state)
        return f, best

    def _flat_y(self, y: torch.Tensor) -> torch.Tensor:
        return y if self._kind == "class" else y.reshape(len(y), -1)

    def _targets(self, g: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """ρ_Y(g) y, flattened: (R, B, d) or (B,) labels."""
        if self._kind == "vector":
            return self._act(g, y)
        if self._kind == "class":
            return y
        return y.reshape(len(y), -1)[None]

    def _task_error(self, g, z, y) -> torch.Tensor:
        """Mean loss of f̂ on (g z, ρ_Y(g) y) per candidate (R,)."""
        return self._loss(self._f(self._act(g, z)), self._targets(g, y)).mean(-1)

    # ------------------------------------------------------------------ the search
    def _score(self, g, z, y, ref, bandwidth) -> torch.Tensor:
        """Refinement loss per candidate (R,): task error ratio + MMD term."""
        out = self.mmd_weight * _mmd2(self._act(g, z), ref.reshape(len(ref), -1), bandwidth) / 0.01
        return out + self._task_error(g, z, y) / self._floor

    def _refine(
        self, q0, z, y, steps, lr, batch_size, bandwidth, generator, powers=1, orthogonal=True
    ) -> torch.Tensor:
        """Gradient descent from q0 (R, n, n) on g = q0 exp(A − Aᵀ) (or g = q0 exp(A) when not
        ``orthogonal``), the loss of :meth:`_score` averaged over the powers g, …, g^powers.

        Every candidate keeps the best of its snapshots (the start, every ``steps // 5`` steps,
        the end) on a fixed batch of the stopping split: Adam's steps near a sharp minimum jitter
        by about the learning rate, and must not leave an exact start (−I, a permutation) worse
        than it began.
        """
        a = torch.zeros_like(q0, requires_grad=True)
        skew = (lambda a: a - a.transpose(-1, -2)) if orthogonal else (lambda a: a)
        opt = torch.optim.Adam([a], lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 100)
        train, check = self._train, self._stop[:1024]
        check_ref = train[torch.randperm(len(train), generator=generator)[:256]]

        def powers_of(g):
            chain = [g]
            for _ in range(powers - 1):
                chain.append(chain[-1] @ g)
            return torch.cat(chain)

        def loss_of(g, idx, ref):
            zi = z[idx]
            loss = self._score(powers_of(g), zi, y[idx], z[ref], bandwidth)
            return loss.reshape(powers, -1).mean(0)

        best = q0.clone()
        with torch.no_grad():
            best_loss = loss_of(q0, check, check_ref)
        every = max(1, steps // 5)
        for step in range(1, steps + 1):
            idx = train[torch.randint(len(train), (batch_size,), generator=generator)]
            ref = train[torch.randint(len(train), (min(batch_size, 256),), generator=generator)]
            loss = loss_of(q0 @ torch.linalg.matrix_exp(skew(a)), idx, ref)
            opt.zero_grad()
            loss.sum().backward()
            opt.step()
            sched.step()
            if step % every == 0 or step == steps:
                with torch.no_grad():
                    g = q0 @ torch.linalg.matrix_exp(skew(a))
                    current = loss_of(g, check, check_ref)
                    better = current < best_loss
                    best[better], best_loss[better] = g[better], current[better]
        return best

    def _violation(self, g: torch.Tensor, z, y) -> tuple[torch.Tensor, torch.Tensor]:
        """Held-out excess error v(g) (R,) and the one-sided p-value of a paired test that the
        error is no larger than without g.

        The held-out samples took no part in fitting f̂ (not even its early stopping), so for a
        symmetry E ℓ(f̂(g z), ρ_Y(g) y) = E ℓ(f̂(z), y) exactly: d_i = ℓ_i(g) − ℓ_i(I) has mean 0.
        """
        zv, yv = z[self._val], y[self._val]
        with torch.no_grad():
            e0 = self._loss(self._f(zv.reshape(len(zv), -1)), self._flat_y(yv)).double()
            e1 = torch.cat(
                [
                    self._loss(
                        self._f(self._act(g[i : i + 16], zv)), self._targets(g[i : i + 16], yv)
                    )
                    for i in range(0, len(g), 16)
                ]
            ).double()
        d = e1 - e0
        t = d.mean(-1) / (d.std(-1) / math.sqrt(d.shape[-1])).clamp_min(1e-300)
        p = 0.5 * torch.erfc(t / math.sqrt(2))
        return e1.mean(-1) / e0.mean() - 1, p

    def _p_values(self, g: torch.Tensor, z, bandwidth, generator) -> torch.Tensor:
        val = self._val[torch.randperm(len(self._val), generator=generator)]
        m = min(len(val) // 2, 300)
        a, b = z[val[:m]], z[val[m : 2 * m]]
        return torch.tensor(
            [
                _mmd_p_value(self._act(h[None], a)[0], b.reshape(m, -1), bandwidth, 2000, generator)
                for h in g
            ],
            dtype=torch.float64,
        )

    def fit(self, x, y, *, rep_y: str = "invariant", symmetry=None) -> DiscreteResult:
        """Find the finite group of linear symmetries of x (N, ..., n) and targets y.

        Args:
            x: samples (N, n), trajectories (N, T, n) or point sets (N, P, n); h acts on the
                last axis of each.
            y: targets: real (N, ...) regression targets, or integer class labels (N,).
                Required (a ValueError without them): the two-sample test on x alone has too
                little power yet.
            rep_y: ``"invariant"`` (y unchanged by h) or ``"standard"`` (y (N, ..., n) moves
                with x, y ↦ h y).
            symmetry: an optional identity component (a :class:`~liegnn.Symmetry`, discovery
                result or generators (c, n, n)) carried into :attr:`DiscreteResult.symmetry`.
        """
        if y is None:
            # measured: on a parity-symmetric mixture without targets, the MMD test passed 64 of
            # 64 refined candidates (p 0.16-0.31) and the "group" grew to 66 wrong elements
            raise ValueError(
                "DiscreteSearch needs targets y: without them only the MMD two-sample test "
                "decides, and it cannot yet tell a symmetry of the density from other maps"
            )
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(self.seed)
        z, y = self._prepare(x, y, rep_y)
        z = z.float()  # the predictor and the search run in float32; W and the snapping in float64
        if y is not None and y.is_floating_point():
            y = y.float()
        n, N = z.shape[-1], len(z)
        perm = torch.randperm(N, generator=gen)
        n_val = max(10, int(round(self.holdout * N)))
        n_stop = max(10, int(round(0.1 * N)))
        self._val, self._stop = perm[:n_val], perm[n_val : n_val + n_stop]
        self._train = perm[n_val + n_stop :]
        flat = z.reshape(N, -1)
        sub = flat[torch.randperm(N, generator=gen)[:1000]]
        bandwidth = float(torch.cdist(sub, sub).median())
        self._fit_predictor(z, y, gen)
        t_fit = time.perf_counter()

        accepted, unresolved, survivors, clusters = self._candidates(z, y, bandwidth, gen)
        t_search = time.perf_counter()
        candidates = [self._to_data(g) for g in accepted]
        elements, kept, tested = self._grow_group(candidates, z, y, bandwidth, gen)
        if kept:  # polish a generating set (one order-8 element, not it and its square)
            tol = self.cluster_tol / 2
            basis = generating_set(elements, tol=tol, max_order=self.max_order)
            elements = self._polish(elements, list(basis), z, y, bandwidth, gen)
        group_tol = self.cluster_tol / 2
        generators = generating_set(elements, tol=group_tol, max_order=self.max_order)
        regenerated, closed = close_group(generators, tol=group_tol, max_order=self.max_order)
        closed = closed and len(regenerated) == len(elements)  # products stay in the group
        gz = self._whiten(elements)
        violation, p_task = self._violation(gz, z, y)
        p_value = torch.minimum(p_task, self._p_values(gz, z, bandwidth, gen))
        snapped = [snap_signed_permutation(h, tol=1e-9) is not None for h in elements]
        names = [element_name(h, max_order=self.max_order) for h in elements]
        continuous = None
        if symmetry is not None:
            from ..symmetry import as_symmetry

            continuous = as_symmetry(symmetry).generators.detach().cpu().to(torch.float64)
        info = dict(
            self.settings,
            rep_y=rep_y,
            n_samples=N,
            survivors=survivors,
            clusters=clusters,
            candidates=tested,
            predictor=self._predictor,
            predictor_errors=self._errors,
            time_predictor=t_fit - t0,
            time_search=t_search - t_fit,
            time_total=time.perf_counter() - t0,
        )
        return DiscreteResult(
            elements=elements,
            generators=generators,
            closed=closed,
            names=names,
            snapped=snapped,
            violation=violation,
            p_value=p_value,
            unresolved=torch.stack([self._to_data(g) for g in unresolved])
            if unresolved
            else torch.zeros(0, n, n, dtype=torch.float64),
            continuous=continuous,
            info=info,
        )

    def _candidates(self, z, y, bandwidth, gen):
        """Steps 3–4: score the starts, refine the best, keep and cluster the survivors, refine
        their representatives and snap them to exact order. Returns (accepted elements,
        unresolved ones, survivors, clusters), whitened."""
        n = z.shape[-1]
        # starts: Haar-random orthogonal matrices and the signed permutations (whitened)
        starts = [_haar(self.random_starts, n, gen)]
        if n <= 6:
            p = signed_permutations(n)
            starts.append(_polar(self._w @ p @ self._w_inv))
        pool = torch.cat(starts).float()
        idx = self._train[torch.randperm(len(self._train), generator=gen)[: self.batch_size]]
        ref = self._train[torch.randperm(len(self._train), generator=gen)[: self.batch_size]]
        with torch.no_grad():
            scores = torch.cat(
                [
                    self._score(
                        pool[i : i + 256],
                        z[idx],
                        y[idx],
                        z[ref],
                        bandwidth,
                    )
                    for i in range(0, len(pool), 256)
                ]
            )
        eye = torch.eye(n, dtype=torch.float64)
        far = element_distance(pool, eye) > self.cluster_tol
        scores[~far] = math.inf
        best = pool[scores.argsort()[: self.restarts]]
        # in GL(n): with the sample's W the symmetry is only nearly orthogonal, and with a sharp
        # f̂ that small gap costs more than a wrong element nearby does
        refined = self._refine(
            best.float(),
            z,
            y,
            self.steps,
            self.lr,
            self.batch_size,
            bandwidth,
            gen,
            orthogonal=False,
        ).double()

        # survivors → clusters → refined representatives
        v, _ = self._violation(refined, z, y)
        keep = element_distance(refined, eye) > self.cluster_tol
        keep &= v < self.tolerance
        order = torch.argsort(v)
        reps: list[torch.Tensor] = []
        for i in order.tolist():
            if keep[i] and not (reps and contains(torch.stack(reps), refined[i], self.cluster_tol)):
                reps.append(refined[i])
        if self.progress:
            log.info(
                "discrete search: %d of %d candidates survive, %d clusters",
                int(keep.sum()),
                len(refined),
                len(reps),
            )
        accepted, unresolved = [], []
        if reps:
            reps_t = self._refine(
                torch.stack(reps).float(),
                z,
                y,
                2 * self.steps,
                self.lr / 3,
                4 * self.batch_size,
                bandwidth,
                gen,
                orthogonal=False,  # W is the sample's: the symmetry is orthogonal only near it
            )
            for g in reps_t.double():
                m = element_order(g, tol=self.order_tol, max_order=self.max_order)
                if m is None:
                    unresolved.append(g)
                    continue
                if m == 1:
                    continue
                accepted.append(snap_order(g, m))
        return accepted, unresolved, int(keep.sum()), len(reps)

    def _whiten(self, h: torch.Tensor) -> torch.Tensor:
        """The data's h (..., n, n) → whitened, W h W⁻¹."""
        return self._w @ h @ self._w_inv

    def _test(self, h: torch.Tensor, z, y, bandwidth, gen) -> tuple[torch.Tensor, torch.Tensor]:
        """(violation, p-value) of elements h (k, n, n) in the data's coordinates; the p-value
        is the smaller of the paired test's and the two-sample test's."""
        hz = self._whiten(h)
        v, p_task = self._violation(hz, z, y)
        return v, torch.minimum(p_task, self._p_values(hz, z, bandwidth, gen))

    def _grow_group(self, candidates, z, y, bandwidth, gen):
        """The group the candidates generate, grown one candidate at a time (best first).

        Each candidate is tried as the signed permutation nearest to it (within ``snap_tol``)
        first, then as found. A candidate joins when every element it adds passes both tests;
        one whose products or powers fail, or that generates more than ``max_order`` elements,
        is rejected. Returns (elements (|G|, n, n), kept generators, a record per candidate).
        """
        n = self._w.shape[0]
        tol = self.cluster_tol / 2
        group = torch.eye(n, dtype=torch.float64)[None]
        kept: list[torch.Tensor] = []
        tested: list[dict] = []
        if not candidates:
            return group, kept, tested
        v, p = self._test(torch.stack(candidates), z, y, bandwidth, gen)
        score = v  # the most symmetric first
        for i in score.argsort().tolist():
            found = candidates[i]
            row = dict(violation=float(v[i]), p_value=float(p[i]))
            tested.append(row)
            snapped = snap_signed_permutation(found, tol=self.snap_tol)
            options = [("snapped", snapped)] if snapped is not None else []
            options.append(("as found", found))
            for how, h in options:
                row["order"] = element_order(h, tol=1e-6, max_order=self.max_order)
                if contains(group, h, tol):
                    row["kept"] = "in the group already"
                    break
                # a kept generator that is a power of h (the square of an order-8 h) gives way
                # to h: one exact cyclic generator instead of two nearly consistent ones
                powers, _ = close_group(h[None], tol=tol, max_order=self.max_order)
                others = [k for k in kept if not contains(powers, k, tol)]
                trial, closed = close_group(
                    torch.stack(others + [h]), tol=tol, max_order=self.max_order
                )
                if not closed:
                    row["kept"] = f"rejected: generates more than {self.max_order} elements"
                    continue
                new = torch.stack([g for g in trial if not contains(group, g, tol)])
                _, p_new = self._test(new, z, y, bandwidth, gen)
                if float(p_new.min()) < self.alpha:
                    failed = int((p_new < self.alpha).sum())
                    row["kept"] = f"rejected: {failed} of the {len(new)} elements it adds fail"
                    continue
                row["kept"] = f"kept ({how})"
                kept = others + [h]
                group = trial
                break
        return group, kept, tested

    def _polish(self, elements, generators, z, y, bandwidth, gen) -> torch.Tensor:
        """Refine each generator h of order m that is not an exact signed permutation on the
        loss averaged over all its powers h, …, h^{m−1} (every element of ⟨h⟩ tests h), snap it
        to order m again, and close the polished generators; the polished group replaces the
        old one when it has the same order and fits the stopping split at least as well."""
        tol = self.cluster_tol / 2
        polished = []
        for h in generators:
            m = element_order(h, tol=1e-4, max_order=self.max_order)
            if snap_signed_permutation(h, tol=1e-9) is not None or m is None or m < 3:
                polished.append(h)
                continue
            g = self._refine(
                self._whiten(h)[None].float(),
                z,
                y,
                2 * self.steps,
                self.lr / 3,
                4 * self.batch_size,
                bandwidth,
                gen,
                powers=m - 1,
                orthogonal=False,  # W is the sample's: the symmetry is orthogonal only near it
            )
            polished.append(self._to_data(snap_order(g.double()[0], m)))
        group, closed = close_group(torch.stack(polished), tol=tol, max_order=self.max_order)
        if (
            closed
            and len(group) == len(elements)
            and self._fit_of(group, z, y) <= self._fit_of(elements, z, y)
        ):
            return group
        return elements

    def _fit_of(self, elements, z, y) -> float:
        """Mean task error of f̂ over the group's elements on the stopping split (the data
        the polish did not train on)."""
        check = self._stop[:2048]
        g = self._whiten(elements).float()
        with torch.no_grad():
            return float(self._task_error(g, z[check], y[check]).mean())

    def _to_data(self, g: torch.Tensor) -> torch.Tensor:
        """Whitened orthogonal g → the data's coordinates, W⁻¹ g W."""
        return self._w_inv @ g @ self._w


def select_discrete(results: list[DiscreteResult]) -> DiscreteResult:
    """The run most runs agree with, without a ground truth.

    Runs are grouped by their group (same order, every element of one within 0.05 of an
    element of the other); the largest agreeing set wins, ties going to the larger group, then
    to the smaller largest violation.
    """
    if not results:
        raise ValueError("select_discrete needs at least one result")

    def same(a: DiscreteResult, b: DiscreteResult) -> bool:
        return a.order == b.order and all(contains(b.elements, g, 0.05) for g in a.elements)

    def worst(r: DiscreteResult) -> float:
        v = r.violation[~torch.isnan(r.violation)]
        return float(v.max()) if len(v) else 0.0

    votes = [sum(same(r, s) for s in results) for r in results]
    best = min(range(len(results)), key=lambda i: (-votes[i], -results[i].order, worst(results[i])))
    return results[best]
