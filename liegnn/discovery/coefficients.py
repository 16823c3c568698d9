"""Coefficient distributions γ of the Lie-algebra parameterisation g = exp(Σ_i w_i L_i), w ~ γ.

Every distribution is an ``nn.Module`` with ``sample(n_samples, generator=None) -> (N, c)``.
Learnable ones draw through the reparameterisation trick, so gradients of a loss on the samples
reach their parameters (Sec. 4.2 of the paper: learning γ with fixed L_i discovers a subgroup).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "CoefficientDistribution",
    "GaussianMixture",
    "IntegerGrid",
    "Normal",
    "Uniform",
    "make_coefficients",
]


def _check_channels(n_channels: int) -> int:
    if isinstance(n_channels, bool) or not isinstance(n_channels, int) or n_channels < 1:
        raise ValueError(f"n_channels must be an integer >= 1, got {n_channels!r}")
    return n_channels


def _positive(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


def _per_channel(value, n_channels: int, name: str) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.get_default_dtype())
    if t.ndim == 0:
        t = t.expand(n_channels)
    if t.shape != (n_channels,):
        raise ValueError(
            f"{name} must be a scalar or have shape ({n_channels},), got {tuple(t.shape)}"
        )
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or Inf values")
    return t.clone()


class CoefficientDistribution(nn.Module):
    """Base class: a distribution of coefficient vectors w ∈ R^c.

    Attributes:
        n_channels: c, the number of generators the coefficients multiply.
        discrete: True when the support is a finite set (the generator then exponentiates only
            the distinct coefficient vectors of a batch).
    """

    discrete: bool = False

    def __init__(self, n_channels: int = 1):
        super().__init__()
        self.n_channels = _check_channels(n_channels)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    @property
    def learnable(self) -> bool:
        return any(p.requires_grad for p in self.parameters())

    def sample(self, n_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw w of shape (n_samples, c)."""
        raise NotImplementedError

    def set_epoch(self, epoch: int) -> None:
        """Called by the trainers at the start of every epoch (for curricula); no-op here."""

    def forward(self, n_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sample(n_samples, generator=generator)

    def _noise(self, shape, generator, kind: str = "normal") -> torch.Tensor:
        dtype = self._anchor.dtype
        if kind == "normal":
            return torch.randn(shape, generator=generator, device=self.device, dtype=dtype)
        return torch.rand(shape, generator=generator, device=self.device, dtype=dtype)


class Normal(CoefficientDistribution):
    """w ~ N(μ, σ²) per channel, independent; w = μ + σ ε, ε ~ N(0, 1) (reparameterised).

    Args:
        n_channels: c.
        sigma: σ > 0, scalar or (c,) (default 1, the paper's setting).
        mu: μ, scalar or (c,) (default 0: symmetric, g and g⁻¹ equally likely).
        learnable: learn μ and log σ by gradient descent (default fixed).
    """

    def __init__(self, n_channels: int = 1, sigma=1.0, mu=0.0, learnable: bool = False):
        super().__init__(n_channels)
        sigma = _per_channel(sigma, n_channels, "sigma")
        if (sigma <= 0).any():
            raise ValueError("sigma must be positive")
        mu = _per_channel(mu, n_channels, "mu")
        if learnable:
            self.mu = nn.Parameter(mu)
            self.log_sigma = nn.Parameter(sigma.log())
        else:
            self.register_buffer("mu", mu)
            self.register_buffer("log_sigma", sigma.log())

    @property
    def sigma(self) -> torch.Tensor:
        return self.log_sigma.exp()

    def sample(self, n_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = self._noise((int(n_samples), self.n_channels), generator)
        return self.mu + self.sigma * eps

    def extra_repr(self) -> str:
        return f"n_channels={self.n_channels}, learnable={self.learnable}"


class Uniform(CoefficientDistribution):
    """w ~ U[−u, u] per channel; w = u (2ε − 1), ε ~ U[0, 1] (reparameterised).

    Args:
        n_channels: c.
        u: half-width u > 0, scalar or (c,).
        learnable: learn the widths (as log u), Augerino's parameterisation.
    """

    def __init__(self, n_channels: int = 1, u=1.0, learnable: bool = False):
        super().__init__(n_channels)
        u = _per_channel(u, n_channels, "u")
        if (u <= 0).any():
            raise ValueError("u must be positive")
        if learnable:
            self.log_u = nn.Parameter(u.log())
        else:
            self.register_buffer("log_u", u.log())

    @property
    def u(self) -> torch.Tensor:
        return self.log_u.exp()

    def sample(self, n_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = self._noise((int(n_samples), self.n_channels), generator, kind="uniform")
        return self.u * (2 * eps - 1)

    def extra_repr(self) -> str:
        return f"n_channels={self.n_channels}, learnable={self.learnable}"


class IntegerGrid(CoefficientDistribution):
    """w uniform on the integer grid {−u, …, u}^c (both ends included, so symmetric).

    For discrete subgroups (Sec. 6.3): exp(w L) with integer w enumerates the powers of exp(L),
    so the scale of L is identified (exp(L) is the rotation by 2π/k for C_k).

    Curriculum: with ``u_start``, the bound starts at ``u_start`` and grows by one every
    ``grow_every`` epochs up to ``u``. A small bound has no spurious optima (with u = 1 only
    exact generators of the subgroup fool the discriminator; with u = 3 a rotation by 2π/21
    already does for a third of the samples), a large one pins the scale of L precisely.
    """

    discrete = True

    def __init__(
        self, n_channels: int = 1, u: int = 1, u_start: int | None = None, grow_every: int = 1
    ):
        super().__init__(n_channels)
        for name, v in (
            ("u", u),
            ("u_start", 1 if u_start is None else u_start),
            ("grow_every", grow_every),
        ):
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        self.u = int(u)
        self.u_start = None if u_start is None else min(int(u_start), self.u)
        self.grow_every = int(grow_every)
        self.current_u = self.u if u_start is None else self.u_start

    def set_epoch(self, epoch: int) -> None:
        if self.u_start is not None:
            self.current_u = min(self.u, self.u_start + epoch // self.grow_every)

    def sample(self, n_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        k = torch.randint(
            -self.current_u,
            self.current_u + 1,
            (int(n_samples), self.n_channels),
            generator=generator,
            device=self.device,
        )
        return k.to(self._anchor.dtype)

    def extra_repr(self) -> str:
        grow = (
            ""
            if self.u_start is None
            else f", u_start={self.u_start}, grow_every={self.grow_every}"
        )
        return f"n_channels={self.n_channels}, u={self.u}{grow}"


class GaussianMixture(CoefficientDistribution):
    """A learnable mixture Σ_k π_k N(μ_k, σ_k²) per channel, for multimodal (discrete) symmetry.

    The component is chosen with a straight-through Gumbel-softmax: the forward pass draws an
    exact mixture sample, and the gradient reaches the mixing logits through the relaxed
    one-hot (temperature ``tau``); μ_k and σ_k get reparameterised gradients.

    Args:
        n_channels: c.
        n_components: K.
        means: initial means, (K,) or (c, K); default evenly spaced on [−spread, spread].
        sigma: initial σ_k (scalar).
        spread: range of the default means.
        learnable: learn means, log σ and logits (default True).
        tau: Gumbel-softmax temperature.
    """

    def __init__(
        self,
        n_channels: int = 1,
        n_components: int = 5,
        means=None,
        sigma: float = 0.1,
        spread: float = 3.0,
        learnable: bool = True,
        tau: float = 0.5,
    ):
        super().__init__(n_channels)
        if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
            raise ValueError(f"n_components must be an integer >= 1, got {n_components!r}")
        sigma = _positive(sigma, "sigma")
        self.tau = _positive(tau, "tau")
        if means is None:
            m = (
                torch.linspace(-spread, spread, n_components)
                if n_components > 1
                else torch.zeros(1)
            )
            m = m.expand(n_channels, n_components)
        else:
            m = torch.as_tensor(means, dtype=torch.get_default_dtype())
            if m.ndim == 1:
                m = m.expand(n_channels, m.shape[0])
            if m.shape != (n_channels, n_components):
                raise ValueError(
                    f"means must have shape ({n_components},) or ({n_channels}, {n_components}), "
                    f"got {tuple(torch.as_tensor(means).shape)}"
                )
            if not torch.isfinite(m).all():
                raise ValueError("means contains NaN or Inf values")
        params = {
            "means": m.clone(),
            "log_sigma": torch.full((n_channels, n_components), math.log(sigma)),
            "logits": torch.zeros(n_channels, n_components),
        }
        for name, value in params.items():
            if learnable:
                setattr(self, name, nn.Parameter(value))
            else:
                self.register_buffer(name, value)
        self.n_components = n_components

    @property
    def weights(self) -> torch.Tensor:
        """Mixing weights π, shape (c, K)."""
        return self.logits.softmax(-1)

    @property
    def sigma(self) -> torch.Tensor:
        return self.log_sigma.exp()

    def sample(self, n_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        N, c, K = int(n_samples), self.n_channels, self.n_components
        u = self._noise((N, c, K), generator, kind="uniform")
        gumbel = -torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-7)))
        soft = F.softmax((self.logits + gumbel) / self.tau, dim=-1)
        hard = F.one_hot(soft.argmax(-1), K).to(soft.dtype)
        onehot = hard + soft - soft.detach()
        eps = self._noise((N, c, 1), generator)
        return (onehot * (self.means + self.sigma * eps)).sum(-1)

    def extra_repr(self) -> str:
        return (
            f"n_channels={self.n_channels}, n_components={self.n_components}, "
            f"learnable={self.learnable}"
        )


_NAMES = {
    "normal": Normal,
    "uniform": Uniform,
    "integer": IntegerGrid,
    "integer_grid": IntegerGrid,
    "gmm": GaussianMixture,
    "mixture": GaussianMixture,
}


def make_coefficients(spec, n_channels: int, **options) -> CoefficientDistribution:
    """Build γ from a name ("normal", "uniform", "integer", "gmm") and options, or pass one through.

    An instance must have ``n_channels`` equal to the generator's channel count.
    """
    if isinstance(spec, CoefficientDistribution):
        if options:
            raise ValueError("coefficient options are given, but coefficients is already built")
        if spec.n_channels != n_channels:
            raise ValueError(
                f"the coefficient distribution has {spec.n_channels} channels but the generator "
                f"has {n_channels}"
            )
        return spec
    if not isinstance(spec, str) or spec.lower() not in _NAMES:
        raise ValueError(
            f"coefficients must be one of {sorted(_NAMES)} or a CoefficientDistribution, "
            f"got {spec!r}"
        )
    return _NAMES[spec.lower()](n_channels, **options)
