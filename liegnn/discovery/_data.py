"""Validation of the training data shared by LieGAN and the baselines (before any training)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validation import as_tensor
from .actions import Action


@dataclass
class Batchable:
    """Validated tensors on one device; every field has N rows (or is None)."""

    x: torch.Tensor
    y: torch.Tensor | None
    point_mask: torch.Tensor | None
    features: torch.Tensor | None

    @property
    def n_samples(self) -> int:
        return self.x.shape[0]

    def batch(self, idx: torch.Tensor) -> tuple:
        pick = lambda t: None if t is None else t[idx]
        return pick(self.x), pick(self.y), pick(self.point_mask), pick(self.features)

    def fingerprint(self) -> list[float]:
        """A cheap summary that tells two data sets apart (for resuming)."""
        out = [float(self.n_samples)]
        for t in (self.x, self.y):
            if t is not None:
                v = torch.view_as_real(t) if t.is_complex() else t
                v = v.double()
                out += [float(v.sum()), float((v * v).sum())]
        return out


def _float(t: torch.Tensor) -> torch.Tensor:
    if t.is_complex():
        return t.to(
            torch.complex64 if torch.get_default_dtype() == torch.float32 else torch.complex128
        )
    if t.is_floating_point():
        return t.to(torch.get_default_dtype())
    return t


def prepare_data(
    x,
    y,
    *,
    n: int,
    action_x: Action,
    action_y: Action,
    steps: int | None = None,
    point_mask=None,
    features=None,
    labels: bool = False,
    device: torch.device | str = "cpu",
) -> Batchable:
    """Check shapes and values of (x, y, point_mask, features) and move them to ``device``.

    Raises ValueError naming the problem: NaN/Inf, wrong feature size, mismatched sample counts,
    labels that are not non-negative integers when a label discriminator needs them.
    """
    x = _float(as_tensor(x, name="x"))
    if not (x.is_floating_point() or x.is_complex()):
        x = x.to(torch.get_default_dtype())
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"x must have shape (N, ...) with N >= 1 samples, got {tuple(x.shape)}")
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        if x.ndim != 2 or x.shape[1] % steps:
            raise ValueError(
                f"steps={steps} needs flat x of shape (N, steps·n), got {tuple(x.shape)}"
            )
        x = x.reshape(x.shape[0], steps, -1)
    action_x.check(x, n, "x")
    N = x.shape[0]

    if y is not None:
        y = _float(as_tensor(y, name="y"))
        if y.ndim == 0 or y.shape[0] != N:
            raise ValueError(
                f"y has {y.shape[0] if y.ndim else 0} samples but x has {N}; they must match"
            )
        if labels:
            if y.is_floating_point() or y.is_complex():
                if not torch.equal(y, y.round()) or y.is_complex():
                    raise ValueError("class labels y must be integers")
                y = y.long()
            if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
                raise ValueError(
                    f"class labels y must have shape (N,) or (N, 1), got {tuple(y.shape)}"
                )
            if (y < 0).any():
                raise ValueError("class labels y must be non-negative integers")
            y = y.reshape(N)
        else:
            if not (y.is_floating_point() or y.is_complex()):
                y = y.to(torch.get_default_dtype())
            if y.ndim == 1:
                y = y[:, None]
            if steps is not None and not action_y.trivial and y.ndim == 2:
                if y.shape[1] % steps:
                    raise ValueError(
                        f"steps={steps} does not divide the {y.shape[1]} features of y"
                    )
                y = y.reshape(N, steps, -1)
            if not action_y.trivial:
                action_y.check(y, n, "y")
    elif not action_y.trivial:
        raise ValueError("rep_y transforms y, but no y was given")

    if point_mask is not None:
        point_mask = as_tensor(point_mask, name="point_mask")
        if x.ndim != 3 or tuple(point_mask.shape) != tuple(x.shape[:2]):
            raise ValueError(
                f"point_mask must have shape (N, P) = {tuple(x.shape[:2])} for point clouds x "
                f"(N, P, n), got {tuple(point_mask.shape)}"
            )
        point_mask = point_mask.bool()
        if not point_mask.any(1).all():
            raise ValueError("point_mask leaves a sample with no points")
    if features is not None:
        features = _float(as_tensor(features, name="features"))
        if not features.is_floating_point():
            features = features.to(torch.get_default_dtype())
        if x.ndim != 3 or features.ndim != 3 or tuple(features.shape[:2]) != tuple(x.shape[:2]):
            raise ValueError(
                f"features must have shape (N, P, f) matching x {tuple(x.shape)}, "
                f"got {tuple(features.shape)}"
            )
    move = lambda t: None if t is None else t.to(device)
    return Batchable(move(x), move(y), move(point_mask), move(features))
