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
from torch.optim.swa_utils import AveragedModel

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
from .actions import Affine, Image, as_action
from .coefficients import CoefficientDistribution
from .discriminators import (
    DeepSetsDiscriminator,
    EmbeddingDiscriminator,
    MLPDiscriminator,
    PairwiseDiscriminator,
    flat_features,
)
from .evaluation import fooled, select_best, span_change, truth_metrics
from .generator import LieGenerator
from .regularizers import channel_regularizer, identity_regularizer, sparsity_regularizer
from .result import DiscoveryResult
from .settings import LossSettings, ModelSettings, OptimSettings, RunSettings, settings_from

__all__ = ["LieGAN"]


class LieGAN:
    r"""Discover a Lie algebra basis from data (Eq. 1–10).

    The settings come in four groups (:mod:`liegnn.discovery.settings`): ``model``
    (:class:`ModelSettings`: discriminator, γ, initialisation), ``losses`` (:class:`LossSettings`:
    λ, η, sparsity), ``optim`` (:class:`OptimSettings`: Adam rates and betas, schedules, batch,
    moving average) and ``run`` (:class:`RunSettings`: epoch cap, stopping rule, restarts). Any
    field may also be given by its flat name, ``LieGAN(3, lr_g=5e-3, stop_tol=None)``; it replaces
    that field of its group. The defaults find continuous symmetries of new data in seconds; the
    paper's settings are ``LieGAN.paper(n, c)`` (or ``preset="paper"``).

    Args:
        n: size of the generator matrices (the data's last axis; n+1 with ``rep_x="affine"``).
        n_channels: c, number of generators L_i.
        model, losses, optim, run: settings groups (None: the preset's).
        preset: "default" (general, fast) or "paper" (the paper code's settings).
        mask: search-space mask (n, n) or (c, n, n), see :mod:`liegnn.discovery.masks`.
        complex: complex generators (complex data, e.g. su(2)).
        rep_x: ρ_X, an action name ("standard", "affine", "image"), a callable g ↦ ρ(g) or an
            :class:`~liegnn.discovery.actions.Action`.
        rep_y: ρ_Y: "trivial" (invariant targets, labels), "standard" (the same representation,
            equivariant time series), or a user representation.
        learn_generators: ``False`` fixes L = ``init`` and learns γ only (subgroup discovery).
        seed: seeds initialisation, sampling of g and shuffling: same seed, same result.
        device: "cpu", "cuda", …
        **overrides: fields of the groups by name (``hidden``, ``lr_g``, ``ema``, ``stop_tol``,
            …); an unknown name raises a TypeError.

    After :meth:`fit`, ``generator`` and ``discriminator`` hold the trained modules, and
    ``generator_average`` the :class:`torch.optim.swa_utils.AveragedModel` of the generator
    (``ema > 0``).
    """

    def __init__(
        self,
        n: int,
        n_channels: int = 1,
        *,
        model: ModelSettings | None = None,
        losses: LossSettings | None = None,
        optim: OptimSettings | None = None,
        run: RunSettings | None = None,
        preset: str = "default",
        mask=None,
        complex: bool = False,
        rep_x="standard",
        rep_y="trivial",
        learn_generators: bool = True,
        seed: int = 0,
        device="cpu",
        **overrides,
    ):
        if isinstance(n_channels, bool) or not isinstance(n_channels, int) or n_channels < 1:
            raise ValueError(f"n_channels must be an integer >= 1, got {n_channels!r}")
        groups = settings_from(
            preset, dict(model=model, losses=losses, optim=optim, run=run), **overrides
        )
        self.preset = preset
        self.model: ModelSettings = groups["model"]
        self.losses: LossSettings = groups["losses"]
        self.optim: OptimSettings = groups["optim"]
        self.run: RunSettings = groups["run"]
        self.action_x, self.action_y = as_action(rep_x), as_action(rep_y)
        self.device = as_device(device)
        self.seed = int(seed)
        m = self.model
        self._generator_args = dict(
            n=n,
            n_channels=n_channels,
            coefficients=m.coefficients,
            coefficient_options=m.coefficient_options,
            mask=mask,
            complex=complex,
            init=m.init,
            init_scale=m.init_scale,
            learn_generators=learn_generators,
            expm=m.expm,
        )
        self.generator = self._build_generator()
        self.discriminator: nn.Module | None = None
        self.generator_average: AveragedModel | None = None
        self.result: DiscoveryResult | None = None
        self.results: list[DiscoveryResult] = []

    @classmethod
    def paper(cls, n: int, n_channels: int = 1, **options) -> LieGAN:
        """The paper code's settings: 512 hidden, Adam 1e-3 / 2e-4, batch 64, λ = 0.01, η = 1,
        no schedules or average, 100 full epochs without a stopping rule; ``options`` on top."""
        return cls(n, n_channels, preset="paper", **options)

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
        spec = self.model.discriminator
        hidden = self.model.hidden
        fourier = dict(
            fourier_features=self.model.fourier_features, fourier_scale=self.model.fourier_scale
        )
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
                D = MLPDiscriminator(flat_features(x0).shape[1] + y_feat + extra, hidden, **fourier)
            elif spec == "embedding":
                if not labels:
                    raise ValueError("the embedding discriminator needs integer class labels y")
                extra = 0 if data.features is None else flat_features(data.features[:1]).shape[1]
                n_classes = int(data.y.max()) + 1
                D = EmbeddingDiscriminator(
                    flat_features(x0).shape[1] + extra,
                    n_classes,
                    hidden=hidden,
                    **fourier,
                )
            elif spec in ("deepsets", "pairwise"):
                if data.x.ndim != 3:
                    raise ValueError(f"the {spec} discriminator needs point clouds x (N, P, n)")
                point_dim = flat_features(x0, 2).shape[-1]
                sets = dict(
                    point_features=f_feat,
                    y_features=0 if labels else y_feat,
                    n_classes=int(data.y.max()) + 1 if labels else None,
                    hidden=min(hidden, 256),
                    **fourier,
                )
                if spec == "deepsets":
                    D = DeepSetsDiscriminator(point_dim, **sets)
                else:
                    D = PairwiseDiscriminator(point_dim, spatial_dims=self._spatial_dims(), **sets)
            else:
                raise ValueError(
                    "discriminator must be 'auto', 'mlp', 'embedding', 'deepsets', 'pairwise' or "
                    f"an nn.Module, got {spec!r}"
                )
        return D.to(self.device)

    def _spatial_dims(self) -> int | None:
        """Coordinates the pairwise discriminator's distances use: the first n − 1 when the
        generators act on homogeneous coordinates (x, 1) as n × n matrices (a mask whose last
        row is zero, e.g. ``masks.affine(3)``, keeps the 1), else all of them."""
        mask = self._generator_args.get("mask")
        n = self._generator_args["n"]
        if isinstance(self.action_x, Affine) or mask is None or not isinstance(mask, torch.Tensor):
            return None
        last_rows = mask.reshape(-1, n, n)[:, -1]
        return n - 1 if n > 1 and not last_rows.any() else None

    def config(self) -> dict:
        """The settings that determine a run (JSON-serialisable; checked when resuming): the
        data-independent arguments, then every field of the four settings groups."""
        g = self._generator_args
        return {
            "method": "LieGAN",
            "n": g["n"],
            "n_channels": g["n_channels"],
            "masked": g["mask"] is not None,
            "complex": bool(g["complex"]),
            "rep_x": repr(self.action_x),
            "rep_y": repr(self.action_y),
            "learn_generators": g["learn_generators"],
            "preset": self.preset,
            **self.model.to_config(),
            **self.losses.to_config(),
            **self.optim.to_config(),
            **self.run.to_config(),
            "seed": self.seed,
        }

    # -- training ----------------------------------------------------------------------------
    def fit(
        self,
        x,
        y=None,
        *,
        epochs: int | None = None,
        truth=None,
        point_mask=None,
        features=None,
        steps: int | None = None,
        steps_per_epoch: int | None | str = "auto",
        checkpoint: str | os.PathLike | None = None,
        resume: str | os.PathLike | None = None,
        progress: bool = True,
        callback: Callable[[int, dict], bool | None] | None = None,
        restarts: int | None = None,
        workers: int = 1,
    ) -> DiscoveryResult:
        """Train generator and discriminator adversarially; return the found generators.

        Args:
            x: data (N, n), trajectories (N, T, n), point clouds (N, P, n) or images
                (N, C, H, W) for the image action; real or complex.
            y: optional targets / labels (N, ...); transformed by ρ_Y.
            epochs: the cap on epochs (total, including resumed ones); None: ``run.epochs``.
                Training stops earlier by the stopping rule (``run.stop_tol``) or the callback.
            truth: optional ground-truth generators (c', n, n): similarity per epoch in history.
            point_mask: (N, P) bool, True for real points of padded point clouds.
            features: (N, P, f) per-point invariant features (e.g. atom types), untransformed.
            steps: T for flat trajectories x (N, T·n): reshaped to (N, T, n) (Kronecker tying).
            steps_per_epoch: batches of one epoch (a random subset each epoch; None: one whole
                pass); "auto": ``run.steps_per_epoch``.
            checkpoint: file written atomically at the end of every epoch.
            resume: checkpoint to continue from (same settings and data); the result is the
                same as an uninterrupted run.
            progress: show a tqdm progress bar.
            callback: ``callback(epoch, row)`` after every epoch (``row``: that epoch's
                history values); returning True stops training.
            restarts: train this many runs with seeds seed, seed + 1, … and return the one
                :func:`~liegnn.discovery.select_best` picks (no truth used); None:
                ``run.restarts``. All runs are in ``self.results``, and the chosen result's
                ``config["runs"]`` summarises them (as after retries, ``run.retries``).
                Checkpoints get a ``-seed<s>`` suffix.
            workers: processes for the restarts (see :func:`~liegnn.discovery.fit_seeds`);
                with more than one, ``generator`` and ``discriminator`` are not kept.

        The result's ``config["stop"]`` says why training ended: ``"converged"`` (the stopping
        rule), ``"epochs"`` (the cap) or ``"callback"``, and after how many epochs; the history's
        ``span_change`` is the move of the generators' span in each epoch and ``span_drift``
        its move over the last ``run.stop_patience`` epochs, which the rule looks at.
        """
        restarts = self.run.restarts if restarts is None else restarts
        if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
            raise ValueError(f"restarts must be a positive integer, got {restarts!r}")
        options = dict(
            epochs=epochs,
            truth=truth,
            point_mask=point_mask,
            features=features,
            steps=steps,
            steps_per_epoch=steps_per_epoch,
            checkpoint=checkpoint,
            resume=resume,
            progress=progress,
            callback=callback,
        )
        if restarts > 1:
            return self._fit_restarts(x, y, restarts, workers, options)
        result = self._fit_once(x, y, **options)
        if self.run.retries == 0 or not _stuck(result):
            self.results = [result]
            return result
        # retries: the next seeds, one at a time, until one does not settle on a non-symmetry
        from .seeds import _per_seed

        factory, tried = _Reseeded(self), [result]
        while len(tried) <= self.run.retries and _stuck(tried[-1]):
            seed = self.seed + len(tried)
            retry = dict(options)
            for key in ("checkpoint", "resume"):
                if retry[key] is not None:
                    retry[key] = _per_seed(retry[key], seed)
            if retry["resume"] is not None and not retry["resume"].exists():
                retry["resume"] = None  # this retry had not started: begin it afresh
            tried.append(factory(seed=seed)._fit_once(x, y, **retry))
        return self._choose(tried, factory.made + [self])

    def _fit_restarts(self, x, y, restarts: int, workers: int, options: dict) -> DiscoveryResult:
        from .seeds import fit_seeds

        factory = _Reseeded(self, retries=0)
        results = fit_seeds(
            x,
            y,
            seeds=range(self.seed, self.seed + restarts),
            method=factory,
            workers=workers,
            restarts=1,
            **options,
        )
        return self._choose(results, factory.made)

    def _choose(self, results: list, made: list) -> DiscoveryResult:
        """Keep the run ``select_best`` picks (its modules too, when trained here); summarise
        every run in its ``config["runs"]``."""
        best = select_best(results)
        chosen = int(best.config["seed"])
        best.config = dict(
            best.config,
            **{
                "runs": [
                    {
                        "seed": int(r.config["seed"]),
                        "epochs": len(r.history.get("loss_d", [])),
                        "loss_d": (r.history.get("loss_d") or [float("nan")])[-1],
                        "identity_reg": (r.history.get("identity_reg") or [float("nan")])[-1],
                        "stop": r.config.get("stop", {}).get("reason"),
                        "chosen": int(r.config["seed"]) == chosen,
                    }
                    for r in results
                ]
            },
        )
        fitted = [g for g in made if g.result is best]
        if fitted:  # in this process: keep the chosen run's modules
            src = fitted[0]
            self.generator, self.discriminator = src.generator, src.discriminator
            self.generator_average = src.generator_average
        else:
            self.discriminator, self.generator_average = None, None
        self.results, self.result = results, best
        return best

    def _fit_once(
        self,
        x,
        y=None,
        *,
        epochs,
        truth,
        point_mask,
        features,
        steps,
        steps_per_epoch,
        checkpoint,
        resume,
        progress,
        callback,
    ) -> DiscoveryResult:
        epochs = self.run.epochs if epochs is None else epochs
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        if isinstance(steps_per_epoch, str):
            if steps_per_epoch != "auto":
                raise ValueError(
                    f"steps_per_epoch must be an integer, None or 'auto', got {steps_per_epoch!r}"
                )
            steps_per_epoch = self.run.steps_per_epoch
        n = self._generator_args["n"]
        spec = self.model.discriminator
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

        o, loss_settings = self.optim, self.losses
        G = self.generator = self._build_generator()
        D = self.discriminator = self._build_discriminator(data)
        opt_g = (
            torch.optim.Adam(G.parameters(), lr=o.lr_g, betas=o.betas)
            if any(True for _ in G.parameters())
            else None
        )
        opt_d = torch.optim.Adam(D.parameters(), lr=o.lr_d, betas=o.betas_d)
        # the averaged generator (ema > 0): its parameters trail G's, p̄ ← β p̄ + (1 − β) p
        G_avg = self.generator_average = (
            AveragedModel(G, multi_avg_fn=WarmEMA(o.ema)) if o.ema > 0 else None
        )
        if G_avg is not None:
            G_avg.update_parameters(G)  # the first update copies G: the average starts at G
        rng_sample = torch.Generator(device=self.device).manual_seed(self.seed + 2)
        rng_shuffle = torch.Generator().manual_seed(self.seed + 3)
        modules = {"generator": G, "discriminator": D, "opt_d": opt_d}
        if opt_g is not None:
            modules["opt_g"] = opt_g
        if G_avg is not None:
            modules["generator_average"] = G_avg
        final = lambda: G if G_avg is None else G_avg.module
        window = modules["span_window"] = _SpanWindow(final().generators, self.run.stop_patience)
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
        stop = {"reason": "epochs", "epochs": max(start, epochs)}
        if start >= epochs or self._converged(history.data.get("span_drift", [])):
            stop = {"reason": "epochs" if start >= epochs else "converged", "epochs": start}
            epochs = start  # a finished run is not continued
        try:
            for epoch in range(start, epochs):
                G.train()
                D.train()
                if opt_g is not None:
                    for group in opt_g.param_groups:
                        group["lr"] = o.lr_g * o.lr_decay**epoch
                self._identity_weight = (
                    loss_settings.identity_weight * loss_settings.identity_decay**epoch
                )
                self._sparsity_weight = loss_settings.sparsity_weight * (
                    epoch >= loss_settings.sparsity_start
                )
                if hasattr(G.coefficients, "set_epoch"):  # SymmetryGAN has no γ
                    G.coefficients.set_epoch(epoch)
                batches = batch_indices(data.n_samples, o.batch_size, rng_shuffle, steps_per_epoch)
                for i, idx in enumerate(batches):
                    update_g = opt_g is not None and i % o.d_steps == 0
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
                        G_avg.update_parameters(G)
                found = final().generators.detach()
                moved, drift = window.push(found)
                row = history.end_epoch(
                    time=clock(), span_change=moved, span_drift=drift, **truth_metrics(found, truth)
                )
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
                    stop = {"reason": "callback", "epochs": epoch + 1}
                    break
                if self._converged(history.data["span_drift"]):
                    stop = {"reason": "converged", "epochs": epoch + 1}
                    break
        finally:
            bar.close()
        self.result = DiscoveryResult(
            generators=final().generators.detach(),
            history=history.data,
            config=dict(config, stop=stop),
            coefficients={
                k: v.detach().cpu() for k, v in final().coefficients.state_dict().items()
            },
        )
        self.results = [self.result]
        return self.result

    def _converged(self, drifts: list[float]) -> bool:
        """The stopping rule: at least ``min_epochs`` epochs, and the span moved less than
        ``stop_tol`` over the last ``stop_patience`` epochs (read from the history, so a resumed
        run stops exactly where an uninterrupted one would)."""
        r = self.run
        if r.stop_tol is None or len(drifts) < max(r.min_epochs, r.stop_patience):
            return False
        return drifts[-1] < r.stop_tol

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
        ls = self.losses
        if G.n_channels > 1 and ls.channel_weight > 0:
            reg_ch = channel_regularizer(G.generators, ls.channel_similarity)
            loss = loss + ls.channel_weight * reg_ch
        if self._sparsity_weight > 0:
            loss = loss + self._sparsity_weight * sparsity_regularizer(
                G.generators, ls.sparsity_norm
            )
        if loss.requires_grad:
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
        for p in D.parameters():
            p.requires_grad_(True)
        history.step(loss_g=loss_adv, identity_reg=reg_id, channel_reg=reg_ch)


