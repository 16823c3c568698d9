"""LieGAN: generative adversarial symmetry discovery (Yang et al., ICML 2023).

    min_Φ max_D  E_p[log D(x, y)] + E_{p, g}[log(1 − D(Φ(x, y)))]
                 + λ |mean cos(x, ρ_X(g) x)| + η Σ_{i<j} |cos(L_i, L_j)| + μ ‖L‖_p  (Eq. 2–4, 7–10)

with Φ(x, y) = (ρ_X(g) x, ρ_Y(g) y), g = exp(Σ_i w_i L_i), w ~ γ (Eq. 1, 6).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._data import Batchable, prepare_data
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
from .discriminators import (
    DeepSetsDiscriminator,
    EmbeddingDiscriminator,
    MLPDiscriminator,
    flat_features,
)
from .evaluation import truth_metrics
from .generator import LieGenerator
from .regularizers import channel_regularizer, identity_regularizer, sparsity_regularizer
from .result import DiscoveryResult

__all__ = ["LieGAN"]


class LieGAN:
    r"""Discover a Lie algebra basis from data (Eq. 1–10).

    Args:
        n: size of the generator matrices (the data's last axis; n+1 with ``rep_x="affine"``).
        n_channels: c, number of generators L_i.
        coefficients: coefficient distribution γ: "normal" (σ = 1), "uniform", "integer" (grid
            {−u..u}), "gmm", or a :class:`~liegnn.discovery.coefficients.CoefficientDistribution`.
        coefficient_options: keyword arguments for a named γ, e.g. ``{"u": 10}``.
        mask: search-space mask (n, n) or (c, n, n), see :mod:`liegnn.discovery.masks`.
        complex: complex generators (complex data, e.g. su(2)).
        rep_x: ρ_X, an action name ("standard", "affine", "image"), a callable g ↦ ρ(g) or an
            :class:`~liegnn.discovery.actions.Action`.
        rep_y: ρ_Y: "trivial" (invariant targets, labels), "standard" (the same representation,
            equivariant time series), or a user representation.
        discriminator: "auto" (embedding for integer labels, DeepSets with ``point_mask``, else
            MLP), "mlp", "embedding", "deepsets", or an ``nn.Module`` with
            ``forward(x, y, point_mask=None, features=None) -> (N,)`` logits.
        hidden: hidden width of the built-in discriminators (paper: 512).
        fourier_features, fourier_scale: random Fourier features of the discriminator's input
            (0: none, the paper's MLP); they let D resolve fine structure (C_k) much sooner.
        identity_weight: λ of the identity regulariser (Eq. 7).
        identity_decay: λ is annealed as λ · identity_decay^epoch (1: constant, as the paper).
            Below 1, a strong early push escapes the trivial solution g = I and the fading push
            no longer biases the scale of the found generators (matters for discrete groups).
        channel_weight: η of the channel regulariser (Eq. 8).
        channel_similarity: "cosine" (paper's choice) or "killing".
        sparsity_weight: μ of the sparsity regulariser ‖L‖_p (the paper's code; 0 by default).
            A small μ with p = 1 holds the entries the data hardly constrain at zero instead of
            letting Adam's normalised noise wander them (e.g. the z-row of the C₇ generator).
        sparsity_norm: p of the sparsity regulariser (1: lasso, 2: the paper code's default).
        sparsity_start: first epoch with the sparsity regulariser: from the start it can pull
            small generators to zero before they grow into a symmetry; later it only refines.
        init: initial generators: "random" (N(0, init_scale²)), "zero" or a (c, n, n) tensor.
        init_scale: standard deviation of the random initialisation.
        learn_generators: ``False`` fixes L = ``init`` and learns γ only (subgroup discovery).
        lr_g, lr_d: Adam learning rates of generator and discriminator (paper: 1e-3, 2e-4).
        betas: Adam betas of the generator's optimiser (paper's code: (0.5, 0.999)).
        betas_d: Adam betas of the discriminator's optimiser (paper's code: PyTorch's default
            (0.9, 0.999)).
        lr_decay: the generator's learning rate is lr_g · lr_decay^epoch (1: constant, as the
            paper); below 1 it settles the generators for a precise final estimate.
        batch_size: samples per step (paper: 64).
        d_steps: discriminator updates per generator update (1: alternate, as the paper).
        ema: decay of an exponential moving average of the generator's parameters, updated
            after every generator step (0: off, as the paper). The averaged generators are the
            result (and what the history compares with a truth): the GAN's equilibrium
            jitter averages out, e.g. ``ema=0.99`` averages over ~100 steps.
        expm: matrix-exponential method ("auto", "eig", "blocks", "dense").
        seed: seeds initialisation, sampling of g and shuffling: same seed, same result.
        device: "cpu", "cuda", …

    After :meth:`fit`, ``generator`` and ``discriminator`` hold the trained modules.
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
        discriminator="auto",
        hidden: int = 512,
        fourier_features: int = 0,
        fourier_scale: float = 1.0,
        identity_weight: float = 1e-2,
        identity_decay: float = 1.0,
        channel_weight: float = 1.0,
        channel_similarity: str = "cosine",
        sparsity_weight: float = 0.0,
        sparsity_norm: float = 1.0,
        sparsity_start: int = 0,
        init="random",
        init_scale: float = 0.1,
        learn_generators: bool = True,
        lr_g: float = 1e-3,
        lr_d: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        betas_d: tuple[float, float] = (0.9, 0.999),
        lr_decay: float = 1.0,
        batch_size: int = 64,
        d_steps: int = 1,
        ema: float = 0.0,
        expm: str = "auto",
        seed: int = 0,
        device="cpu",
    ):
        if isinstance(n_channels, bool) or not isinstance(n_channels, int) or n_channels < 1:
            raise ValueError(f"n_channels must be an integer >= 1, got {n_channels!r}")
        for name, v in (
            ("identity_weight", identity_weight),
            ("channel_weight", channel_weight),
            ("sparsity_weight", sparsity_weight),
        ):
            if not v >= 0:
                raise ValueError(f"{name} must be >= 0, got {v}")
        for name, v in (("lr_g", lr_g), ("lr_d", lr_d)):
            if not v > 0:
                raise ValueError(f"{name} must be > 0, got {v}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if channel_similarity not in ("cosine", "killing"):
            raise ValueError(
                f"channel_similarity must be 'cosine' or 'killing', got {channel_similarity!r}"
            )
        self.action_x, self.action_y = as_action(rep_x), as_action(rep_y)
        self.device = as_device(device)
        self.seed = int(seed)
        self._discriminator_spec = discriminator
        self._generator_args = dict(
            n=n,
            n_channels=n_channels,
            coefficients=coefficients,
            coefficient_options=coefficient_options,
            mask=mask,
            complex=complex,
            init=init,
            init_scale=init_scale,
            learn_generators=learn_generators,
            expm=expm,
        )
        self.hidden = hidden
        self.fourier = dict(
            fourier_features=int(fourier_features), fourier_scale=float(fourier_scale)
        )
        self.identity_weight, self.channel_weight = float(identity_weight), float(channel_weight)
        self.channel_similarity = channel_similarity
        if not sparsity_norm > 0:
            raise ValueError(f"sparsity_norm must be > 0, got {sparsity_norm}")
        self.sparsity_weight, self.sparsity_norm = float(sparsity_weight), float(sparsity_norm)
        if isinstance(sparsity_start, bool) or not isinstance(sparsity_start, int):
            raise ValueError(f"sparsity_start must be an integer epoch, got {sparsity_start!r}")
        self.sparsity_start = sparsity_start
        self.lr_g, self.lr_d = float(lr_g), float(lr_d)
        self.betas, self.betas_d = tuple(betas), tuple(betas_d)
        if not 0 <= ema < 1:
            raise ValueError(f"ema must lie in [0, 1), got {ema}")
        self.ema = float(ema)
        if not 0 < identity_decay <= 1:
            raise ValueError(f"identity_decay must lie in (0, 1], got {identity_decay}")
        self.identity_decay = float(identity_decay)
        if not 0 < lr_decay <= 1:
            raise ValueError(f"lr_decay must lie in (0, 1], got {lr_decay}")
        self.lr_decay = float(lr_decay)
        self.batch_size = batch_size
        if isinstance(d_steps, bool) or not isinstance(d_steps, int) or d_steps < 1:
            raise ValueError(f"d_steps must be a positive integer, got {d_steps!r}")
        self.d_steps = d_steps
        self.generator = self._build_generator()
        self.discriminator: nn.Module | None = None
        self.result: DiscoveryResult | None = None

    # -- construction ------------------------------------------------------------------------
    def _build_generator(self) -> LieGenerator:
        args = dict(self._generator_args)
        coeffs = args["coefficients"]
        if isinstance(coeffs, CoefficientDistribution):
            # a fresh copy of the user's distribution, so refitting starts from the same state
            import copy

            args["coefficients"] = copy.deepcopy(coeffs)
        with seeded(self.seed):
            return LieGenerator(**args).to(self.device)

    def _build_discriminator(self, data: Batchable) -> nn.Module:
        spec = self._discriminator_spec
        if isinstance(spec, nn.Module):
            import copy

            return copy.deepcopy(spec).to(self.device)
        labels = data.y is not None and not (data.y.is_floating_point() or data.y.is_complex())
        if spec == "auto":
            spec = "embedding" if labels else ("deepsets" if data.point_mask is not None else "mlp")
        x0 = data.x[:1]
        y_feat = 0 if data.y is None else flat_features(data.y[:1]).shape[1]
        f_feat = 0 if data.features is None else flat_features(data.features[:1], 2).shape[-1]
        with seeded(self.seed + 1):
            if spec == "mlp":
                extra = 0 if data.features is None else flat_features(data.features[:1]).shape[1]
                D = MLPDiscriminator(
                    flat_features(x0).shape[1] + y_feat + extra, self.hidden, **self.fourier
                )
            elif spec == "embedding":
                if not labels:
                    raise ValueError("the embedding discriminator needs integer class labels y")
                extra = 0 if data.features is None else flat_features(data.features[:1]).shape[1]
                n_classes = int(data.y.max()) + 1
                D = EmbeddingDiscriminator(
                    flat_features(x0).shape[1] + extra,
                    n_classes,
                    hidden=self.hidden,
                    **self.fourier,
                )
            elif spec == "deepsets":
                if data.x.ndim != 3:
                    raise ValueError("the deepsets discriminator needs point clouds x (N, P, n)")
                D = DeepSetsDiscriminator(
                    flat_features(x0, 2).shape[-1],
                    point_features=f_feat,
                    y_features=0 if labels else y_feat,
                    n_classes=int(data.y.max()) + 1 if labels else None,
                    hidden=min(self.hidden, 256),
                    **self.fourier,
                )
            else:
                raise ValueError(
                    "discriminator must be 'auto', 'mlp', 'embedding', 'deepsets' or an nn.Module, "
                    f"got {spec!r}"
                )
        return D.to(self.device)

    def config(self) -> dict:
        """The settings that determine a run (JSON-serialisable; checked when resuming)."""
        g = self._generator_args
        coeffs = g["coefficients"]
        return {
            "method": "LieGAN",
            "n": g["n"],
            "n_channels": g["n_channels"],
            "coefficients": coeffs if isinstance(coeffs, str) else repr(coeffs),
            "coefficient_options": {k: str(v) for k, v in (g["coefficient_options"] or {}).items()},
            "masked": g["mask"] is not None,
            "complex": bool(g["complex"]),
            "rep_x": repr(self.action_x),
            "rep_y": repr(self.action_y),
            "discriminator": self._discriminator_spec
            if isinstance(self._discriminator_spec, str)
            else type(self._discriminator_spec).__name__,
            "hidden": self.hidden,
            **self.fourier,
            "identity_weight": self.identity_weight,
            "identity_decay": self.identity_decay,
            "channel_weight": self.channel_weight,
            "channel_similarity": self.channel_similarity,
            "sparsity_weight": self.sparsity_weight,
            "sparsity_norm": self.sparsity_norm,
            "sparsity_start": self.sparsity_start,
            "init": g["init"] if isinstance(g["init"], str) else "tensor",
            "init_scale": g["init_scale"],
            "learn_generators": g["learn_generators"],
            "lr_g": self.lr_g,
            "lr_d": self.lr_d,
            "betas": list(self.betas),
            "betas_d": list(self.betas_d),
            "lr_decay": self.lr_decay,
            "batch_size": self.batch_size,
            "d_steps": self.d_steps,
            "ema": self.ema,
            "seed": self.seed,
        }

    # -- training ----------------------------------------------------------------------------
    def fit(
        self,
        x,
        y=None,
        *,
        epochs: int = 100,
        truth=None,
        point_mask=None,
        features=None,
        steps: int | None = None,
        steps_per_epoch: int | None = None,
        checkpoint: str | os.PathLike | None = None,
        resume: str | os.PathLike | None = None,
        progress: bool = True,
        callback: Callable[[int, dict], bool | None] | None = None,
    ) -> DiscoveryResult:
        """Train generator and discriminator adversarially; return the found generators.

        Args:
            x: data (N, n), trajectories (N, T, n), point clouds (N, P, n) or images
                (N, C, H, W) for the image action; real or complex.
            y: optional targets / labels (N, ...); transformed by ρ_Y.
            epochs: number of passes over the data (total, including resumed ones).
            truth: optional ground-truth generators (c', n, n): similarity per epoch in history.
            point_mask: (N, P) bool, True for real points of padded point clouds.
            features: (N, P, f) per-point invariant features (e.g. atom types), untransformed.
            steps: T for flat trajectories x (N, T·n): reshaped to (N, T, n) (Kronecker tying).
            steps_per_epoch: cap on the batches of one epoch (a random subset each epoch).
            checkpoint: file written atomically at the end of every epoch.
            resume: checkpoint to continue from (same settings and data); the result is the
                same as an uninterrupted run.
            progress: show a tqdm progress bar.
            callback: ``callback(epoch, row)`` after every epoch (``row``: that epoch's
                history values); returning True stops training.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        n = self._generator_args["n"]
        spec = self._discriminator_spec
        labels = spec == "embedding" or (
            spec == "auto"
            and y is not None
            and not torch.as_tensor(y[:1]).is_floating_point()
            and not torch.as_tensor(y[:1]).is_complex()
        )
        data = prepare_data(
            x,
            y,
            n=n,
            action_x=self.action_x,
            action_y=self.action_y,
            steps=steps,
            point_mask=point_mask,
            features=features,
            labels=labels,
            device=self.device,
        )
        if truth is not None:
            from .._validation import as_generators

            truth = as_generators(truth, name="truth").detach().cpu()
            if truth.shape[-1] != n:
                raise ValueError(f"truth acts on dimension {truth.shape[-1]} but n = {n}")

        G = self.generator = self._build_generator()
        D = self.discriminator = self._build_discriminator(data)
        opt_g = (
            torch.optim.Adam(G.parameters(), lr=self.lr_g, betas=self.betas)
            if any(True for _ in G.parameters())
            else None
        )
        opt_d = torch.optim.Adam(D.parameters(), lr=self.lr_d, betas=self.betas_d)
        # the averaged generator (ema > 0) is a copy of G whose parameters trail G's
        G_avg = self.generator_average = _Average(G, self.ema) if self.ema > 0 else None
        rng_sample = torch.Generator(device=self.device).manual_seed(self.seed + 2)
        rng_shuffle = torch.Generator().manual_seed(self.seed + 3)
        modules = {"generator": G, "discriminator": D, "opt_d": opt_d}
        if opt_g is not None:
            modules["opt_g"] = opt_g
        if G_avg is not None:
            modules["generator_average"] = G_avg
        rngs = {"sample": rng_sample, "shuffle": rng_shuffle}
        config = self.config()
        fingerprint = data.fingerprint()

        start, history = 0, History()
        if resume is not None:
            start, saved = Checkpointer.restore(
                resume, modules=modules, rngs=rngs, config=config, data=fingerprint
            )
            history = History(saved)
        clock = Clock(history.data["time"][-1] if history.data.get("time") else 0.0)
        ckpt = Checkpointer(checkpoint)
        bar = progress_bar(epochs, min(start, epochs), progress, "LieGAN")
        try:
            for epoch in range(start, epochs):
                G.train()
                D.train()
                if opt_g is not None:
                    for group in opt_g.param_groups:
                        group["lr"] = self.lr_g * self.lr_decay**epoch
                self._identity_weight = self.identity_weight * self.identity_decay**epoch
                self._sparsity_weight = self.sparsity_weight * (epoch >= self.sparsity_start)
                if hasattr(G.coefficients, "set_epoch"):  # SymmetryGAN has no γ
                    G.coefficients.set_epoch(epoch)
                batches = batch_indices(
                    data.n_samples, self.batch_size, rng_shuffle, steps_per_epoch
                )
                for i, idx in enumerate(batches):
                    update_g = opt_g is not None and i % self.d_steps == 0
                    self._step(
                        data.batch(idx.to(self.device)),
                        G,
                        D,
                        opt_g if update_g else None,
                        opt_d,
                        rng_sample,
                        history,
                    )
                    if update_g and G_avg is not None:
                        G_avg.update(G)
                found = G.generators if G_avg is None else G_avg.model.generators
                row = history.end_epoch(time=clock(), **truth_metrics(found, truth))
                ckpt.save(
                    epoch=epoch + 1,
                    modules=modules,
                    rngs=rngs,
                    history=history.data,
                    config=config,
                    data=fingerprint,
                )
                bar.update(1)
                bar.set_postfix(
                    {k: f"{v:.3g}" for k, v in row.items() if k != "time"}, refresh=False
                )
                if call_back(callback, epoch + 1, row):
                    break
        finally:
            bar.close()
        final = G if G_avg is None else G_avg.model
        self.result = DiscoveryResult(
            generators=final.generators.detach(),
            history=history.data,
            config=config,
            coefficients={k: v.detach().cpu() for k, v in final.coefficients.state_dict().items()},
        )
        return self.result

    def _step(self, batch, G, D, opt_g, opt_d, rng, history: History) -> None:
        """One discriminator update, preceded by a generator update when ``opt_g`` is given."""
        xb, yb, mb, fb = batch
        B = xb.shape[0]
        with torch.set_grad_enabled(opt_g is not None):
            _, g = G.sample(B, generator=rng)
            gx = self.action_x(g, xb, mb)
            gy = self.action_y(g, yb, mb) if yb is not None else None
        if opt_g is not None:
            self._generator_update(G, D, opt_g, xb, gx, gy, mb, fb, history)

        # discriminator: real (x, y) → 1, transformed → 0, in one forward pass
        cat = lambda a, b: None if a is None else torch.cat([a, b.detach()])
        logits = D(
            cat(xb, gx),
            cat(yb, gy) if yb is not None else None,
            point_mask=cat(mb, mb) if mb is not None else None,
            features=cat(fb, fb) if fb is not None else None,
        )
        target = torch.cat([torch.ones(B, device=xb.device), torch.zeros(B, device=xb.device)])
        loss_d = F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        history.step(loss_d=loss_d)

    def _generator_update(self, G, D, opt_g, xb, gx, gy, mb, fb, history: History) -> None:
        """Fool D (Eq. 4), stay away from the identity (Eq. 7), keep channels apart (Eq. 8)."""
        for p in D.parameters():
            p.requires_grad_(False)
        logits = D(gx, gy, point_mask=mb, features=fb)
        loss_adv = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        if isinstance(self.action_x, Image):
            reg_id = identity_regularizer(xb.flatten(1), gx.flatten(1))
        else:
            reg_id = identity_regularizer(xb, gx, mb)
        loss = loss_adv + self._identity_weight * reg_id
        reg_ch = torch.zeros((), device=xb.device)
        if G.n_channels > 1 and self.channel_weight > 0:
            reg_ch = channel_regularizer(G.generators, self.channel_similarity)
            loss = loss + self.channel_weight * reg_ch
        if self._sparsity_weight > 0:
            loss = loss + self._sparsity_weight * sparsity_regularizer(
                G.generators, self.sparsity_norm
            )
        if loss.requires_grad:
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
        for p in D.parameters():
            p.requires_grad_(True)
        history.step(loss_g=loss_adv, identity_reg=reg_id, channel_reg=reg_ch)


class _Average(nn.Module):
    """An exponential moving average of a module's parameters: p̄ ← β p̄ + (1 − β) p."""

    def __init__(self, module: nn.Module, decay: float):
        super().__init__()
        import copy

        self.decay = decay
        self.model = copy.deepcopy(module)
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        for avg, p in zip(self.model.parameters(), module.parameters(), strict=True):
            avg.lerp_(p.detach(), 1 - self.decay)
