"""The LieGAN generator: a distribution over a Lie group parameterised by its Lie algebra.

    g = exp(Σ_{i=1..c} w_i L_i),   w ~ γ,   Φ(x, y) = (ρ_X(g) x, ρ_Y(g) y)        (Eq. 1, 6)

The L_i (real or complex n×n, optionally masked) and γ's parameters are learned; fixing the L_i
and learning γ discovers a subgroup (Sec. 4.2).
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import as_generators
from .coefficients import CoefficientDistribution, make_coefficients
from .expm import expm_combination
from .masks import as_mask, blocks

__all__ = ["LieGenerator"]


class LieGenerator(nn.Module):
    r"""c Lie algebra generators L_i ∈ R^{n×n} (or C^{n×n}) and a coefficient distribution γ.

    Args:
        n: size of the representation matrices.
        n_channels: c, the number of generators.
        coefficients: γ, a :class:`~liegnn.discovery.coefficients.CoefficientDistribution` or a
            name ("normal", "uniform", "integer", "gmm") built with ``coefficient_options``.
        mask: search-space mask (n, n) or (c, n, n) of 0/1 (:mod:`~liegnn.discovery.masks`).
        complex: complex generators (e.g. su(2) acting on complex doublets).
        init: "random" (entries N(0, init_scale²)), "zero", or an initial (c, n, n) tensor.
        init_scale: standard deviation of the random initialisation.
        learn_generators: ``False`` keeps the L_i fixed (subgroup discovery: learn γ only).
        expm: matrix-exponential method, see :func:`~liegnn.discovery.expm.expm_combination`.

    Shapes: ``sample(N)`` returns w (N, c) and g (N, n, n); ``generators`` is (c, n, n).
    """

    def __init__(
        self,
        n: int,
        n_channels: int = 1,
        coefficients: CoefficientDistribution | str = "normal",
        *,
        coefficient_options: dict | None = None,
        mask=None,
        complex: bool = False,
        init="random",
        init_scale: float = 0.1,
        learn_generators: bool = True,
        expm: str = "auto",
    ):
        super().__init__()
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        if isinstance(n_channels, bool) or not isinstance(n_channels, int) or n_channels < 1:
            raise ValueError(f"n_channels must be an integer >= 1, got {n_channels!r}")
        self.n, self.n_channels, self.complex = n, n_channels, bool(complex)
        self.coefficients = make_coefficients(
            coefficients, n_channels, **(coefficient_options or {})
        )
        self.expm = expm
        M = torch.ones(n, n) if mask is None else as_mask(mask, n, n_channels)
        self.register_buffer("mask", M)
        self._blocks = blocks(M) if mask is not None else None

        shape = (n_channels, n, n)
        if isinstance(init, str):
            if init == "random":
                re = torch.randn(shape) * init_scale
                im = torch.randn(shape) * init_scale
            elif init == "zero":
                re, im = torch.zeros(shape), torch.zeros(shape)
            else:
                raise ValueError(f"init must be 'random', 'zero' or a tensor, got {init!r}")
        else:
            L0 = as_generators(init, name="init")
            if tuple(L0.shape) != shape:
                raise ValueError(f"init must have shape {shape}, got {tuple(L0.shape)}")
            if L0.is_complex() and not self.complex:
                raise ValueError("init is complex; pass complex=True for a complex algebra")
            re = L0.real.to(torch.get_default_dtype())
            im = (L0.imag if L0.is_complex() else torch.zeros(shape)).to(re.dtype)
        self._set("weight", re, learn_generators)
        if self.complex:
            self._set("weight_imag", im, learn_generators)

    def _set(self, name: str, value: torch.Tensor, learnable: bool) -> None:
        if learnable:
            setattr(self, name, nn.Parameter(value.clone()))
        else:
            self.register_buffer(name, value.clone())

    @property
    def learn_generators(self) -> bool:
        return isinstance(self.weight, nn.Parameter)

    @property
    def generators(self) -> torch.Tensor:
        """The masked Lie algebra basis M ⊙ L, shape (c, n, n)."""
        L = torch.complex(self.weight, self.weight_imag) if self.complex else self.weight
        return L * self.mask.to(self.weight.dtype)

    def group_elements(self, w: torch.Tensor) -> torch.Tensor:
        """g_b = exp(Σ_i w_bi L_i) for w (N, c); returns (N, n, n)."""
        return expm_combination(
            self.generators,
            w,
            blocks=self._blocks,
            distinct=self.coefficients.discrete,
            method=self.expm,
        )

    def sample(self, n_samples: int, *, generator: torch.Generator | None = None):
        """Draw w ~ γ and g = exp(Σ w_i L_i): returns (w (N, c), g (N, n, n))."""
        w = self.coefficients.sample(n_samples, generator=generator)
        return w, self.group_elements(w)

    def forward(self, n_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sample(n_samples, generator=generator)[1]

    def extra_repr(self) -> str:
        return (
            f"n={self.n}, n_channels={self.n_channels}, complex={self.complex}, "
            f"learn_generators={self.learn_generators}, masked={bool((self.mask == 0).any())}"
        )
