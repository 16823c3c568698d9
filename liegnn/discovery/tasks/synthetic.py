"""The paper's synthetic discovery tasks with tuned recipes and their checks.

- ``discrete-rotation``: C₇ (Sec. 6.3); the truth (2π/7) J_z, found up to sign.
- ``partial-permutation``: f on R⁵ invariant under permutations of x₁..x₃ (App. C.3); the
  exponentials of the found generator are the 3-cycles of (x₁, x₂, x₃).
- ``su2``: a superpotential of two complex doublets (App. C.3); su(2) acting on both doublets.
- ``digits``: rotated and shifted 8×8 digits (App. C.4); rotation and translations of the plane.
"""

from __future__ import annotations

import math

import torch

from ...datasets import synthetic as data_sets
from ..masks import affine
from ._task import AS_TUNED, DiscoveryTask, TaskData

__all__ = [
    "C7_RECIPE",
    "DIGITS_RECIPE",
    "PERMUTATION_RECIPE",
    "SU2_RECIPE",
    "TASKS",
    "permutation_check",
    "permutation_truth",
    "su2_check",
    "su2_truth",
    "affine_components",
]

#: LieGAN settings for C₇: the defaults plus these (docs/discovery.md: why each setting)
C7_RECIPE = dict(
    AS_TUNED,
    n=3,
    coefficients="integer",  # exp(wL) for integer w enumerates C₇: the scale is identified
    coefficient_options=dict(u=3, u_start=1, grow_every=8),  # {−1,0,1} first: no partial C₂₁
    identity_weight=0.3,  # a strong early push off g = I ...
    identity_decay=0.8,  # ... that fades, so it does not bias the scale of L
    hidden=128,  # a small D with Fourier features sees the 7-fold sawtooth sooner
    fourier_features=64,
    fourier_scale=2.0,
    batch_size=256,  # batch 128 collapsed to g = I on one seed in four
    lr_g=5e-3,
    lr_d=2e-3,
    lr_decay=0.9,
    ema=0.995,  # the average over ~200 steps holds the final MAE still
)

#: the 3-cycle on x₁..x₃ is the rotation by 2π/3 about (1, 1, 1): a C₃ task like C₇
PERMUTATION_RECIPE = dict(
    AS_TUNED,
    n=5,
    coefficients="integer",  # as C₇
    coefficient_options=dict(u=2, u_start=1, grow_every=8),
    identity_weight=0.3,
    identity_decay=0.7,
    hidden=128,
    fourier_features=64,
    lr_g=5e-3,
    lr_d=2e-3,
    lr_decay=0.92,
)

#: su(2) on (φ, χ) as (N, 2, 2): the same 2×2 complex g acts on both doublets. A large
#: initialisation keeps a channel from parking in a small, hard-to-detect non-symmetry (a phase
#: i·I of norm ~0.2 in one seed of three with init_scale 0.1)
SU2_RECIPE = dict(
    AS_TUNED,
    n=2,
    n_channels=3,
    complex=True,
    identity_weight=0.3,
    init_scale=1.0,
    hidden=512,  # tuned with the paper's width
    lr_g=5e-3,
    lr_d=2e-3,
    lr_decay=1.0,
)

#: the affine maps of the image plane (6 dimensions), 2 channels, as App. C.4
DIGITS_RECIPE = dict(
    AS_TUNED,
    n=3,
    n_channels=2,
    rep_x="image",
    mask=affine(2),
    identity_weight=1.0,  # images: the identity cosine is near 1 for small moves, push harder
    lr_g=5e-3,
    batch_size=64,  # image batches are expensive
    lr_decay=1.0,
)


# -- C₇ ---------------------------------------------------------------------------------------
def _load_discrete_rotation(seed: int, quick: bool) -> TaskData:
    n = 2000 if quick else 20000
    x, y = data_sets.discrete_rotation(k=7, n_samples=n, seed=seed)
    return TaskData(
        x=x,
        y=y,
        truth=data_sets.discrete_rotation_generator(7),
        info={"n_samples": n, "k": 7, "function": "x3 / (1 + mod(atan2(x2, x1), 2π/7))"},
    )


def _rotation_check(result, data: TaskData) -> dict:
    """The angle of the z rotation in the found L, and the part of L that is not one."""
    L = result.generators[0].to(torch.float64)
    angle = float(0.5 * (L[1, 0] - L[0, 1]))
    Jz = data_sets.discrete_rotation_generator(1)[0] / (2 * math.pi)
    rest = float(torch.linalg.matrix_norm(L - angle * Jz))
    return {
        "rotation_angle_about_z": abs(angle),
        "angle_over_2pi_7": abs(angle) / (2 * math.pi / 7),
        "frobenius_norm_outside_z_rotation": rest,
    }


