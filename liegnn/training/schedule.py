r"""AdamW with a linear warm-up and a cosine decay (optionally with warm restarts, as LorentzNet).

The learning rate of optimiser step t (0-based, one step per batch) is η_t = η · f(t) with

.. math::
    f(t) = \begin{cases} (t + 1) / w & t < w \\
    r + (1 - r)\, \tfrac12 \big(1 + \cos(\pi\, s / S)\big) & t \ge w \end{cases}

where w is the number of warm-up steps, r the final ratio ``min_lr_ratio``, s = t − w the
steps since the warm-up and S = T − w the decay length (T the total number of steps). With
restarts, s and S are the position in and the length of the current cycle: the first cycle lasts
``restart_steps`` steps and each next one ``restart_mult`` times longer (SGDR,
``CosineAnnealingWarmRestarts``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch.optim.lr_scheduler import LambdaLR


class WarmupCosine:
    """The factor f(t) of the module docstring; a plain callable object, so a LambdaLR's
    ``state_dict`` stores its settings (numbers only) rather than a function."""

    def __init__(
        self,
        total_steps: int,
        warmup_steps: int = 0,
        min_lr_ratio: float = 0.0,
        restart_steps: int | None = None,
        restart_mult: float = 1.0,
    ):
        if not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
        if not isinstance(warmup_steps, int) or not 0 <= warmup_steps <= total_steps:
            raise ValueError(f"warmup_steps must lie in [0, total_steps], got {warmup_steps!r}")
        if not 0.0 <= min_lr_ratio <= 1.0:
            raise ValueError(f"min_lr_ratio must lie in [0, 1], got {min_lr_ratio!r}")
        if restart_steps is not None and (not isinstance(restart_steps, int) or restart_steps < 1):
            raise ValueError(f"restart_steps must be a positive integer, got {restart_steps!r}")
        if restart_mult < 1.0:
            raise ValueError(f"restart_mult must be >= 1, got {restart_mult!r}")
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.min_lr_ratio = float(min_lr_ratio)
        self.restart_steps = restart_steps
        self.restart_mult = float(restart_mult)

    def _cycle(self, s: int) -> tuple[float, float]:
        """Position in and length of the current cosine cycle."""
        if self.restart_steps is None:
            return float(s), float(max(1, self.total_steps - self.warmup_steps))
        length = float(self.restart_steps)
        s = float(s)
        while s >= length:
            s -= length
            length *= self.restart_mult
        return s, length

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        s, length = self._cycle(step - self.warmup_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(s / length, 1.0)))
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cosine

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(total_steps={self.total_steps}, "
            f"warmup_steps={self.warmup_steps}, min_lr_ratio={self.min_lr_ratio}, "
            f"restart_steps={self.restart_steps}, restart_mult={self.restart_mult})"
        )


def adamw(
    parameters: Iterable[torch.nn.Parameter] | torch.nn.Module,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.AdamW:
    """AdamW over the trainable parameters (LorentzNet: lr 1e-3, weight decay 0.01)."""
    if isinstance(parameters, torch.nn.Module):
        parameters = parameters.parameters()
    params = [p for p in parameters if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be non-negative, got {weight_decay!r}")
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=tuple(betas))


def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_steps: int = 0,
    min_lr_ratio: float = 0.0,
    restart_steps: int | None = None,
    restart_mult: float = 1.0,
) -> LambdaLR:
    """A ``LambdaLR`` with the factor :class:`WarmupCosine`; call ``scheduler.step()`` after
    every ``optimizer.step()``."""
    factor = WarmupCosine(total_steps, warmup_steps, min_lr_ratio, restart_steps, restart_mult)
    return LambdaLR(optimizer, factor)


__all__ = ["WarmupCosine", "adamw", "warmup_cosine"]
