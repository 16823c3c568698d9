"""LieGAN's settings in four small groups: the model, the losses, the optimisers and the run.

Each group is a frozen dataclass that checks its fields when it is made, so a bad value fails
with an error naming the field before anything is built. :class:`~liegnn.discovery.LieGAN`
takes the groups (``model=``, ``losses=``, ``optim=``, ``run=``) and, on top of them, any field
by its flat name (``LieGAN(3, lr_g=1e-2)``), routed to its group by :func:`split_overrides`.

The defaults are general settings that find continuous symmetries of new data quickly (checked
on randomly conjugated so(2) and so(3) in R³ and R⁴, with and without targets, see
docs/discovery.md); :data:`PAPER` holds the settings of the paper's code.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import nn

from .coefficients import CoefficientDistribution

__all__ = [
    "FIELDS",
    "GROUPS",
    "PAPER",
    "PRESETS",
    "LossSettings",
    "ModelSettings",
    "OptimSettings",
    "RunSettings",
    "settings_from",
    "split_overrides",
]


def _positive_int(name: str, v, minimum: int = 1) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")


def _nonnegative(name: str, v) -> None:
    if not (isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0):
        raise ValueError(f"{name} must be >= 0, got {v!r}")


def _positive(name: str, v) -> None:
    if not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0):
        raise ValueError(f"{name} must be > 0, got {v!r}")


def _fraction(name: str, v, *, closed_low: bool) -> None:
    """0 <= v < 1 (closed_low) or 0 < v <= 1."""
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    ok = ok and ((0 <= v < 1) if closed_low else (0 < v <= 1))
    if not ok:
        interval = "[0, 1)" if closed_low else "(0, 1]"
        raise ValueError(f"{name} must lie in {interval}, got {v!r}")


def _betas(name: str, v) -> tuple[float, float]:
    try:
        b = tuple(float(x) for x in v)
    except TypeError:
        b = ()
    if len(b) != 2 or not all(0 <= x < 1 for x in b):
        raise ValueError(f"{name} must be two numbers in [0, 1), got {v!r}")
    return b


#: the built-in discriminators by name
DISCRIMINATORS = ("auto", "mlp", "embedding", "deepsets", "pairwise")


@dataclass(frozen=True)
class ModelSettings:
    """The generator Φ and the discriminator D.

    Attributes:
        discriminator: "auto" (embedding for integer labels, DeepSets with ``point_mask``, else
            MLP), "mlp", "embedding", "deepsets", "pairwise" (DeepSets plus a term over the
            distances of pairs of points), or an ``nn.Module`` with
            ``forward(x, y, point_mask=None, features=None) -> (N,)`` logits.
        hidden: hidden width of the built-in discriminators (paper: 512).
        fourier_features, fourier_scale: random Fourier features of the discriminator's input
            (0: none, the paper's MLP); they let D resolve fine structure (C_k) much sooner.
        coefficients: γ: "normal" (σ = 1), "uniform", "integer" (grid {−u..u}), "gmm", or a
            :class:`~liegnn.discovery.coefficients.CoefficientDistribution`.
        coefficient_options: keyword arguments for a named γ, e.g. ``{"u": 10}``.
        init: initial generators: "random" (N(0, init_scale²)), "zero" or a (c, n, n) tensor.
        init_scale: standard deviation of the random initialisation.
        expm: matrix-exponential method ("auto", "eig", "blocks", "dense").
    """

    discriminator: Any = "auto"
    hidden: int = 256
    fourier_features: int = 0
    fourier_scale: float = 1.0
    coefficients: Any = "normal"
    coefficient_options: dict | None = None
    init: Any = "random"
    init_scale: float = 0.1
    expm: str = "auto"

    def __post_init__(self):
        d = self.discriminator
        if not isinstance(d, nn.Module) and d not in DISCRIMINATORS:
            raise ValueError(
                "discriminator must be 'auto', 'mlp', 'embedding', 'deepsets', 'pairwise' or an "
                f"nn.Module, got {d!r}"
            )
        _positive_int("hidden", self.hidden)
        _positive_int("fourier_features", self.fourier_features, 0)
        _positive("fourier_scale", self.fourier_scale)
        if not isinstance(self.coefficients, (str, CoefficientDistribution)):
            raise ValueError(
                "coefficients must be a name or a CoefficientDistribution, "
                f"got {type(self.coefficients).__name__}"
            )
        if self.coefficient_options is not None and not isinstance(self.coefficient_options, dict):
            raise ValueError(
                f"coefficient_options must be a dict, got {type(self.coefficient_options).__name__}"
            )
        _nonnegative("init_scale", self.init_scale)
        if self.expm not in ("auto", "eig", "blocks", "dense"):
            raise ValueError(f"expm must be 'auto', 'eig', 'blocks' or 'dense', got {self.expm!r}")

    def to_config(self) -> dict:
        """JSON-serialisable form (objects by name, tensors as "tensor")."""
        d = _as_dict(self)
        if not isinstance(self.discriminator, str):
            d["discriminator"] = type(self.discriminator).__name__
        if not isinstance(self.coefficients, str):
            d["coefficients"] = repr(self.coefficients)
        d["coefficient_options"] = {k: str(v) for k, v in (self.coefficient_options or {}).items()}
        if not isinstance(self.init, str):
            d["init"] = "tensor"
        return d


@dataclass(frozen=True)
class LossSettings:
    """The generator's loss: adversarial term plus the regularisers (Eq. 7, 8, and ‖L‖_p).

    Attributes:
        identity_weight: λ of the identity regulariser (Eq. 7).
        identity_decay: λ is annealed as λ · identity_decay^epoch (1: constant, as the paper).
            Below 1, a strong early push escapes the trivial solution g = I and the fading push
            no longer biases the scale of the found generators (matters for discrete groups).
        channel_weight: η of the channel regulariser (Eq. 8).
        channel_similarity: "cosine" (paper's choice) or "killing".
        sparsity_weight: μ of the sparsity regulariser ‖L‖_p (the paper's code; 0 by default).
        sparsity_norm: p of the sparsity regulariser (1: lasso, 2: the paper code's default).
        sparsity_start: first epoch with the sparsity regulariser.
    """

    identity_weight: float = 0.1
    identity_decay: float = 1.0
    channel_weight: float = 0.1
    channel_similarity: str = "cosine"
    sparsity_weight: float = 0.0
    sparsity_norm: float = 1.0
    sparsity_start: int = 0

    def __post_init__(self):
        _nonnegative("identity_weight", self.identity_weight)
        _fraction("identity_decay", self.identity_decay, closed_low=False)
        _nonnegative("channel_weight", self.channel_weight)
        if self.channel_similarity not in ("cosine", "killing"):
            raise ValueError(
                f"channel_similarity must be 'cosine' or 'killing', got {self.channel_similarity!r}"
            )
        _nonnegative("sparsity_weight", self.sparsity_weight)
        _positive("sparsity_norm", self.sparsity_norm)
        _positive_int("sparsity_start", self.sparsity_start, 0)

    def to_config(self) -> dict:
        return _as_dict(self)


@dataclass(frozen=True)
class OptimSettings:
    """The two Adam optimisers, their schedules, the batches and the averaged generator.

    Attributes:
        lr_g, lr_d: Adam learning rates of generator and discriminator (paper: 1e-3, 2e-4).
        betas: Adam betas of the generator's optimiser (paper's code: (0.5, 0.999)).
        betas_d: Adam betas of the discriminator's optimiser (paper's code: (0.9, 0.999)).
        lr_decay: the generator's learning rate is lr_g · lr_decay^epoch (1: constant).
        batch_size: samples per step (paper: 64).
        d_steps: discriminator updates per generator update (1: alternate, as the paper).
        ema: decay β of an exponential moving average of the generator's parameters, updated
            after every generator step (0: off, as the paper); the averaged generators are the
            result. ``ema=0.99`` averages over ~100 steps.
    """

    lr_g: float = 1e-2
    lr_d: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    betas_d: tuple[float, float] = (0.5, 0.999)
    lr_decay: float = 0.97
    batch_size: int = 128
    d_steps: int = 1
    ema: float = 0.99

    def __post_init__(self):
        _positive("lr_g", self.lr_g)
        _positive("lr_d", self.lr_d)
        object.__setattr__(self, "betas", _betas("betas", self.betas))
        object.__setattr__(self, "betas_d", _betas("betas_d", self.betas_d))
        _fraction("lr_decay", self.lr_decay, closed_low=False)
        _positive_int("batch_size", self.batch_size)
        _positive_int("d_steps", self.d_steps)
        _fraction("ema", self.ema, closed_low=True)

    def to_config(self) -> dict:
        d = _as_dict(self)
        d["betas"], d["betas_d"] = list(self.betas), list(self.betas_d)
        return d


@dataclass(frozen=True)
class RunSettings:
    """How long to train and how often to start over.

    Attributes:
        epochs: the cap on epochs (``fit(epochs=None)`` uses it).
        steps_per_epoch: the cap on batches per epoch (an epoch is one pass over a fresh
            shuffle, cut after this many batches; None: whole passes), so on large data the
            per-epoch schedules and the stopping rule do not wait for whole passes.
        stop_tol: the stopping rule: training stops once the span of the (averaged)
            generators moved less than ``stop_tol`` over the last ``stop_patience`` epochs.
            The move is the RMS sine of the principal angles between the spans then and now,
            √(1 − subspace similarity) (:func:`~liegnn.discovery.evaluation.span_change`);
            measured over several epochs it tells a slow drift, which adds up, from the
            jitter of a settled run, which does not. None: train ``epochs`` epochs.
        stop_patience: the window of epochs the move is measured over.
        min_epochs: no stop before this many epochs.
        restarts: runs with seeds seed, seed + 1, …; ``select_best`` keeps one (no truth used).
        retries: extra seeds tried, one at a time, while a run settles (the stopping rule
            fires) with its discriminator not fooled
            (:func:`~liegnn.discovery.evaluation.fooled`: stuck at a transformation that is
            not a symmetry, or collapsed to g = I); ``select_best`` picks among the runs
            tried. Costs nothing when the first run succeeds.
    """

    epochs: int = 100
    steps_per_epoch: int | None = 50
    stop_tol: float | None = 1e-2
    stop_patience: int = 5
    min_epochs: int = 10
    restarts: int = 1
    retries: int = 2

    def __post_init__(self):
        _positive_int("epochs", self.epochs, 0)
        if self.steps_per_epoch is not None:
            _positive_int("steps_per_epoch", self.steps_per_epoch)
        if self.stop_tol is not None:
            _positive("stop_tol", self.stop_tol)
        _positive_int("stop_patience", self.stop_patience)
        _positive_int("min_epochs", self.min_epochs, 0)
        _positive_int("restarts", self.restarts)
        _positive_int("retries", self.retries, 0)

    def to_config(self) -> dict:
        return _as_dict(self)


GROUPS = {
    "model": ModelSettings,
    "losses": LossSettings,
    "optim": OptimSettings,
    "run": RunSettings,
}
#: flat field name → its group's name
FIELDS = {f.name: g for g, cls in GROUPS.items() for f in dataclasses.fields(cls)}

#: the settings of the paper's code (Yang et al., 2023) — 512 hidden, Adam 1e-3 / 2e-4,
#: batch 64, λ = 0.01, η = 1, no schedules, no average, 100 full epochs, no stopping rule
PAPER = {
    "model": ModelSettings(hidden=512),
    "losses": LossSettings(identity_weight=1e-2, channel_weight=1.0),
    "optim": OptimSettings(
        lr_g=1e-3, lr_d=2e-4, betas_d=(0.9, 0.999), lr_decay=1.0, batch_size=64, ema=0.0
    ),
    "run": RunSettings(epochs=100, steps_per_epoch=None, stop_tol=None, retries=0),
}
PRESETS = {"default": {g: cls() for g, cls in GROUPS.items()}, "paper": PAPER}


def split_overrides(overrides: dict, *, owner: str = "LieGAN") -> dict[str, dict]:
    """Flat keyword settings sorted by group: ``{"lr_g": 1e-2}`` → ``{"optim": {"lr_g": 1e-2}}``.

    An unknown name raises a TypeError naming it (as Python does for a bad keyword argument).
    """
    out: dict[str, dict] = {g: {} for g in GROUPS}
    for k, v in overrides.items():
        if k not in FIELDS:
            raise TypeError(f"{owner}() got an unexpected keyword argument {k!r}")
        out[FIELDS[k]][k] = v
    return out


def settings_from(preset: str = "default", groups: dict | None = None, **overrides) -> dict:
    """The four groups of a preset, with whole groups and then flat fields replaced.

    ``groups`` maps group names to a settings object (or None: the preset's); ``overrides`` are
    flat field names. Returns ``{"model": ModelSettings, "losses": …, "optim": …, "run": …}``.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    out = dict(PRESETS[preset])
    for g, value in (groups or {}).items():
        if value is None:
            continue
        if not isinstance(value, GROUPS[g]):
            raise TypeError(f"{g} must be a {GROUPS[g].__name__}, got {type(value).__name__}")
        out[g] = value
    for g, fields in split_overrides(overrides).items():
        if fields:
            out[g] = dataclasses.replace(out[g], **fields)
    return out


def _as_dict(settings) -> dict:
    """``dataclasses.asdict`` of one group (its objects are made JSON-safe by ``to_config``)."""
    return dataclasses.asdict(settings)