# -- partial permutation ----------------------------------------------------------------------
def permutation_truth() -> torch.Tensor:
    """The rotation by 2π/3 about (1, 1, 1) of (x₁, x₂, x₃), exp = the 3-cycle: (1, 5, 5)."""
    a = torch.full((3,), 1 / math.sqrt(3), dtype=torch.float64)
    K = torch.zeros(5, 5, dtype=torch.float64)
    K[:3, :3] = torch.tensor([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return (2 * math.pi / 3 * K)[None]


def _cycles(perm: list[int]) -> str:
    """Cycle notation, 1-based: [1, 2, 0, 3, 4] ↦ '(1 2 3)'; the identity ↦ '()'."""
    seen, out = set(), []
    for i in range(len(perm)):
        if i in seen or perm[i] == i:
            continue
        cycle, j = [], i
        while j not in seen:
            seen.add(j)
            cycle.append(j + 1)
            j = perm[j]
        out.append("(" + " ".join(map(str, cycle)) + ")")
    return "".join(out) or "()"


def permutation_check(result, data: TaskData | None = None, *, powers: int = 3, tol: float = 0.1):
    """exp(k L) for k = 1..``powers``: rounded, is it a permutation matrix, which one, and does it
    move only x₁..x₃?

    A permutation matrix P with P e_j = e_{π(j)} is reported as π in cycle notation (1-based);
    ``max_error`` is max |exp(k L) − P|. ``found_group`` lists the distinct permutations,
    ``nontrivial`` whether one of them is not the identity (a collapsed run gives only "()").
    """
    out = {"elements": []}
    for c, L in enumerate(result.generators.to(torch.float64)):
        for k in range(1, powers + 1):
            M = torch.linalg.matrix_exp(k * L)
            P = M.round()
            is_perm = bool(
                ((P == 0) | (P == 1)).all() and (P.sum(0) == 1).all() and (P.sum(1) == 1).all()
            )
            row = {"channel": c, "power": k, "max_error": float((M - P).abs().max())}
            row["is_permutation"] = is_perm and row["max_error"] < tol
            if is_perm:
                perm = [int(P[:, j].argmax()) for j in range(P.shape[1])]
                row["permutation"] = _cycles(perm)
                row["only_x1_x2_x3"] = perm[3:] == [3, 4]
            out["elements"].append(row)
    perms = sorted({r["permutation"] for r in out["elements"] if r["is_permutation"]})
    out["found_group"] = perms
    out["all_permutations"] = all(r["is_permutation"] for r in out["elements"])
    out["nontrivial"] = any(p != "()" for p in perms)  # exp(k L) ≈ I for all k: collapsed
    out["only_x1_x2_x3"] = all(r.get("only_x1_x2_x3", False) for r in out["elements"])
    return out


def _load_partial_permutation(seed: int, quick: bool) -> TaskData:
    n = 2000 if quick else 20000
    x, y = data_sets.partial_permutation(n_samples=n, seed=seed)
    return TaskData(
        x=x,
        y=y,
        truth=permutation_truth(),
        info={
            "n_samples": n,
            "function": "x1 x2 x3 + (x1 + x2 + x3) x4 + (x1² + x2² + x3²) x5² / 3 − x5",
        },
    )


# -- SU(2) ------------------------------------------------------------------------------------
def _load_su2(seed: int, quick: bool) -> TaskData:
    n = 2000 if quick else 20000
    z, w = data_sets.su2_superpotential(n_samples=n, seed=seed)
    # W is heavy-tailed (a quartic); an invertible, phase-keeping compression keeps W's level
    # sets (so the symmetry) and lets the discriminator see the relation between z and W
    w = w / (1 + w.abs()).sqrt()
    return TaskData(
        x=z.reshape(n, 2, 2),
        y=w,
        truth=su2_truth(),
        info={
            "n_samples": n,
            "x": "(N, 2, 2) complex: rows φ and χ, the same g acts on both",
            "y": "W / sqrt(1 + |W|), W = det[φ χ] + 0.5 det[φ χ]²",
        },
    )


def su2_truth() -> torch.Tensor:
    """su(2) on one doublet, (3, 2, 2) complex: the 2×2 blocks of ``su2_generators()``."""
    return data_sets.su2_generators()[:, :2, :2]


def su2_check(result, data: TaskData | None = None) -> dict:
    """Similarity of g ⊕ g with ``su2_generators()`` (4 × 4), closure of the bracket, and how
    far the span is from anti-Hermitian, traceless matrices."""
    from ...algebra.compare import subspace_similarity
    from ...algebra.structure import closure_error

    L = result.generators.to(torch.complex128)
    if L.shape[-1] == 2:
        full = torch.stack([torch.block_diag(m, m) for m in L])
    else:
        full = L
    norm = torch.linalg.matrix_norm(L).clamp_min(1e-12)
    hermitian = torch.linalg.matrix_norm(L + L.mH) / (2 * norm)
    trace = L.diagonal(dim1=-2, dim2=-1).sum(-1).abs() / (math.sqrt(L.shape[-1]) * norm)
    return {
        "subspace_similarity_su2_4x4": subspace_similarity(
            full, data_sets.su2_generators(), real=True
        ),
        "closure_error": closure_error(L),
        "hermitian_part": [float(v) for v in hermitian],
        "trace_part": [float(v) for v in trace],
    }


# -- rotated digits ---------------------------------------------------------------------------
def affine_components(L: torch.Tensor) -> list[dict]:
    """Split each affine generator (c, 3, 3) of the plane into rotation, scaling, shear and
    translation; squared-norm fractions per channel (they sum to 1)."""
    out = []
    for M in L.to(torch.float64):
        A, t = M[:2, :2], M[:2, 2]
        rot = 0.5 * (A - A.T)
        scale = 0.5 * A.trace() * torch.eye(2, dtype=A.dtype)
        shear = A - rot - scale
        parts = {
            "rotation": rot.square().sum(),
            "scaling": scale.square().sum(),
            "shear": shear.square().sum(),
            "translation": t.square().sum(),
        }
        total = sum(parts.values()).clamp_min(1e-24)
        out.append({k: float(v / total) for k, v in parts.items()})
    return out


def _digits_check(result, data: TaskData) -> dict:
    from ...algebra.bases import affine as embed
    from ...algebra.bases import so, translations
    from ...algebra.compare import subspace_similarity

    L = result.generators
    return {
        "components": affine_components(L),
        "in_rotations_and_translations": subspace_similarity(L, data.truth),
        "in_rotations": max(
            subspace_similarity(m[None], embed(so(2, dtype=torch.float64))) for m in L
        ),
        "in_translations": subspace_similarity(L, translations(2, dtype=torch.float64)),
    }


def _blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur (N, 1, H, W), each image's peak rescaled to 1.

    The image action resamples bilinearly, which blurs: on sharp data the discriminator tells
    transformed from real images by that extra blur alone (final loss_d 0.24 instead of 0.52);
    blurred data make the interpolation's blur negligible and keep the rotation symmetry.
    """
    r = torch.arange(-3, 4, dtype=images.dtype)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    k = k / k.sum()
    out = torch.nn.functional.conv2d(images, (k[:, None] * k[None, :])[None, None], padding=3)
    return out / out.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)


def _load_digits(seed: int, quick: bool) -> TaskData:
    from ...algebra.bases import se

    n = 500 if quick else 5000
    images, labels, _ = data_sets.rotated_digits(n_samples=n, size=16, max_shift=2.0, seed=seed)
    return TaskData(
        x=_blur(images, sigma=1.0),
        y=labels,
        truth=se(2, dtype=torch.float64),
        info={
            "n_samples": n,
            "images": "scikit-learn 8x8 digits on a 16x16 canvas",
            "transform": "rotation θ ~ U[-π, π), shift ~ U[-2, 2]² pixels",
            "blur": "Gaussian, σ = 1 pixel, peak scaled to 1",
        },
    )


TASKS = {
    "discrete-rotation": DiscoveryTask(
        name="discrete-rotation",
        description="C7 regression (Sec. 6.3): the rotation by 2π/7 about z, integer grid",
        load=_load_discrete_rotation,
        recipe=C7_RECIPE,
        epochs=60,
        quick_epochs=2,
        steps_per_epoch=50,
        seeds=3,
        check=_rotation_check,
    ),
    "partial-permutation": DiscoveryTask(
        name="partial-permutation",
        description="f(x) on R^5 (App. C.3): the 3-cycle of x1..x3, integer grid",
        load=_load_partial_permutation,
        recipe=PERMUTATION_RECIPE,
        epochs=30,
        quick_epochs=2,
        steps_per_epoch=50,
        seeds=3,
        check=permutation_check,
    ),
    "su2": DiscoveryTask(
        name="su2",
        description="superpotential of two complex doublets (App. C.3): su(2), 3 complex channels",
        load=_load_su2,
        recipe=SU2_RECIPE,
        epochs=30,
        quick_epochs=2,
        steps_per_epoch=50,
        seeds=3,
        check=su2_check,
    ),
    "digits": DiscoveryTask(
        name="digits",
        description="rotated 8x8 digits (App. C.4): rotation and translations, affine, 2 channels",
        load=_load_digits,
        recipe=DIGITS_RECIPE,
        epochs=20,
        quick_epochs=2,
        steps_per_epoch=50,
        seeds=1,
        check=_digits_check,
    ),
}
