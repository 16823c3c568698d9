"""Group actions ρ on data: how a batch of group elements g (N, n, n) transforms x or y.

One g per sample acts on every row of that sample: the last axis of x (N, n), of every time step
of a trajectory (N, T, n) — the Kronecker-tied representation I_T ⊗ g — and of every point of a
point cloud (N, P, n). Points outside ``point_mask`` (padding) are left untouched.

Built-in actions (``as_action`` names):

- ``"standard"`` (aliases ``"vector"``, ``"same"``): x ↦ g x on the last axis;
- ``"trivial"`` (aliases ``"scalar"``, ``None``): x ↦ x (invariant targets, labels);
- ``"affine"``: x ∈ R^n ↦ the first n entries of g (x, 1) for generators in homogeneous
  coordinates (n+1, n+1);
- ``"image"``: images (N, C, H, W) resampled so their content moves by the affine map g
  (3, 3) of pixel coordinates about the image centre (x right, y down);
- a callable ``rep(g) -> (N, m, m)``: a user representation, x ↦ rep(g) x on the last axis;
- a :class:`liegnn.reps.Rep` such as ``V * V`` or ``V + Scalar``: x ↦ ρ_rep(g) x on the last axis.

Every action on vectors transforms the data through :func:`liegnn.reps.act`, the one ρ of the
library (also used by the augmentation and the equivariance tests of the solver).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..reps import Rep, V, act

__all__ = [
    "Action",
    "Affine",
    "Image",
    "MatrixRepresentation",
    "RepAction",
    "Standard",
    "Trivial",
    "as_action",
]


class Action:
    """ρ: (g (N, n, n), data (N, ...)) ↦ transformed data of the same shape."""

    #: whether ρ(g) = id for every g (the data is never changed)
    trivial: bool = False

    def __call__(self, g: torch.Tensor, x: torch.Tensor, point_mask=None) -> torch.Tensor:
        raise NotImplementedError

    def check(self, x: torch.Tensor, n: int, name: str) -> None:
        """Raise ValueError when data of this shape cannot be acted on by (n, n) matrices."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Trivial(Action):
    """ρ(g) = id: labels and invariant targets."""

    trivial = True

    def __call__(self, g, x, point_mask=None):
        return x


class Affine(Action):
    """ρ(g) x = [g (x, 1)]_{:n}: affine maps from (n+1)×(n+1) generators in homogeneous form."""

    def __call__(self, g, x, point_mask=None):
        one = torch.ones_like(x[..., :1])
        gx = act(g, torch.cat([x, one], dim=-1))[..., :-1]
        if point_mask is not None:
            gx = torch.where(point_mask[..., None], gx, x)
        return gx

    def check(self, x, n, name):
        if x.ndim < 2 or x.shape[-1] != n - 1:
            raise ValueError(
                f"{name} must have shape (N, {n - 1}) or (N, P, {n - 1}) for affine generators "
                f"of size {n}×{n}, got {tuple(x.shape)}"
            )


class MatrixRepresentation(Action):
    """A user representation ρ given as a function g (N, n, n) ↦ ρ(g) (N, m, m)."""

    def __init__(self, rep: Callable[[torch.Tensor], torch.Tensor]):
        self.rep = rep

    def __call__(self, g, x, point_mask=None):
        R = self.rep(g)
        if R.ndim != 3 or R.shape[0] != g.shape[0] or R.shape[-1] != x.shape[-1]:
            raise ValueError(
                f"the representation returned shape {tuple(R.shape)}; expected "
                f"({g.shape[0]}, m, {x.shape[-1]}) for data of shape {tuple(x.shape)}"
            )
        return act(R, x, point_mask)

    def __repr__(self) -> str:
        return f"MatrixRepresentation({getattr(self.rep, '__name__', self.rep)!r})"


class RepAction(Action):
    """ρ_rep(g) x on the last axis for a representation of :mod:`liegnn.reps` (``V * V``, ...).

    E.g. ``as_action(V * V)`` maps flattened outer products x xᵀ (N, n²) to (g x)(g x)ᵀ.
    """

    def __init__(self, rep: Rep):
        self.rep = rep
        self.trivial = all(t.is_scalar for t, _ in rep.blocks(rep.n or 1))

    def __call__(self, g, x, point_mask=None):
        return self.rep.act(g, x, point_mask)

    def check(self, x, n, name):
        self.rep.check_n(n)
        d = self.rep.size(n)
        if x.ndim < 2 or x.shape[-1] != d:
            raise ValueError(
                f"{name} must have shape (N, {d}) or (N, T, {d}) for the representation "
                f"{self.rep!r} of {n}×{n} generators, got {tuple(x.shape)}"
            )

    def __repr__(self) -> str:
        return f"RepAction({self.rep!r})"


class Standard(RepAction):
    """ρ(g) x = g x on the last axis of every row (time step, point): ρ_V of :mod:`liegnn.reps`,
    applied to g directly (any matrices, real or complex: no ρ to build)."""

    def __init__(self):
        super().__init__(V)

    def __call__(self, g, x, point_mask=None):
        return act(g, x, point_mask)

    def __repr__(self) -> str:
        return "Standard()"


class Image(Action):
    """Images (N, C, H, W) moved by the affine map g of pixel coordinates about the centre.

    The content at pixel p moves to g p: the output samples the input at g⁻¹ p (bilinear,
    zeros outside). g is (N, 3, 3) in homogeneous coordinates (x right, y down, in pixels).
    """

    def __call__(self, g, x, point_mask=None):
        N, _, H, W = x.shape
        S = torch.diag(torch.tensor([W / 2, H / 2, 1.0], dtype=x.dtype, device=x.device))
        S_inv = torch.diag(torch.tensor([2 / W, 2 / H, 1.0], dtype=x.dtype, device=x.device))
        g_norm = S_inv @ g.to(x.dtype) @ S  # the same map in affine_grid's [-1, 1] coordinates
        theta = torch.linalg.inv(g_norm)[:, :2, :]
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, align_corners=False)

    def check(self, x, n, name):
        if n != 3:
            raise ValueError(
                f"the image action needs 3×3 affine generators of the plane, got n={n}"
            )
        if x.ndim != 4:
            raise ValueError(f"{name} must be images of shape (N, C, H, W), got {tuple(x.shape)}")


_NAMES = {
    "standard": Standard,
    "vector": Standard,
    "same": Standard,
    "trivial": Trivial,
    "scalar": Trivial,
    "affine": Affine,
    "image": Image,
}


def as_action(spec) -> Action:
    """An :class:`Action` from a name, a :class:`~liegnn.reps.Rep`, a callable representation
    g ↦ ρ(g), or an Action."""
    if spec is None:
        return Trivial()
    if isinstance(spec, Action):
        return spec
    if isinstance(spec, Rep):
        return RepAction(spec)
    if isinstance(spec, str):
        if spec.lower() not in _NAMES:
            raise ValueError(f"unknown action {spec!r}; choose one of {sorted(_NAMES)}")
        return _NAMES[spec.lower()]()
    if callable(spec):
        return MatrixRepresentation(spec)
    raise ValueError(
        f"an action must be a name, a Rep, a callable g -> rho(g), or an Action; got {spec!r}"
    )
