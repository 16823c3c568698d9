"""Baselines of the paper's comparisons (Sec. 6.1), with LieGAN's data interface.

- :class:`AugerinoPlus` — Augerino (Benton et al., 2020) with the Lie-algebra parameterisation
  over the whole gl(n) search space: a predictor f trained on augmented data,

      min_{f, L}  E_{w ~ γ} ℓ(f(ρ_X(g) x), ρ_Y(g) y) + λ R(L),   g = exp(Σ_i w_i L_i),

  where R widens the distribution: R = |mean cos(x, ρ_X(g) x)| (``"cosine"``, the paper's code)
  or R = −Σ_i ‖L_i‖_F (``"norm"``, Augerino's negative width penalty).
- :class:`SymmetryGAN` — Desai et al. (2021): one learned group element g, trained adversarially
  so that D cannot tell ρ_X(g) x from x. Its result holds g (``elements``) and, as generator,
  the principal matrix logarithm log g.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import as_generators
from ._data import prepare_data
from ._training import (
    Checkpointer,
    Clock,
    History,
    as_device,
    batch_indices,
    call_back,
    progress_bar,
    seeded,
)
from .actions import Image, as_action
from .coefficients import CoefficientDistribution
from .discriminators import flat_features
from .evaluation import truth_metrics
from .generator import LieGenerator
from .lie_gan import LieGAN
from .masks import as_mask
from .regularizers import channel_regularizer, identity_regularizer
from .result import DiscoveryResult

__all__ = ["AugerinoPlus", "SymmetryGAN", "matrix_log"]


def matrix_log(g: torch.Tensor) -> torch.Tensor:
    """Principal logarithm of (k, n, n) matrices (scipy); real when the log is real.

    A real matrix without a real logarithm (e.g. det g < 0) keeps the real part, with a warning.
    """
    from scipy.linalg import logm

    out = []
    for m in g.detach().cpu().double().numpy() if not g.is_complex() else g.detach().cpu().numpy():
        L = np.asarray(logm(m))
        if not g.is_complex() and np.iscomplexobj(L):
            if np.abs(L.imag).max() > 1e-6 * max(np.abs(L).max(), 1e-12):
                warnings.warn(
                    "the learned element has no real logarithm (e.g. det g < 0); "
                    "keeping the real part of its principal logarithm",
                    stacklevel=2,
                )
            L = L.real
        out.append(torch.as_tensor(L))
    return torch.stack(out).to(g.dtype if not g.is_complex() else g.dtype)


class _GroupElement(nn.Module):
    """SymmetryGAN's generator: one learned g, the same for every sample (duck-types
    :class:`~liegnn.discovery.generator.LieGenerator` for LieGAN's training loop)."""

    def __init__(self, n, mask, complex, parameterization, init, init_scale):
        super().__init__()
        if parameterization not in ("matrix", "exp"):
            raise ValueError(
                f"parameterization must be 'matrix' or 'exp', got {parameterization!r}"
            )
        self.n, self.n_channels, self.complex = n, 1, complex
        self.parameterization = parameterization
        self.register_buffer("mask", torch.ones(n, n) if mask is None else as_mask(mask, n, 1))
        if isinstance(init, str):
            if init != "random":
                raise ValueError(f"init must be 'random' or an (n, n) tensor, got {init!r}")
            re, im = torch.randn(n, n) * init_scale, torch.randn(n, n) * init_scale
        else:
            W = as_generators(init, name="init")[0]
            re = W.real.to(torch.get_default_dtype())
            im = W.imag.to(re.dtype) if W.is_complex() else torch.zeros_like(re)
        self.weight = nn.Parameter(re.clone())
        if complex:
            self.weight_imag = nn.Parameter(im.clone())
        self.coefficients = nn.Module()  # no coefficient distribution

    def _matrix(self) -> torch.Tensor:
        W = torch.complex(self.weight, self.weight_imag) if self.complex else self.weight
        return W * self.mask.reshape(-1, self.n, self.n)[0].to(self.weight.dtype)

    @property
    def element(self) -> torch.Tensor:
        """The learned group element g, shape (n, n)."""
        W = self._matrix()
        return torch.linalg.matrix_exp(W) if self.parameterization == "exp" else W

    @property
    def generators(self) -> torch.Tensor:
        """(1, n, n): the exponent itself, or log g for the direct matrix parameterisation."""
        if self.parameterization == "exp":
            return self._matrix().unsqueeze(0)
        return matrix_log(self.element.detach().unsqueeze(0))

    def sample(self, n_samples: int, *, generator=None):
        g = self.element.unsqueeze(0).expand(n_samples, self.n, self.n)
        return torch.ones(n_samples, 1, device=g.device), g


