"""Discriminators D(x, y) of LieGAN: logits that (x, y) is a real sample, not a transformed one.

All take ``forward(x, y=None, point_mask=None, features=None) -> (N,)`` logits (the sigmoid of
the paper's output is folded into the BCE-with-logits loss). Complex data enter as (Re, Im).

- :class:`MLPDiscriminator`: the paper's 3-layer MLP (512 hidden, LeakyReLU 0.2) on flat (x, y);
- :class:`EmbeddingDiscriminator`: class labels through an embedding, then the MLP (top tagging);
- :class:`DeepSetsDiscriminator`: permutation invariant over the points of a point cloud
  (N, P, n) with a padding mask, for sets such as molecules;
- :class:`PairwiseDiscriminator`: DeepSets plus a term over pairs of points that reads their
  distances, so D sees bond lengths (a stretch of a molecule), not only single atoms.

Optional random Fourier features of the input, z ↦ [sin(zB), cos(zB), z] with a fixed
B ~ N(0, s²) (Tancik et al., 2020), let an MLP learn high-frequency structure quickly — e.g. the
7-fold sawtooth of the C₇ task, which the plain MLP needs thousands of steps to resolve.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "DeepSetsDiscriminator",
    "EmbeddingDiscriminator",
    "FourierFeatures",
    "MLPDiscriminator",
    "PairwiseDiscriminator",
    "flat_features",
]


def flat_features(t: torch.Tensor | None, start_dim: int = 1) -> torch.Tensor | None:
    """Flatten from ``start_dim`` as real floats; complex entries become (Re, Im) pairs."""
    if t is None:
        return None
    if t.is_complex():
        t = torch.view_as_real(t)
    t = t.reshape(*t.shape[:start_dim], -1)
    return t if t.is_floating_point() else t.to(torch.get_default_dtype())


class FourierFeatures(nn.Module):
    """z (..., d) ↦ [sin(zB), cos(zB), z] (..., 2m + d), B ~ N(0, scale²) of shape (d, m), fixed."""

    def __init__(self, in_features: int, n_features: int, scale: float = 1.0):
        super().__init__()
        if n_features < 1 or not scale > 0:
            raise ValueError(f"need n_features >= 1 and scale > 0, got {n_features}, {scale}")
        self.register_buffer("B", torch.randn(in_features, n_features) * scale)
        self.out_features = 2 * n_features + in_features

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        p = z @ self.B.to(z.dtype)
        return torch.cat([p.sin(), p.cos(), z], dim=-1)


def _encoder(in_features: int, fourier_features: int, fourier_scale: float):
    """Identity or Fourier features, and the resulting width."""
    if not fourier_features:
        return nn.Identity(), in_features
    ff = FourierFeatures(in_features, fourier_features, fourier_scale)
    return ff, ff.out_features


def _mlp(sizes: list[int], negative_slope: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(negative_slope))
    return nn.Sequential(*layers)


def _check_layers(n_layers: int, hidden: int) -> None:
    if n_layers < 1 or hidden < 1:
        raise ValueError(f"n_layers and hidden must be >= 1, got {n_layers}, {hidden}")


class MLPDiscriminator(nn.Module):
    """D(x, y) = MLP([x; y]): ``n_layers`` linear layers, ``hidden`` units, LeakyReLU.

    Args:
        in_features: number of real features of flat x plus flat y.
        hidden: hidden width (paper: 512).
        n_layers: number of linear layers (paper: 3).
        negative_slope: LeakyReLU slope (paper: 0.2).
        fourier_features: number m of random Fourier features of the input (0: none, paper).
        fourier_scale: standard deviation of their frequencies.
    """

    def __init__(
        self,
        in_features: int,
        hidden: int = 512,
        n_layers: int = 3,
        negative_slope: float = 0.2,
        fourier_features: int = 0,
        fourier_scale: float = 1.0,
    ):
        super().__init__()
        _check_layers(n_layers, hidden)
        self.in_features = in_features
        self.encode, width = _encoder(in_features, fourier_features, fourier_scale)
        self.net = _mlp([width] + [hidden] * (n_layers - 1) + [1], negative_slope)

    def forward(self, x, y=None, point_mask=None, features=None) -> torch.Tensor:
        parts = [flat_features(x)]
        if features is not None:
            parts.append(flat_features(features))
        if y is not None:
            parts.append(flat_features(y).to(parts[0].dtype))
        return self.net(self.encode(torch.cat(parts, dim=1))).squeeze(-1)


class EmbeddingDiscriminator(nn.Module):
    """D(x, y) = MLP([x; E(y)]) with a learned embedding E of integer class labels y (N,).

    Args:
        x_features: number of real features of flat x.
        n_classes: number of classes.
        embedding_dim: size of E(y) (32 in the paper's code).
        hidden, n_layers, negative_slope, fourier_features, fourier_scale: as
            :class:`MLPDiscriminator` (the Fourier features encode x).
    """

    def __init__(
        self,
        x_features: int,
        n_classes: int,
        embedding_dim: int = 32,
        hidden: int = 512,
        n_layers: int = 3,
        negative_slope: float = 0.2,
        fourier_features: int = 0,
        fourier_scale: float = 1.0,
    ):
        super().__init__()
        _check_layers(n_layers, hidden)
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}")
        self.n_classes = n_classes
        self.embedding = nn.Embedding(n_classes, embedding_dim)
        self.encode, width = _encoder(x_features, fourier_features, fourier_scale)
        self.net = _mlp([width + embedding_dim] + [hidden] * (n_layers - 1) + [1], negative_slope)

    def forward(self, x, y=None, point_mask=None, features=None) -> torch.Tensor:
        if y is None:
            raise ValueError("EmbeddingDiscriminator needs class labels y")
        h = [flat_features(x)]
        if features is not None:
            h.append(flat_features(features))
        h = [self.encode(torch.cat(h, dim=1))]
        h.append(self.embedding(y.reshape(y.shape[0], -1)[:, 0].long()).to(h[0].dtype))
        return self.net(torch.cat(h, dim=1)).squeeze(-1)


class DeepSetsDiscriminator(nn.Module):
    """Permutation-invariant D over point clouds: ρ([pool_p φ(x_p, f_p); y]).

    φ is an MLP on each point (its coordinates and optional invariant per-point ``features``,
    e.g. one-hot atom types); the pooling is the masked mean and the masked sum / P (so the set
    size is visible); ρ is an MLP on the pooled vector and the (flat) target y or an embedding
    of class labels.

    Args:
        point_dim: real features per point (n, or 2n for complex).
        point_features: size of the per-point invariant features (0 for none).
        y_features: real features of flat y (0 for none); ignored when ``n_classes`` is set.
        n_classes: embed integer labels y instead of reading them as numbers.
        hidden: width of φ and ρ.
        negative_slope: LeakyReLU slope.
        fourier_features, fourier_scale: random Fourier features of each point's coordinates.
    """

    def __init__(
        self,
        point_dim: int,
        point_features: int = 0,
        y_features: int = 0,
        n_classes: int | None = None,
        hidden: int = 256,
        negative_slope: float = 0.2,
        embedding_dim: int = 32,
        fourier_features: int = 0,
        fourier_scale: float = 1.0,
    ):
        super().__init__()
        _check_layers(1, hidden)
        self.encode, width = _encoder(point_dim, fourier_features, fourier_scale)
        self.phi = _mlp([width + point_features, hidden, hidden, hidden], negative_slope)
        self.embedding = nn.Embedding(n_classes, embedding_dim) if n_classes else None
        y_in = embedding_dim if n_classes else y_features
        self.act = nn.LeakyReLU(negative_slope)
        self.rho = _mlp([2 * hidden + y_in, hidden, hidden, 1], negative_slope)

    def set_terms(self, x, point_mask=None, features=None) -> list[torch.Tensor]:
        """Further pooled, permutation-invariant terms (N, ·) for ρ; none in plain DeepSets."""
        return []

    def forward(self, x, y=None, point_mask=None, features=None) -> torch.Tensor:
        if x.ndim != 3:
            raise ValueError(
                f"{type(self).__name__} needs point clouds (N, P, n), got {tuple(x.shape)}"
            )
        N, P = x.shape[:2]
        h = self.encode(flat_features(x, 2))
        if features is not None:
            h = torch.cat([h, flat_features(features, 2).to(h.dtype)], dim=-1)
        h = self.act(self.phi(h))  # (N, P, hidden)
        if point_mask is None:
            m = torch.ones(N, P, 1, dtype=h.dtype, device=h.device)
        else:
            m = point_mask[..., None].to(h.dtype)
        total = (h * m).sum(1)
        pooled = [total / m.sum(1).clamp_min(1.0), total / P]
        pooled += [t.to(h.dtype) for t in self.set_terms(x, point_mask, features)]
        if y is not None:
            if self.embedding is not None:
                pooled.append(self.embedding(y.reshape(N, -1)[:, 0].long()).to(h.dtype))
            else:
                pooled.append(flat_features(y).to(h.dtype))
        return self.rho(torch.cat(pooled, dim=1)).squeeze(-1)


class PairwiseDiscriminator(DeepSetsDiscriminator):
    """DeepSets plus pairs: ρ([pool_p φ(x_p, f_p); pool_{p≠q} ψ(f_p, f_q, e(d_pq)); y]).

    d_pq = ‖x_p − x_q‖ over the first ``spatial_dims`` coordinates (3 for affine atoms
    (x, y, z, 1)); e(d) = [d, exp(−(d − μ_k)² / 2σ²)] with K Gaussians evenly spaced on
    [0, ``distance_max``] (σ their spacing), so ψ resolves lengths at the spacing's scale.
    The pair term sees only distances and invariant features: a rotation or translation of
    every point leaves it unchanged, a stretch does not. Pairs are pooled as the masked mean
    and the masked sum / P² over the real p ≠ q. A single-atom DeepSets sees only the
    marginal of one atom and cannot tell a molecule from its stretched copy when the
    marginals agree; this one can.

    Args:
        point_dim: as :class:`DeepSetsDiscriminator`, like ``point_features``, ``y_features``,
            ``n_classes``, ``hidden``, ``negative_slope``, ``embedding_dim``,
            ``fourier_features`` and ``fourier_scale``.
        spatial_dims: how many leading coordinates the distances use (None: all of them).
        distance_features: number K of Gaussians of the distance. (default: ``16``)
        distance_max: the last Gaussian's centre, in the data's units. (default: ``5.0``)

    Shapes: x (N, P, point_dim), point_mask (N, P), features (N, P, point_features) →
    logits (N,).
    """

    def __init__(
        self,
        point_dim: int,
        point_features: int = 0,
        y_features: int = 0,
        n_classes: int | None = None,
        hidden: int = 256,
        negative_slope: float = 0.2,
        embedding_dim: int = 32,
        fourier_features: int = 0,
        fourier_scale: float = 1.0,
        spatial_dims: int | None = None,
        distance_features: int = 16,
        distance_max: float = 5.0,
    ):
        super().__init__(
            point_dim,
            point_features,
            y_features,
            n_classes,
            hidden,
            negative_slope,
            embedding_dim,
            fourier_features,
            fourier_scale,
        )
        if spatial_dims is not None and not 1 <= spatial_dims <= point_dim:
            raise ValueError(f"spatial_dims must be in [1, {point_dim}], got {spatial_dims}")
        if distance_features < 1 or not distance_max > 0:
            raise ValueError(
                "need distance_features >= 1 and distance_max > 0, "
                f"got {distance_features}, {distance_max}"
            )
        self.spatial_dims, self.point_features = spatial_dims, point_features
        self.register_buffer("centres", torch.linspace(0.0, distance_max, distance_features))
        self.width = distance_max / max(distance_features - 1, 1)
        pair_in = 2 * point_features + 1 + distance_features
        self.psi = _mlp([pair_in, hidden, hidden], negative_slope)
        y_in = embedding_dim if n_classes else y_features
        self.rho = _mlp([4 * hidden + y_in, hidden, hidden, 1], negative_slope)

    def pair_term(self, x, point_mask=None, features=None) -> torch.Tensor:
        """The pooled pair features (N, 2·hidden): [mean, sum / P²] of ψ over real pairs p ≠ q."""
        N, P = x.shape[:2]
        pos = flat_features(x, 2)[..., : self.spatial_dims]
        diff = pos[:, :, None] - pos[:, None]  # (N, P, P, s)
        d = diff.pow(2).sum(-1).add(1e-12).sqrt()[..., None]  # smooth at d = 0 (the diagonal)
        rbf = torch.exp(-0.5 * ((d - self.centres.to(d.dtype)) / self.width) ** 2)
        parts = [d, rbf]
        if self.point_features:
            if features is None:
                raise ValueError(f"expected features (N, P, {self.point_features})")
            f = flat_features(features, 2).to(d.dtype)
            parts = [f[:, :, None].expand(-1, -1, P, -1), f[:, None].expand(-1, P, -1, -1), *parts]
        m = torch.ones(N, P, dtype=torch.bool, device=x.device)
        if point_mask is not None:
            m = point_mask.bool()
        eye = torch.eye(P, dtype=torch.bool, device=x.device)
        pair = m[:, :, None] & m[:, None] & ~eye  # (N, P, P): real p ≠ q
        # ψ only on the real pairs (padding is most of P² for molecules), summed per cloud
        h = self.act(self.psi(torch.cat(parts, dim=-1)[pair]))  # (pairs, hidden)
        total = h.new_zeros(N, h.shape[-1]).index_add_(0, pair.nonzero()[:, 0], h)
        count = pair.sum((1, 2)).to(h.dtype)[:, None]
        return torch.cat([total / count.clamp_min(1.0), total / P**2], dim=1)

    def set_terms(self, x, point_mask=None, features=None) -> list[torch.Tensor]:
        return [self.pair_term(x, point_mask, features)]

    def extra_repr(self) -> str:
        return (
            f"spatial_dims={self.spatial_dims}, distance_features={len(self.centres)}, "
            f"distance_max={float(self.centres[-1]):.3g}"
        )
