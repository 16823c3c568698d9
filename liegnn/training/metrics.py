r"""Evaluation metrics: accuracy, ROC and its area, background rejection, regression errors.

Binary classification (top tagging) ranks jets by a score s (higher = more signal-like); for
two-class logits the score is the logit difference s = l₁ − l₀, which orders jets exactly as the
softmax probability of class 1 does but does not saturate to ties in float32.

**ROC.** For every distinct score threshold τ (descending), ε_S(τ) = P(s ≥ τ | signal) and
ε_B(τ) = P(s ≥ τ | background); the curve starts at (0, 0). These are the points of
``sklearn.metrics.roc_curve(..., drop_intermediate=False)``.

**AUC** is the Mann–Whitney statistic with mid-ranks, i.e. the probability that a random signal
jet scores above a random background jet, ties counting ½; it equals the area under the
piecewise-linear ROC and ``sklearn.metrics.roc_auc_score``.

**Background rejection** 1/ε_B at a working point ε_S (0.3 and 0.5 in the top-tagging
literature) uses the *interpolated ROC*: the piecewise-linear curve through the ROC points, whose
segments are the classifiers that randomise between two neighbouring thresholds. ε_B(ε_S) is the
lowest background efficiency on that curve with signal efficiency ε_S: with k the first point
with ε_S,k ≥ ε_S, ε_B = ε_B,k−1 + (ε_S − ε_S,k−1)/(ε_S,k − ε_S,k−1) · (ε_B,k − ε_B,k−1). This
equals ``numpy.interp(eps_s, tpr, fpr)`` on sklearn's curve wherever ε_S is not exactly one of
its tpr values, and differs from the "nearest ROC point" rule of some public codes by at most one
step of the curve. When no background jet passes, 1/ε_B = ∞ (stored as ``null`` in JSON).
"""

from __future__ import annotations

import math

import numpy as np
import torch

WORKING_POINTS = (0.3, 0.5)


