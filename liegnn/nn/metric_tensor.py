"""The metric tensor J of a LieGNN: from a name or a tensor, validated, fixed or learned."""

from __future__ import annotations

import math

import torch
from torch import nn

from .._validation import as_tensor

METRIC_NAMES = ("minkowski", "euclidean")


def resolve_metric(
    metric: str | torch.Tensor,
    dim: int | None = None,
    *,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    r"""Return a validated symmetric, nonsingular metric J of shape (n, n).

    Args:
        metric: ``"minkowski"`` (η = diag(1, −1, …, −1), n = ``dim`` or 4, the (E, px, py, pz)
            convention), ``"euclidean"`` (I, n = ``dim`` or 3), an (n, n) tensor / array, e.g.
            the output of :func:`liegnn.solve_metric`, or a symmetry (a :class:`~liegnn.Symmetry`,
            a discovery result, a known algebra's name such as ``"so(1,3)"``) whose invariant
            metric :meth:`~liegnn.Symmetry.metric` is used. A tensor is always J itself: wrap
            generators (c, n, n) as ``Symmetry(generators)``.
        dim: the dimension n for a named metric; for a tensor, checked against its size.
        dtype: floating dtype of the result (default: the tensor's own, else torch's default).

    Raises:
        ValueError: an unknown name, a non-square, non-finite, non-symmetric or singular matrix,
            or a ``dim`` that disagrees with the tensor.
    """
    if not isinstance(metric, str | torch.Tensor) and (
        hasattr(metric, "generators") or hasattr(metric, "symmetry")
    ):  # a Symmetry or a discovery result: its invariant metric
        from ..symmetry import as_symmetry

        J = as_symmetry(metric).metric()  # float32 modules get a float32 J, as for a name
        return resolve_metric(J, dim, dtype=dtype or torch.get_default_dtype())
    if isinstance(metric, str) and metric.lower() not in METRIC_NAMES:
        from ..symmetry import Symmetry

        try:
            sym = Symmetry.known(metric)
        except ValueError:
            raise ValueError(
                f"unknown metric {metric!r}; use one of {METRIC_NAMES}, a known algebra's name "
                "(so(1,3), so(3), ...), a Symmetry or a tensor"
            ) from None
        return resolve_metric(sym.metric(), dim, dtype=dtype or torch.get_default_dtype())
    if isinstance(metric, str):
        name = metric.lower()
        n = dim if dim is not None else (4 if name == "minkowski" else 3)
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        diag = torch.ones(n, dtype=dtype or torch.get_default_dtype())
        if name == "minkowski":
            diag[1:] = -1.0
        return torch.diag(diag)

    J = as_tensor(metric, name="metric")
    if not J.is_floating_point():
        if J.is_complex():
            raise ValueError("metric must be a real matrix, got a complex tensor")
        J = J.to(torch.get_default_dtype())
    if dtype is not None:
        J = J.to(dtype)
    if J.ndim != 2 or J.shape[0] != J.shape[1] or J.shape[0] < 1:
        hint = "; for generators (c, n, n) pass Symmetry(generators)" if J.ndim == 3 else ""
        raise ValueError(f"metric must be a square (n, n) matrix, got shape {tuple(J.shape)}{hint}")
    if dim is not None and J.shape[0] != dim:
        raise ValueError(f"metric has size {J.shape[0]}, but dim={dim} was given")
    eps = torch.finfo(J.dtype).eps
    J64 = J.detach().to(torch.float64)
    scale = J64.abs().max()
    if scale == 0:
        raise ValueError("metric is singular: it is the zero matrix")
    asym = (J64 - J64.T).abs().max() / scale
    if asym > 100 * eps:
        raise ValueError(
            f"metric must be symmetric: max |J - Jᵀ| / max |J| = {asym:.3g} (J ↦ (J + Jᵀ)/2 "
            "gives the same bilinear form on x Jx if that is what you meant)"
        )
    sv = torch.linalg.svdvals(J64)
    if sv[-1] <= J.shape[0] * eps * sv[0]:
        raise ValueError(
            f"metric is singular: smallest / largest singular value = {(sv[-1] / sv[0]):.3g}; "
            "J must be nonsingular so that ⟨x, y⟩_J is a non-degenerate form"
        )
    return 0.5 * (J + J.T)


class MetricTensor(nn.Module):
    r"""A metric J on ℝⁿ and its bilinear form ⟨x, y⟩_J = xᵀ J y.

    A fixed J is a buffer (moves with ``.to()``, saved in ``state_dict``, never trained). A
    learnable J is parameterised as J = (A + Aᵀ)/2 with A initialised to the given metric, so it
    stays symmetric under any update.

    Args:
        metric: a name or (n, n) tensor, see :func:`resolve_metric`.
        dim: dimension for a named metric. (default: ``None``)
        learnable: learn J by gradient descent. (default: ``False``)
    """

    def __init__(
        self,
        metric: str | torch.Tensor = "minkowski",
        dim: int | None = None,
        learnable: bool = False,
    ):
        super().__init__()
        J = resolve_metric(metric, dim).clone()
        self.learnable = learnable
        if learnable:
            self.weight = nn.Parameter(J)
        else:
            self.register_buffer("J", J)

    @property
    def dim(self) -> int:
        return (self.weight if self.learnable else self.J).shape[0]

    def forward(self) -> torch.Tensor:
        """The current (n, n) symmetric J."""
        if self.learnable:
            return 0.5 * (self.weight + self.weight.T)
        return self.J

    def inner(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """⟨x, y⟩_J over the last axis: (..., n), (..., n) -> (...)."""
        return ((x @ self()) * y).sum(-1)

    def norm2(self, x: torch.Tensor) -> torch.Tensor:
        """‖x‖²_J = ⟨x, x⟩_J (indefinite for a Lorentzian J): (..., n) -> (...)."""
        return self.inner(x, x)

    def max_coordinate(self, dtype: torch.dtype) -> torch.Tensor:
        r"""The bound on max_k |x_k| below which the J-products cannot overflow ``dtype``.

        |⟨x − y, x − y⟩_J| ≤ ‖J‖₂ ‖x − y‖² ≤ 4 n ‖J‖_F max_k |x_k|², and so are all partial sums
        of x − y ↦ (x − y)ᵀ J (x − y), hence the bound √(max(dtype) / (4 n ‖J‖_F)): a 0-dim
        tensor of ``dtype`` on J's device (3.3·10¹⁸ for η in float32, 2.4·10¹⁵³ in float64).
        """
        J = self().detach().to(dtype)
        return math.sqrt(torch.finfo(dtype).max) / (4 * self.dim * torch.linalg.norm(J)).sqrt()

    def extra_repr(self) -> str:
        return f"dim={self.dim}, learnable={self.learnable}"
