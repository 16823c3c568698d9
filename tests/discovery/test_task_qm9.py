"""The QM9 discovery task: atoms in affine coordinates, the recipe's search space, the check."""

import importlib.util

import numpy as np
import pytest
import torch

pytest.importorskip("pandas")

from liegnn.algebra.bases import affine, se, so  # noqa: E402
from liegnn.discovery import LieGAN, masks  # noqa: E402
from liegnn.discovery.tasks import qm9, run_task  # noqa: E402

HEADER = (
    "XYZ_file,Index,SMILES,InChi,N_atoms,Stoichiometry,Elements,XYZ_Ang,Mulliken_pop,"
    "Harmonic_Freq_cmi,RotA_GHz,RotB_GHz,RotC_GHz,Dipole_debye,Polarizability_bohr3,HOMO_au,"
    "LUMO_au,HOMO_LUMO_gap_au,R2_bohr2,ZPVE_au,InternalEnergy_0K_au,InternalEnergy_298K_au,"
    "Enthalphy_298K_au,GibbsFreeEnergy_298K_au,Heatcapacity_Cv_cal_mol_K"
)


def _csv_folder(folder, n=12, seed=0):
    """Made-up molecules (1 to 6 atoms) in qm9pack's CSV layout."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(1, n + 1):
        atoms = list(rng.choice(list("HCNOF"), size=rng.integers(1, 7)))
        xyz = rng.normal(size=(len(atoms), 3))
        el = "[" + ",".join(f"'{a}'" for a in atoms) + "]"
        coords = "[" + ",".join("[" + ",".join(f"{v:.6f}" for v in r) + "]" for r in xyz) + "]"
        props = ",".join(f"{v:.6f}" for v in rng.uniform(-0.5, 0.5, size=15))
        rows.append(
            f'"m{i}.xyz",{i},"X","I",{len(atoms)},"[0]","{el}","{coords}","[0]","[0]",{props}'
        )
    folder.mkdir(parents=True)
    (folder / "qm9_part1.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    return folder


def _check_affine_atoms(coords, mask, onehot):
    n, p = mask.shape
    assert coords.shape == (n, p, 4) and onehot.shape == (n, p, 5)
    assert mask.dtype == torch.bool and mask.any(dim=1).all()
    assert torch.equal(coords[..., 3][mask], torch.ones(int(mask.sum())))  # (x, y, z, 1)
    assert coords[~mask].abs().max() == 0  # padding is zero
    assert torch.equal(onehot[mask].sum(-1), torch.ones(int(mask.sum())))  # one type per atom
    assert onehot[~mask].abs().max() == 0


def test_affine_atoms_pads_molecules_with_a_mask(tmp_path):
    source = _csv_folder(tmp_path / "csv")
    coords, mask, onehot = qm9.affine_atoms(None, source=source, root=tmp_path / "cache")
    assert coords.shape[0] == 12 and coords.shape[1] == int(mask.sum(1).max())
    _check_affine_atoms(coords, mask, onehot)
    # a seeded subset is a fixed choice of molecules
    a = qm9.affine_atoms(5, seed=3, source=source, root=tmp_path / "cache")
    b = qm9.affine_atoms(5, seed=3, source=source, root=tmp_path / "cache")
    assert a[0].shape[0] == 5 and torch.equal(a[0], b[0])
    with pytest.raises(ValueError, match="n_molecules"):
        qm9.affine_atoms(0, source=source, root=tmp_path / "cache")


@pytest.mark.skipif(importlib.util.find_spec("qm9pack") is None, reason="needs qm9pack")
def test_quick_load_gives_real_molecules_in_affine_coordinates():
    data = qm9.TASKS["qm9"].load(0, True)
    assert data.x.shape[0] == qm9.N_QUICK and data.x.shape[-1] == 4
    assert 3 <= data.x.shape[1] <= 29  # QM9's molecules have 3 to 29 atoms
    mask, onehot = data.fit_kwargs["point_mask"], data.fit_kwargs["features"]
    _check_affine_atoms(data.x, mask, onehot)
    assert onehot[..., 0][mask].mean() > 0.3  # most atoms of organic molecules are H
    assert torch.equal(data.truth, se(3)) and data.info["molecules"] == qm9.N_QUICK


def test_recipe_searches_the_affine_maps_with_six_channels():
    task = qm9.TASKS["qm9"]
    assert task.recipe["n"] == 4 and task.recipe["n_channels"] == se(3).shape[0] == 6
    assert torch.equal(task.recipe["mask"], masks.affine(3))
    assert task.recipe["discriminator"] == "pairwise"  # D sees bond lengths
    # the truth lies in the search space: se(3) is zero outside the mask
    assert se(3)[:, masks.affine(3) == 0].abs().max() == 0


def test_check_separates_rotations_and_translations():
    true = qm9.rotation_translation_parts(se(3))
    assert true["rotation_similarity"] == pytest.approx(1.0)
    assert true["skew_fraction"] == pytest.approx(1.0) and true["translation_rank"] == 3
    assert true["translation_fraction"] == pytest.approx(3 / (3 * 2 + 3))
    rotations = qm9.rotation_translation_parts(affine(so(3)))
    assert rotations["translation_fraction"] == 0 and rotations["translation_rank"] == 0
    scaling = torch.zeros(1, 4, 4)
    scaling[0, :3, :3] = torch.eye(3)
    assert qm9.rotation_translation_parts(scaling)["skew_fraction"] == 0


def test_short_fit_on_made_up_molecules_keeps_the_affine_form(tmp_path):
    coords, mask, onehot = qm9.affine_atoms(
        None, source=_csv_folder(tmp_path / "csv", n=64), root=tmp_path / "cache"
    )
    recipe = dict(qm9.TASKS["qm9"].recipe)
    n, c = recipe.pop("n"), recipe.pop("n_channels")
    result = LieGAN(n, c, **recipe).fit(
        coords, epochs=1, steps_per_epoch=3, point_mask=mask, features=onehot, progress=False
    )
    L = result.generators
    assert L.shape == (6, 4, 4) and torch.isfinite(L).all()
    assert L[:, 3].abs().max() == 0  # the last row stays zero: (x, y, z, 1) keeps its 1


def _points(n, p, seed):
    """Random point clouds (N, P, 3) with the last point padded (zero)."""
    g = torch.Generator().manual_seed(seed)
    pos = torch.randn(n, p, 3, generator=g, dtype=torch.float64)
    mask = torch.ones(n, p, dtype=torch.bool)
    mask[:, -1] = False
    pos[~mask] = 0.0
    return pos, mask


def test_principal_axes_diagonalise_the_covariance_in_decreasing_order():
    pos, mask = _points(n=4, p=8, seed=1)
    y = qm9.principal_axes(pos * torch.tensor([3.0, 1.0, 0.5], dtype=torch.float64), mask)
    m = mask[..., None].to(y.dtype)
    assert torch.allclose((y * m).sum(1), torch.zeros(4, 3, dtype=y.dtype), atol=1e-10)
    cov = (y * m).mT @ y / m.sum(1)[:, None]
    diag = torch.diagonal(cov, dim1=-2, dim2=-1)
    assert torch.allclose(cov - torch.diag_embed(diag), torch.zeros_like(cov), atol=1e-10)
    assert (diag[:, :-1] >= diag[:, 1:]).all()
    assert y[~mask].abs().max() == 0


def test_principal_axes_are_invariant_under_rotating_and_moving_the_molecule():
    pos, mask = _points(n=4, p=8, seed=2)
    R = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64)).Q
    R = R * torch.linalg.det(R)  # a rotation (det +1): the sign rule fixes a proper frame
    moved = pos @ R.T + torch.tensor([1.0, 2.0, -3.0], dtype=torch.float64)
    moved[~mask] = 0.0
    assert torch.allclose(qm9.principal_axes(moved, mask), qm9.principal_axes(pos, mask), atol=1e-8)


def test_default_task_keeps_stored_poses_and_sees_pair_distances():
    task = qm9.TASKS["qm9"]
    assert task.load is qm9._load and task.recipe["discriminator"] == "pairwise"
    assert {k: v for k, v in qm9.qm9_task().recipe.items() if k != "mask"} == {
        k: v for k, v in task.recipe.items() if k != "mask"
    }
    assert qm9.qm9_task(discriminator="deepsets").recipe["discriminator"] == "deepsets"
    with pytest.raises(ValueError, match="pose"):
        qm9.qm9_task(pose="random")


def test_pairwise_option_builds_a_pair_discriminator_on_the_spatial_coordinates(tmp_path):
    from liegnn.discovery import PairwiseDiscriminator

    coords, mask, onehot = qm9.affine_atoms(
        None, source=_csv_folder(tmp_path / "csv", n=32), root=tmp_path / "cache"
    )
    recipe = dict(qm9.qm9_task(discriminator="pairwise").recipe)
    n, c = recipe.pop("n"), recipe.pop("n_channels")
    gan = LieGAN(n, c, **recipe)
    result = gan.fit(
        coords, epochs=1, steps_per_epoch=2, point_mask=mask, features=onehot, progress=False
    )
    assert torch.isfinite(result.generators).all()
    assert isinstance(gan.discriminator, PairwiseDiscriminator)
    assert gan.discriminator.spatial_dims == 3  # (x, y, z) of (x, y, z, 1)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("qm9pack") is None, reason="needs qm9pack")
def test_qm9_task_finds_se3_with_the_pairwise_discriminator(tmp_path):
    """docs/results.md §5: ``liegnn discover qm9`` (4000 molecules, 2 seeds × 8 × 50 steps, the
    pairwise discriminator, the run select_best picks) spans se(3) at similarity ≥ 0.99, its
    linear parts span so(3) at ≥ 0.99 and are ≥ 99 % skew-symmetric (isometries, no stretch),
    and its translations have rank 3. Measured 2026-11-29: 0.982 / 0.998 for seeds 0 / 1, seed
    1 picked, so(3) 1.000, skew 0.999 (the DeepSets recipe: 0.778 / 0.733, skew 0.83)."""
    summary = run_task("qm9", out=tmp_path, progress=False)
    assert summary["truth"]["subspace_similarity"] >= 0.99
    assert summary["check"]["rotation_similarity"] >= 0.99
    assert summary["check"]["skew_fraction"] >= 0.99
    assert summary["check"]["translation_rank"] == 3