def _as_array(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype == object:
        raise ValueError(f"{name} must be numeric, got objects")
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or Inf values")
    return a


def _binary_inputs(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s = _as_array(scores, "scores").astype(np.float64)
    y = _as_array(labels, "labels")
    if s.ndim != 1 or y.ndim != 1 or len(s) != len(y):
        raise ValueError(
            f"scores and labels must be 1-D of equal length, got {s.shape} and {y.shape}"
        )
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (background) or 1 (signal)")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise ValueError("the ROC needs both signal (1) and background (0) examples")
    return s, y


def signal_scores(logits) -> np.ndarray:
    """The ranking score of each example: l₁ − l₀ for (N, 2) logits, the values for (N,) or
    (N, 1) scores. Returns float64 (N,)."""
    z = _as_array(logits, "logits").astype(np.float64)
    if z.ndim == 2 and z.shape[1] == 2:
        return z[:, 1] - z[:, 0]
    if z.ndim == 2 and z.shape[1] == 1:
        return z[:, 0]
    if z.ndim == 1:
        return z
    raise ValueError(f"binary scores need logits of shape (N, 2), (N, 1) or (N,), got {z.shape}")


def accuracy(predictions, labels) -> float:
    """Fraction of correct classes; ``predictions`` are logits (N, C) (argmax) or classes (N,)."""
    p = _as_array(predictions, "predictions")
    y = _as_array(labels, "labels").reshape(-1)
    if p.ndim == 2:
        p = p.argmax(axis=1)
    if p.ndim != 1 or len(p) != len(y):
        raise ValueError(f"predictions {p.shape} do not match labels {y.shape}")
    if len(y) == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float((p == y).mean())


def roc_curve(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC points (ε_B, ε_S) for every distinct threshold, starting at (0, 0).

    Args:
        scores: (N,) higher = more signal-like.
        labels: (N,) 1 = signal, 0 = background.

    Returns:
        ``fpr`` = ε_B, ``tpr`` = ε_S (non-decreasing) and ``thresholds`` (descending, the first
        +∞), each of shape (K + 1,) for K distinct scores.
    """
    s, y = _binary_inputs(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each tie group
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    tpr = np.r_[0.0, tp / y.sum()]
    fpr = np.r_[0.0, fp / (~y).sum()]
    return fpr, tpr, np.r_[np.inf, s[last]]


def roc_auc(scores, labels) -> float:
    """Area under the ROC: (R₊ − n₊(n₊ + 1)/2) / (n₊ n₋), R₊ the sum of the signal's mid-ranks."""
    s, y = _binary_inputs(scores, labels)
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    below = np.cumsum(counts) - counts  # examples strictly below each distinct value
    midrank = below + (counts + 1) / 2.0
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    rank_sum = midrank[inverse][y].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def background_efficiency(scores, labels, signal_efficiency: float) -> float:
    """ε_B at the given ε_S on the interpolated ROC (see the module docstring)."""
    if not 0.0 <= signal_efficiency <= 1.0:
        raise ValueError(f"signal_efficiency must lie in [0, 1], got {signal_efficiency!r}")
    fpr, tpr, _ = roc_curve(scores, labels)
    k = int(np.searchsorted(tpr, signal_efficiency, side="left"))
    if k == 0:
        return 0.0
    t = (signal_efficiency - tpr[k - 1]) / (tpr[k] - tpr[k - 1])
    return float(fpr[k - 1] + t * (fpr[k] - fpr[k - 1]))


def background_rejection(scores, labels, signal_efficiency: float = 0.3) -> float:
    """1/ε_B at ε_S = ``signal_efficiency`` (∞ when no background passes)."""
    eps_b = background_efficiency(scores, labels, signal_efficiency)
    return math.inf if eps_b == 0.0 else 1.0 / eps_b


def mean_absolute_error(predictions, targets, scale: float = 1.0) -> float:
    """mean |ŷ − y| × ``scale`` (e.g. 1000 for eV → meV), over all entries."""
    p = _as_array(predictions, "predictions").astype(np.float64)
    t = _as_array(targets, "targets").astype(np.float64)
    if p.shape != t.shape:
        raise ValueError(f"predictions {p.shape} and targets {t.shape} differ in shape")
    if p.size == 0:
        raise ValueError("the error of an empty set is undefined")
    return float(np.abs(p - t).mean() * scale)


def mean_squared_error(predictions, targets) -> float:
    """mean (ŷ − y)² over all entries."""
    p = _as_array(predictions, "predictions").astype(np.float64)
    t = _as_array(targets, "targets").astype(np.float64)
    if p.shape != t.shape:
        raise ValueError(f"predictions {p.shape} and targets {t.shape} differ in shape")
    if p.size == 0:
        raise ValueError("the error of an empty set is undefined")
    return float(((p - t) ** 2).mean())


def classification_metrics(logits, labels) -> dict[str, float | None]:
    """``accuracy`` and, for two classes, ``auc``, ``rejection_30`` and ``rejection_50``
    (1/ε_B at ε_S = 0.3, 0.5). The ROC quantities are ``None`` when only one class is present.
    """
    logits = _as_array(logits, "logits")
    labels = _as_array(labels, "labels").reshape(-1)
    out: dict[str, float | None] = {"accuracy": accuracy(logits, labels)}
    binary = logits.ndim == 1 or logits.shape[1] <= 2
    if binary:
        scores = signal_scores(logits)
        both = bool(np.isin(labels, (0, 1)).all() and 0 < labels.sum() < len(labels))
        out["auc"] = roc_auc(scores, labels) if both else None
        for eps in WORKING_POINTS:
            key = f"rejection_{round(100 * eps)}"
            out[key] = background_rejection(scores, labels, eps) if both else None
    return out


def regression_metrics(
    predictions, targets, *, unit: str | None = None, unit_scale: float = 1.0
) -> dict[str, float]:
    """``mae``, ``mse`` (dataset units) and, with ``unit``, ``mae_<unit>`` = mae ×
    ``unit_scale``."""
    out = {
        "mae": mean_absolute_error(predictions, targets),
        "mse": mean_squared_error(predictions, targets),
    }
    if unit is not None:
        out[f"mae_{unit}"] = out["mae"] * unit_scale
    return out


__all__ = [
    "WORKING_POINTS",
    "accuracy",
    "background_efficiency",
    "background_rejection",
    "classification_metrics",
    "mean_absolute_error",
    "mean_squared_error",
    "regression_metrics",
    "roc_auc",
    "roc_curve",
    "signal_scores",
]
