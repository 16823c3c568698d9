"""Judging discovery runs: similarity to a known truth, and the best of several runs without it."""

from __future__ import annotations

import math

import torch

from .result import DiscoveryResult

__all__ = ["collapsed", "fooled", "select_best", "span_change", "truth_metrics"]


def truth_metrics(generators: torch.Tensor, truth: torch.Tensor | None) -> dict:
    """Similarity of found generators to a ground truth, for the history (empty without truth)."""
    if truth is None:
        return {}
    from ..algebra.compare import channel_cosine, generator_mae, subspace_similarity

    L = generators.detach().cpu().to(torch.promote_types(generators.dtype, truth.dtype))
    T = truth.to(L.dtype)
    if not L.any():  # g = I (e.g. init="zero"): the empty span shares nothing with the truth
        out = {"channel_cosine": 0.0, "subspace_similarity": 0.0}
        if L.shape == T.shape:
            out["mae"] = generator_mae(L, T)
        return out
    match = L.shape[0] != T.shape[0] or L.shape[0] > 1
    cos = channel_cosine(L, T, match=match)
    out = {
        "channel_cosine": float(cos.mean()),
        "subspace_similarity": subspace_similarity(L, T, real=True),
    }
    if L.shape == T.shape:
        out["mae"] = generator_mae(L, T)
    return out


def span_change(previous: torch.Tensor, current: torch.Tensor) -> float:
    """How far the span of the generators moved: the RMS sine of the principal angles θ_m,

        √(mean_m sin² θ_m) = √(1 − subspace_similarity(previous, current)),

    invariant to the scale, sign and basis of the generators (c, n, n); 0 for the same span, 1
    for orthogonal ones, comparable across numbers of channels. A span that appears from or
    vanishes to zero counts as 1. LieGAN's stopping rule (``RunSettings.stop_tol``) reads it.
    """
    from ..algebra.compare import principal_cosines

    dtype = torch.complex128 if previous.is_complex() or current.is_complex() else torch.float64
    a, b = previous.detach().cpu().to(dtype), current.detach().cpu().to(dtype)
    if not a.any() or not b.any():
        return 0.0 if not a.any() and not b.any() else 1.0
    cos = principal_cosines(a, b, real=True)
    return float(torch.sqrt(torch.clamp(1.0 - cos**2, min=0.0).mean()))


def fooled(result: DiscoveryResult, *, last: int = 3, margin: float = 0.03, trivial=0.99) -> bool:
    """The GAN's own verdict on one run, without a truth: did it end fooling its discriminator?

    True when the mean ``loss_d`` of the ``last`` epochs is within ``margin`` of ln 2 (a D that
    cannot tell transformed from real samples) and the run did not collapse to g ≈ I (identity
    regulariser below ``trivial``). A run stuck at a transformation that is not a symmetry ends
    with D winning (on conjugated so(2) / so(3): loss_d 0.54–0.64 against 0.690–0.693).
    """
    v, reg = result.history.get("loss_d") or [], result.history.get("identity_reg") or [0.0]
    if not v:
        return False
    mean = lambda xs: sum(xs[-last:]) / len(xs[-last:])
    return mean(v) > math.log(2) - margin and mean(reg) < trivial


def collapsed(result: DiscoveryResult, *, last: int = 3, trivial: float = 0.99) -> bool:
    """Whether a run ended at g ≈ I: the mean identity regulariser of its ``last`` epochs is at
    least ``trivial`` (the rule :func:`select_best` drops such runs by). Its generators are then
    no symmetry, whatever their size."""
    v = result.history.get("identity_reg") or [0.0]
    return sum(v[-last:]) / len(v[-last:]) >= trivial


def select_best(
    results: list[DiscoveryResult], *, last: int = 3, trivial: float = 0.99, tol: float = 1e-3
) -> DiscoveryResult:
    """The best of several runs (e.g. seeds), judged by the GAN itself, without a ground truth.

    Runs whose final identity regulariser exceeds ``trivial`` collapsed to g ≈ I and are dropped;
    of the others, the one whose discriminator is most fooled (mean ``loss_d`` of the ``last``
    epochs closest to ln 2) wins. Runs within ``tol`` of the winner's loss count as tied (for a
    discrete group, every generator of the subgroup fools D equally) and the one with the
    smallest generators wins: e.g. the rotation by 2π/7 rather than by 4π/7 for C₇.
    """
    if not results:
        raise ValueError("select_best needs at least one result")
    for r in results:
        if not r.history.get("loss_d"):
            raise ValueError("select_best needs results with a training history (loss_d)")

    def mean_last(r, key):
        v = r.history.get(key) or [0.0]
        return sum(v[-last:]) / len(v[-last:])

    useful = [r for r in results if not collapsed(r, last=last, trivial=trivial)] or list(results)
    gap = {id(r): abs(math.log(2) - mean_last(r, "loss_d")) for r in useful}
    best = min(gap.values())
    tied = [r for r in useful if gap[id(r)] <= best + tol]
    return min(tied, key=lambda r: float(torch.linalg.vector_norm(r.generators)))