class SymmetryGAN(LieGAN):
    """SymmetryGAN (Desai et al., 2021): one group element g learned adversarially.

    Other arguments as :class:`~liegnn.discovery.LieGAN` (no channels or coefficients).

    Args:
        parameterization: "matrix" (g is a free n×n matrix, as the paper's code) or "exp"
            (g = exp(A), always in the identity component).
        init_scale: standard deviation of the random initial g (or A).
        preset: the settings the other fields start from: "paper" (default: the baseline as
            the LieGAN paper ran it) or "default" (LieGAN's general defaults).
    """

    def __init__(
        self,
        n: int,
        *,
        parameterization: str = "matrix",
        identity_weight: float = 1.0,
        init_scale: float = 1.0,
        preset: str = "paper",
        **options,
    ):
        for bad in ("n_channels", "coefficients", "coefficient_options", "learn_generators"):
            if bad in options:
                raise ValueError(f"SymmetryGAN learns one group element; {bad!r} does not apply")
        self.parameterization = parameterization
        super().__init__(
            n,
            1,
            identity_weight=identity_weight,
            init_scale=init_scale,
            preset=preset,
            **options,
        )

    def _build_generator(self):
        a = self._generator_args
        with seeded(self.seed):
            return _GroupElement(
                a["n"], a["mask"], a["complex"], self.parameterization, a["init"], a["init_scale"]
            ).to(self.device)

    def config(self) -> dict:
        cfg = super().config()
        cfg.update(method="SymmetryGAN", parameterization=self.parameterization)
        for k in ("n_channels", "coefficients", "coefficient_options", "learn_generators"):
            cfg.pop(k)
        return cfg

    def fit(self, x, y=None, **options) -> DiscoveryResult:
        result = super().fit(x, y, **options)
        result.elements = self.generator.element.detach().cpu().unsqueeze(0)
        result.coefficients = {}
        return result


