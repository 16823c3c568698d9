"""QM9 (App. C.5): the rotations and translations of molecules, se(3), from atom positions.

Each molecule is a point cloud of atoms in affine coordinates (x, y, z, 1) (Å), padded to the
largest molecule, with a ``point_mask`` and the one-hot atom type (H, C, N, O, F) as invariant
per-atom features. LieGAN searches the affine maps of R³ (``masks.affine(3)``: gl(3) ⋉ R³,
12 dims) with 6 channels, the dimension of se(3) = so(3) ⋉ R³; the discriminator reads the
(unordered) atoms and the distances of atom pairs (:class:`PairwiseDiscriminator`). The truth is
se(3) (``bases.se(3)``), compared by subspace similarity.

QM9's stored poses are not rotation-invariant as a distribution (centred, position variances
1.76 / 2.59 / 1.51 Å² along x / y / z), so a discriminator that sees single atoms only (the
earlier DeepSets recipe, ``qm9_task(discriminator="deepsets")``) is fooled by S·so(3)·S⁻¹, which
keeps that marginal and stretches bonds; the pair distances expose the stretch.
"""

from __future__ import annotations

from functools import partial

import torch

from ...algebra import bases
from .. import masks
from ._task import AS_TUNED, DiscoveryTask, TaskData

#: molecules of the default and of the quick (tests) run
N_MOLECULES, N_QUICK = 4000, 300


def affine_atoms(n_molecules: int | None = None, seed: int = 0, source=None, root=None):
    """(coords (N, P, 4), mask (N, P), onehot (N, P, 5)) of ``n_molecules`` QM9 molecules drawn
    with a seeded permutation (all when None), from ``liegnn.datasets.qm9``."""
    from ...datasets.qm9 import QM9, liegan_inputs, node_features

    dataset = QM9(source, root=root)
    if n_molecules is not None:
        if n_molecules < 1:
            raise ValueError(f"n_molecules must be >= 1, got {n_molecules}")
        g = torch.Generator().manual_seed(seed)
        pick = torch.randperm(len(dataset), generator=g)[: min(n_molecules, len(dataset))]
        dataset = dataset[pick.sort().values]
    atoms = liegan_inputs(dataset)
    onehot = node_features(atoms.z.clamp_min(1).flatten()).view(*atoms.z.shape, 5)
    return atoms.coords, atoms.mask, onehot * atoms.mask[..., None]


#: the poses of the molecules that discovery sees
POSES = ("stored", "principal")


