"""The outcome of a symmetry discovery run: the found Lie algebra basis and its history."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .._optional import require
from .._validation import as_generators
from ..io import load_tensors, save_tensors

__all__ = ["DiscoveryResult", "load_generators"]

_FORMAT = "liegnn.discovery.result/1"


@dataclass
class DiscoveryResult:
    """A discovered Lie algebra basis.

    Attributes:
        generators: (c, n, n) found generators L_i (masked), real or complex.
        history: per-epoch lists, e.g. ``loss_d``, ``loss_g``, ``identity_reg``, ``time``, and
            when a ground truth was given ``channel_cosine``, ``subspace_similarity``, ``mae``.
        config: the settings of the run (JSON-serialisable).
        coefficients: state of the coefficient distribution γ (tensors), e.g. learned μ, σ.
        elements: optional (k, n, n) group elements (SymmetryGAN learns one).
    """

    generators: torch.Tensor
    history: dict[str, list] = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    coefficients: dict[str, torch.Tensor] = field(default_factory=dict)
    elements: torch.Tensor | None = None

    def __post_init__(self):
        self.generators = as_generators(self.generators).detach().cpu()

    @property
    def n_channels(self) -> int:
        return self.generators.shape[0]

    @property
    def n(self) -> int:
        return self.generators.shape[-1]

    @property
    def symmetry(self):
        """The found symmetry as a :class:`~liegnn.Symmetry` value: the generators, acting by
        the run's ρ_X when that is ``"standard"`` or ``"affine"`` (else the defining rep).
        Every consumer takes it:
        ``solve_metric(result.symmetry)``, ``LieGNN(result.symmetry, ...)``, ``EMLP``, …"""
        from ..symmetry import Symmetry

        rep = str(self.config.get("rep_x", "standard")).strip("()").lower()
        rep = "affine" if rep.startswith("affine") else "standard"
        return Symmetry(self.generators, rep=rep, name=self.config.get("method", "discovered"))

    def canonical(self, **options) -> torch.Tensor:
        """A readable basis of the same span (:func:`liegnn.algebra.canonicalize`)."""
        from ..algebra.canonical import canonicalize

        return canonicalize(self.generators, **options)

    def normalized(self) -> torch.Tensor:
        """Each channel scaled to Frobenius norm √n (the scale of a basis is arbitrary)."""
        from ..algebra.elements import normalize_channels

        return normalize_channels(self.generators)

    def compare(self, truth, *, match: bool | None = None) -> dict:
        """Similarity to a ground-truth basis (c', n, n), via :mod:`liegnn.algebra`.

        Returns a dict: ``channel_cosine`` (list, per found channel; channels paired by the best
        assignment when the counts differ or ``match=True``), ``mean_channel_cosine``,
        ``subspace_similarity`` (1.0 when the spans agree up to change of basis), and ``mae``
        (entry-wise, up to sign; only when the shapes agree).
        """
        from ..algebra.compare import channel_cosine, generator_mae, subspace_similarity

        T = as_generators(truth, name="truth")
        if T.shape[-1] != self.n:
            raise ValueError(f"truth acts on dimension {T.shape[-1]}, the result on {self.n}")
        L = self.generators.to(torch.promote_types(self.generators.dtype, T.dtype))
        T = T.to(L.dtype)
        if match is None:
            match = L.shape[0] != T.shape[0] or L.shape[0] > 1
        cos = channel_cosine(L, T, match=match)
        out = {
            "channel_cosine": [float(c) for c in cos],
            "mean_channel_cosine": float(cos.mean()),
            "subspace_similarity": subspace_similarity(L, T, real=True),
        }
        if L.shape == T.shape:
            out["mae"] = generator_mae(L, T, up_to_sign=True)
        return out

    def plot(
        self,
        path: str | os.PathLike | None = None,
        *,
        normalize: bool = False,
        titles=None,
        discrete: torch.Tensor | None = None,
        discrete_titles=None,
    ):
        """Heatmaps of each channel, as the paper's figures; complex: Re and Im rows.

        ``discrete`` (k, n, n) adds panels for group elements (e.g. the generators of a
        :class:`~liegnn.discovery.DiscreteResult`), titled by ``discrete_titles``; their entries
        share the colour scale [−1, 1] of a permutation matrix when no larger.

        Saves to ``path`` when given (PNG, PDF, …) and returns the matplotlib figure. It is a
        plain ``matplotlib.figure.Figure``: no pyplot state and no backend switch, so it works
        headless and shows inline in Jupyter alike.
        """
        require("matplotlib", "plot")
        from matplotlib.figure import Figure

        L = self.normalized() if normalize else self.generators
        parts = [("Re ", L.real), ("Im ", L.imag)] if L.is_complex() else [("", L)]
        c = L.shape[0]
        k = 0 if discrete is None else len(discrete)
        fig = Figure(figsize=(2.6 * (c + k) + 0.6, 2.4 * len(parts)))
        axes = fig.subplots(len(parts), c + k, squeeze=False)
        vmax = max(float(p.abs().max()) for _, p in parts) or 1.0
        for r, (prefix, P) in enumerate(parts):
            for i in range(c):
                ax = axes[r, i]
                im = ax.imshow(P[i].numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
                ax.set_xticks(range(self.n))
                ax.set_yticks(range(self.n))
                ax.tick_params(labelsize=6)
                name = titles[i] if titles is not None else f"L{i}"
                ax.set_title(f"{prefix}{name}", fontsize=9)
        fig.colorbar(im, ax=axes[:, :c].ravel().tolist(), shrink=0.8)
        if k:
            hmax = max(1.0, float(discrete.abs().max()))
            for i, h in enumerate(discrete.detach().cpu().to(torch.float64)):
                for r in range(len(parts)):
                    ax = axes[r, c + i]
                    ax.imshow(h.numpy(), cmap="RdBu_r", vmin=-hmax, vmax=hmax)
                    ax.set_xticks(range(self.n))
                    ax.set_yticks(range(self.n))
                    ax.tick_params(labelsize=6)
                    name = discrete_titles[i] if discrete_titles is not None else f"h{i}"
                    ax.set_title(f"discrete {name}", fontsize=9)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=100, bbox_inches="tight")
        return fig

    def save(self, path: str | os.PathLike) -> None:
        """Write the result atomically: ``.safetensors`` (tensors + JSON metadata) or otherwise a
        torch file readable with ``weights_only=True`` (no arbitrary pickle either way)."""
        tensors = {"generators": self.generators}
        if self.elements is not None:
            tensors["elements"] = self.elements.detach().cpu()
        for k, v in self.coefficients.items():
            tensors[f"coefficients.{k}"] = v.detach().cpu()
        meta = {"format": _FORMAT, "history": self.history, "config": self.config}
        save_tensors(path, tensors, meta)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DiscoveryResult:
        """Read a result written by :meth:`save` (safe formats only)."""
        tensors, meta = load_tensors(path)
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a saved DiscoveryResult")
        coeffs = {
            k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith("coefficients.")
        }
        return cls(
            generators=tensors["generators"],
            history=meta.get("history", {}),
            config=meta.get("config", {}),
            coefficients=coeffs,
            elements=tensors.get("elements"),
        )

    def __repr__(self) -> str:
        epochs = len(next(iter(self.history.values()), []))
        kind = "complex" if self.generators.is_complex() else "real"
        c, n = self.n_channels, self.n
        return f"DiscoveryResult({c} {kind} generators of size {n}, {epochs} epochs)"


def load_generators(path: str | os.PathLike) -> torch.Tensor:
    """(c, n, n) generators from a saved :class:`DiscoveryResult`, a ``.npy``/``.npz`` array
    (key ``generators`` or the only array) or a torch/safetensors file holding a tensor."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no generators file at {path}")
    if path.suffix in (".npy", ".npz"):
        import numpy as np

        try:
            data = np.load(path, allow_pickle=False)
            if path.suffix == ".npz":
                keys = list(data.keys())
                key = "generators" if "generators" in keys else None
                key = keys[0] if key is None and len(keys) == 1 else key
                if key is None:
                    raise ValueError(f"{path} holds several arrays {keys}; name one 'generators'")
                data = data[key]
            return as_generators(torch.from_numpy(np.asarray(data)), name=str(path))
        except (OSError, EOFError, TypeError, zipfile.BadZipFile) as err:
            raise ValueError(f"{path} is not a readable array file ({err})") from None
    tensors, meta = load_tensors(path)
    if "generators" not in tensors:
        raise ValueError(f"{path} holds no 'generators' tensor (keys: {sorted(tensors)})")
    return as_generators(tensors["generators"], name=str(path))