class AugerinoPlus:
    """Augerino+: a predictor trained on data augmented by a learned Lie-group distribution.

    Args:
        n, n_channels, coefficients, coefficient_options, mask, complex, rep_x, rep_y: as
            :class:`~liegnn.discovery.LieGAN`.
        init, init_scale, expm, seed, device: as :class:`~liegnn.discovery.LieGAN`.
        predictor: an ``nn.Module`` mapping x (B, ...) to flat outputs (B, k); default an MLP
            (2 hidden layers of ``hidden`` units, ReLU) as in the paper's code.
        task: "regression" (MSE on flat real y), "classification" (cross-entropy on integer
            labels) or "auto" (classification for integer y).
        regularizer: "cosine" (|mean cos(x, g x)|, the paper's code) or "norm" (−Σ‖L_i‖_F).
        identity_weight: λ, weight of the widening regulariser.
        channel_weight: η of the channel regulariser (several channels).
        lr: Adam learning rate of predictor and generators together.
        batch_size: samples per step.
    """

    def __init__(
        self,
        n: int,
        n_channels: int = 1,
        *,
        coefficients: CoefficientDistribution | str = "normal",
        coefficient_options: dict | None = None,
        mask=None,
        complex: bool = False,
        rep_x="standard",
        rep_y="trivial",
        predictor: nn.Module | None = None,
        hidden: int = 512,
        task: str = "auto",
        regularizer: str = "cosine",
        identity_weight: float = 1.0,
        channel_weight: float = 1.0,
        init="random",
        init_scale: float = 0.1,
        lr: float = 1e-3,
        batch_size: int = 64,
        expm: str = "auto",
        seed: int = 0,
        device="cpu",
    ):
        if task not in ("auto", "regression", "classification"):
            raise ValueError(f"task must be 'auto', 'regression' or 'classification', got {task!r}")
        if regularizer not in ("cosine", "norm"):
            raise ValueError(f"regularizer must be 'cosine' or 'norm', got {regularizer!r}")
        if not lr > 0 or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"need lr > 0 and batch_size >= 1, got {lr}, {batch_size}")
        self.action_x, self.action_y = as_action(rep_x), as_action(rep_y)
        self.device, self.seed = as_device(device), int(seed)
        self._generator_args = dict(
            n=n,
            n_channels=n_channels,
            coefficients=coefficients,
            coefficient_options=coefficient_options,
            mask=mask,
            complex=complex,
            init=init,
            init_scale=init_scale,
            expm=expm,
        )
        with seeded(self.seed):
            self.generator = LieGenerator(**self._generator_args).to(self.device)
        self._predictor_spec, self.hidden, self.task = predictor, hidden, task
        self.regularizer, self.identity_weight = regularizer, float(identity_weight)
        self.channel_weight, self.lr, self.batch_size = float(channel_weight), float(lr), batch_size
        self.predictor: nn.Module | None = None
        self.result: DiscoveryResult | None = None

    def config(self) -> dict:
        g = self._generator_args
        return {
            "method": "AugerinoPlus",
            **{k: g[k] for k in ("n", "n_channels", "complex", "init_scale", "expm")},
            "coefficients": g["coefficients"]
            if isinstance(g["coefficients"], str)
            else repr(g["coefficients"]),
            "masked": g["mask"] is not None,
            "rep_x": repr(self.action_x),
            "rep_y": repr(self.action_y),
            "task": self.task,
            "regularizer": self.regularizer,
            "identity_weight": self.identity_weight,
            "channel_weight": self.channel_weight,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "hidden": self.hidden,
            "seed": self.seed,
        }

    def _build_predictor(self, data, classification: bool) -> nn.Module:
        if self._predictor_spec is not None:
            import copy

            return copy.deepcopy(self._predictor_spec).to(self.device)
        d_in = flat_features(data.x[:1]).shape[1]
        d_out = int(data.y.max()) + 1 if classification else flat_features(data.y[:1]).shape[1]
        with seeded(self.seed + 1):
            net = nn.Sequential(
                nn.Flatten(),
                nn.Linear(d_in, self.hidden),
                nn.ReLU(),
                nn.Linear(self.hidden, self.hidden),
                nn.ReLU(),
                nn.Linear(self.hidden, d_out),
            )
        return net.to(self.device)

    def fit(
        self,
        x,
        y,
        *,
        epochs: int = 100,
        truth=None,
        steps: int | None = None,
        steps_per_epoch: int | None = None,
        checkpoint: str | os.PathLike | None = None,
        resume: str | os.PathLike | None = None,
        progress: bool = True,
        callback: Callable[[int, dict], bool | None] | None = None,
    ) -> DiscoveryResult:
        """Train predictor and generators jointly; same data interface as :meth:`LieGAN.fit`."""
        if y is None:
            raise ValueError("Augerino+ trains a predictor and needs targets y")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        y_t = torch.as_tensor(y[:1]) if not isinstance(y, torch.Tensor) else y
        classification = self.task == "classification" or (
            self.task == "auto" and not (y_t.is_floating_point() or y_t.is_complex())
        )
        n = self._generator_args["n"]
        data = prepare_data(
            x,
            y,
            n=n,
            action_x=self.action_x,
            action_y=self.action_y,
            steps=steps,
            labels=classification,
            device=self.device,
        )
        if truth is not None:
            truth = as_generators(truth, name="truth").detach().cpu()
        with seeded(self.seed):
            G = self.generator = LieGenerator(**self._generator_args).to(self.device)
        P = self.predictor = self._build_predictor(data, classification)
        opt = torch.optim.Adam(list(P.parameters()) + list(G.parameters()), lr=self.lr)
        rng_sample = torch.Generator(device=self.device).manual_seed(self.seed + 2)
        rng_shuffle = torch.Generator().manual_seed(self.seed + 3)
        modules, rngs = (
            {"generator": G, "predictor": P, "opt": opt},
            {
                "sample": rng_sample,
                "shuffle": rng_shuffle,
            },
        )
        config, fingerprint = self.config(), data.fingerprint()
        start, history = 0, History()
        if resume is not None:
            start, saved = Checkpointer.restore(
                resume, modules=modules, rngs=rngs, config=config, data=fingerprint
            )
            history = History(saved)
        clock = Clock(history.data["time"][-1] if history.data.get("time") else 0.0)
        ckpt, bar = (
            Checkpointer(checkpoint),
            progress_bar(epochs, min(start, epochs), progress, "Augerino+"),
        )
        try:
            for epoch in range(start, epochs):
                P.train()
                G.coefficients.set_epoch(epoch)
                for idx in batch_indices(
                    data.n_samples, self.batch_size, rng_shuffle, steps_per_epoch
                ):
                    xb, yb, _, _ = data.batch(idx.to(self.device))
                    _, g = G.sample(xb.shape[0], generator=rng_sample)
                    gx = self.action_x(g, xb)
                    gy = self.action_y(g, yb)
                    out = P(gx if not gx.is_complex() else torch.view_as_real(gx))
                    if classification:
                        loss = F.cross_entropy(out, gy)
                    else:
                        loss = F.mse_loss(out.reshape(out.shape[0], -1), flat_features(gy))
                    if self.regularizer == "cosine":
                        if isinstance(self.action_x, Image):
                            reg = identity_regularizer(xb.flatten(1), gx.flatten(1))
                        else:
                            reg = identity_regularizer(xb, gx)
                    else:
                        reg = -torch.linalg.vector_norm(G.generators.flatten(1), dim=1).sum()
                    total = loss + self.identity_weight * reg
                    if G.n_channels > 1 and self.channel_weight > 0:
                        total = total + self.channel_weight * channel_regularizer(G.generators)
                    opt.zero_grad(set_to_none=True)
                    total.backward()
                    opt.step()
                    history.step(loss=loss, reg=reg)
                row = history.end_epoch(time=clock(), **truth_metrics(G.generators, truth))
                ckpt.save(
                    epoch=epoch + 1,
                    modules=modules,
                    rngs=rngs,
                    history=history.data,
                    config=config,
                    data=fingerprint,
                )
                bar.update(1)
                if call_back(callback, epoch + 1, row):
                    break
        finally:
            bar.close()
        self.result = DiscoveryResult(
            generators=G.generators.detach(),
            history=history.data,
            config=config,
            coefficients={k: v.detach().cpu() for k, v in G.coefficients.state_dict().items()},
        )
        return self.result