class _SpanWindow(nn.Module):
    """The generators at the ends of the last k + 1 epochs, for the stopping rule (a module, so
    the checkpoint keeps them and a resumed run measures the same moves)."""

    def __init__(self, generators: torch.Tensor, k: int):
        super().__init__()
        self.register_buffer("past", generators.detach().expand(k + 1, *generators.shape).clone())

    def push(self, generators: torch.Tensor) -> tuple[float, float]:
        """Add this epoch's generators; returns the span's move in this epoch and over the
        last k epochs (since the start while fewer have passed)."""
        self.past = torch.cat([self.past[1:], generators.detach().unsqueeze(0)])
        return span_change(self.past[-2], self.past[-1]), span_change(self.past[0], self.past[-1])


def _stuck(result: DiscoveryResult) -> bool:
    """A run that settled (the stopping rule fired) on generators its discriminator still tells
    apart from symmetries, or on g ≈ I: a wrong equilibrium another seed may escape."""
    return result.config["stop"]["reason"] == "converged" and not fooled(result)


class WarmEMA:
    """``multi_avg_fn`` of :class:`~torch.optim.swa_utils.AveragedModel`: an exponential moving
    average p̄ ← β_t p̄ + (1 − β_t) p with the warm-up β_t = min(β, (1 + t) / (10 + t)), t the
    updates so far, so that a short run's average does not trail far behind its start."""

    def __init__(self, decay: float):
        self.decay = float(decay)

    @torch.no_grad()
    def __call__(self, averaged: list, current: list, n_averaged: torch.Tensor) -> None:
        t = float(n_averaged)
        beta = min(self.decay, (1.0 + t) / (10.0 + t))
        torch._foreach_lerp_(averaged, current, 1.0 - beta)


class _Reseeded:
    """``_Reseeded(gan)(seed=s)``: a copy of ``gan`` with seed s, for restarts (``fit_seeds``)."""

    def __init__(self, gan: LieGAN, **run):
        self.gan, self.run, self.made = gan, run, []

    def __call__(self, *, seed: int) -> LieGAN:
        import copy
        import dataclasses

        clone = copy.copy(self.gan)
        clone.seed = int(seed)
        if self.run:  # e.g. no retries inside restarts: the seeds would overlap
            clone.run = dataclasses.replace(clone.run, **self.run)
        clone.generator = clone._build_generator()
        clone.discriminator = clone.generator_average = clone.result = None
        clone.results = []
        self.made.append(clone)
        return clone

    def __getstate__(self):  # a worker process needs the settings, not the instances made here
        return {"gan": self.gan, "run": self.run, "made": []}
