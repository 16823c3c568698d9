"""QM9 (App. C.5): the rotations and translations of molecules, se(3), from atom positions.

Each molecule is a point cloud of atoms in affine coordinates (x, y, z, 1) (Å), padded to the
largest molecule, with a ``point_mask`` and the one-hot atom type (H, C, N, O, F) as invariant
per-atom features. LieGAN searches the affine maps of R³ (``masks.affine(3)``: gl(3) ⋉ R³,
12 dims) with 6 channels, the dimension of se(3) = so(3) ⋉ R³; a DeepSets discriminator reads
the (unordered) atoms. The truth is se(3) (``bases.se(3)``), compared by subspace similarity.

QM9's geometries come as computed (no common orientation; centroids within about 1 Å of the
origin), so the pose distribution is only approximately invariant: rotations are a symmetry of
the data, translations up to the spread of the centroids.
"""

from __future__ import annotations

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


def _load(seed: int, quick: bool) -> TaskData:
    n = N_QUICK if quick else N_MOLECULES
    coords, mask, onehot = affine_atoms(n, seed)
    return TaskData(
        x=coords,
        fit_kwargs={"point_mask": mask, "features": onehot},
        truth=bases.se(3),
        info={
            "source": "QM9 (qm9pack CSV), positions in Å as stored",
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


TASKS = {
    "qm9": DiscoveryTask(
        name="qm9",
        description="QM9 atoms in affine coordinates (x, y, z, 1), 6 channels: se(3)",
        load=_load,
        recipe=dict(  # the defaults plus these overrides
            AS_TUNED,
            n=4,
            n_channels=6,
            mask=masks.affine(3),
            discriminator="deepsets",  # molecules: padded point clouds with atom types
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
}