def principal_axes(pos: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Each point cloud centred and rotated to its principal axes: x ↦ Rᵀ(x − x̄).

    R's columns are the eigenvectors of the cloud's covariance C = mean_p (x_p − x̄)(x_p − x̄)ᵀ
    over its real points, in decreasing order of eigenvalue, so the new covariance is
    diag(λ₁ ≥ λ₂ ≥ λ₃). Signs: axes 1 and 2 point along their positive third moment
    Σ_p y_pk³ (where it is nonzero), and axis 3 = axis 1 × axis 2 (R is a rotation, det +1).
    The result is invariant to rotating and translating the input (for distinct eigenvalues
    and nonzero skew); padded points (mask False) are set to 0.

    Shapes: pos (N, P, 3), mask (N, P) → (N, P, 3).
    """
    if pos.ndim != 3 or pos.shape[-1] != 3:
        raise ValueError(f"pos must have shape (N, P, 3), got {tuple(pos.shape)}")
    x = pos.to(torch.float64)
    m = torch.ones(x.shape[:2], dtype=x.dtype) if mask is None else mask.to(x.dtype)
    w = (m / m.sum(1, keepdim=True).clamp_min(1.0))[..., None]
    centred = (x - (w * x).sum(1, keepdim=True)) * m[..., None]
    _, vectors = torch.linalg.eigh((w * centred).mT @ centred)  # ascending eigenvalues
    R = vectors.flip(-1)
    third = ((centred @ R[..., :2]) ** 3).sum(1)  # (N, 2)
    sign = torch.where(third < 0, -1.0, 1.0).to(x.dtype)
    e1, e2 = R[..., 0] * sign[:, :1], R[..., 1] * sign[:, 1:]
    R = torch.stack([e1, e2, torch.linalg.cross(e1, e2)], dim=-1)
    return (centred @ R * m[..., None]).to(pos.dtype)


def _load(seed: int, quick: bool, pose: str = "stored") -> TaskData:
    n = N_QUICK if quick else N_MOLECULES
    coords, mask, onehot = affine_atoms(n, seed)
    source = "QM9 (qm9pack CSV), positions in Å as stored"
    if pose == "principal":
        coords = torch.cat([principal_axes(coords[..., :3], mask), coords[..., 3:]], dim=-1)
        source = "QM9 (qm9pack CSV), positions in Å, centred and rotated to principal axes"
    return TaskData(
        x=coords,
        fit_kwargs={"point_mask": mask, "features": onehot},
        truth=bases.se(3),
        info={
            "source": source,
            "pose": pose,
            "molecules": int(coords.shape[0]),
            "max_atoms": int(coords.shape[1]),
            "coordinates": "affine (x, y, z, 1)",
            "features": "one-hot H, C, N, O, F",
        },
    )


def rotation_translation_parts(generators: torch.Tensor) -> dict:
    """How much of the found span is rotation and how much translation.

    ``rotation_similarity``: subspace similarity of the linear (3 × 3) parts with so(3);
    ``skew_fraction``: share of the linear parts' squared norm that is skew-symmetric;
    ``translation_fraction``: share of the total squared norm in the last column;
    ``translation_rank``: numerical rank (≥ 5 % of the largest singular value) of the
    translation columns (3 when every direction is found).
    """
    from ...algebra.compare import subspace_similarity

    L = torch.as_tensor(generators, dtype=torch.float64)
    A, t = L[:, :3, :3], L[:, :3, 3]
    skew = 0.5 * (A - A.mT)
    total = L.pow(2).sum().clamp_min(1e-300)
    s = torch.linalg.svdvals(t) if t.abs().max() > 0 else torch.zeros(1)
    return {
        "rotation_similarity": subspace_similarity(A, bases.so(3), real=True),
        "skew_fraction": float(skew.pow(2).sum() / A.pow(2).sum().clamp_min(1e-300)),
        "translation_fraction": float(t.pow(2).sum() / total),
        "translation_rank": int((s > 0.05 * s.max()).sum()) if s.max() > 0 else 0,
    }


def _check(result, data: TaskData) -> dict:
    return rotation_translation_parts(result.generators)


def qm9_task(pose: str = "stored", discriminator: str = "pairwise") -> DiscoveryTask:
    """The QM9 task with a choice of inputs (the registered ``qm9`` is the default).

    Args:
        pose: ``"stored"`` (QM9's computed orientations) or ``"principal"`` (each molecule
            centred and rotated to its principal axes, :func:`principal_axes`).
        discriminator: ``"pairwise"`` (the default: single atoms and the distances of atom
            pairs, :class:`~liegnn.discovery.PairwiseDiscriminator`) or ``"deepsets"`` (single
            atoms, pooled: it sees only the one-atom marginal, so stretches that keep it pass;
            the library's recipe before 2026-11-29).
    """
    if pose not in POSES:
        raise ValueError(f"pose must be one of {POSES}, got {pose!r}")
    if discriminator not in ("deepsets", "pairwise"):
        raise ValueError(f"discriminator must be 'deepsets' or 'pairwise', got {discriminator!r}")
    default = pose == "stored" and discriminator == "pairwise"
    return DiscoveryTask(
        name="qm9",
        description="QM9 atoms in affine coordinates (x, y, z, 1), 6 channels: se(3)"
        + ("" if default else f" ({pose} poses, {discriminator} discriminator)"),
        load=_load if pose == "stored" else partial(_load, pose=pose),
        recipe=dict(  # the defaults plus these overrides
            AS_TUNED,
            n=4,
            n_channels=6,
            mask=masks.affine(3),
            discriminator=discriminator,  # molecules: padded point clouds with atom types
            hidden=128,  # per-point layers: a narrow D is fast enough and sufficient
            init_scale=0.5,  # six channels start apart
            identity_weight=1.0,
            channel_weight=1.0,  # six channels in a 6-dim space: keep them apart
            lr_g=5e-3,
            lr_decay=0.9,
            batch_size=64,
        ),
        epochs=8,
        quick_epochs=2,
        steps_per_epoch=50,
        seeds=2,
        check=_check,
    )


TASKS = {"qm9": qm9_task()}
