"""N-body discovery tasks (Sec. 6.2, App. B.1, C.1): the rotation of the plane from orbits.

Data: HNN-style orbits (:mod:`liegnn.datasets.nbody`), windows of 5 past and 5 future steps of
(q1, p1, q2, p2, …), training part of the polar-angle split. One 4n × 4n generator acts on every
step of x and y alike (``rep_y="standard"``), searched in the paper's block mask (one 2 × 2 block
per q_i and per p_i). The truth is the rotation generator J = [[0, −1], [1, 0]] on every 2-vector.

- ``nbody``: 2 bodies (8 dims), the tuned recipe of ``benchmarks/bench_discovery.py``: a 10×
  larger generator learning rate than the paper's from a small initialisation, λ = 1.
- ``nbody3``: 3 bodies on a regular triangle (12 dims), the same recipe.
"""

from __future__ import annotations

import torch

from ..masks import nbody_blocks
from ._task import DiscoveryTask, TaskData

#: trajectories of the default and of the quick (test) data sets
N_TRAJECTORIES = {2: 1000, 3: 1000}
N_TRAJECTORIES_QUICK = {2: 60, 3: 32}


def recipe(n_bodies: int = 2, *, mask: bool = True) -> dict:
    """LieGAN keyword arguments for the n-body task (``mask=False``: the whole gl(4n)): the
    defaults (among them lr_g = 1e-2 from init_scale 0.1, lr_decay 0.97, and Adam β₁ = 0.5 for D,
    which made the 2-body rotation 2–5× faster than PyTorch's 0.9) plus these overrides."""
    return dict(
        n=4 * n_bodies,
        n_channels=1,
        mask=nbody_blocks(n_bodies) if mask else None,  # the paper's 2 × 2 blocks
        rep_y="standard",  # the future steps y rotate with x
        identity_weight=1.0,  # as the paper for this task
        hidden=512,  # tuned with the paper's D: width and rate
        lr_d=2e-4,
        batch_size=64,
        ema=0.0,  # converges in ~150 steps: an average over ~100 would only trail
        stop_tol=None,  # the task's 40 epochs were tuned
        retries=0,  # the task trains three seeds and picks one with select_best
    )


def load_windows(
    n_bodies: int, seed: int = 0, n_trajectories: int | None = None, *, root=None
) -> TaskData:
    """Training windows x, y (N, 5, 4n) of the polar-angle split, with the rotation as truth."""
    from ...datasets.nbody import load_nbody, rotation_generator

    n_traj = N_TRAJECTORIES[n_bodies] if n_trajectories is None else int(n_trajectories)
    split = load_nbody(n_bodies, "polar", 5, 5, seed=seed, n_trajectories=n_traj, root=root)
    return TaskData(
        x=split.x_train,
        y=split.y_train,
        truth=rotation_generator(n_bodies).to(torch.float32),
        info={
            "n_bodies": n_bodies,
            "n_trajectories": n_traj,
            "n_windows": len(split.x_train),
            "past": 5,
            "future": 5,
            "split": "polar (training part)",
            "data_seed": seed,
        },
    )


def rotation_check(result, data: TaskData) -> dict:
    """How the found L acts per 2-vector: |cos| of each diagonal 2 × 2 block with J, the spread
    of the blocks' scales (0 when every q_i and p_i turns at the same rate) and the fraction of
    ‖L‖² outside the blocks (0 within the mask; the coupling a maskless search may find).
    ``rotation_found``: every block cosine > 0.99, spread < 0.1, outside fraction < 0.02."""
    L = result.generators[0].detach().to(torch.float64)
    J = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)
    blocks = [L[i : i + 2, i : i + 2] for i in range(0, L.shape[-1], 2)]
    cos = [float((b * J).sum().abs() / (b.norm() * J.norm()).clamp_min(1e-30)) for b in blocks]
    scale = torch.stack([(b * J).sum() / 2 for b in blocks])
    inside = sum(float(b.norm() ** 2) for b in blocks)
    off = max(0.0, 1.0 - inside / max(float(L.norm() ** 2), 1e-30))
    spread = float(scale.std() / scale.abs().mean().clamp_min(1e-30))
    return {
        "block_cosines": cos,
        "block_scale_spread": spread,
        "off_block_fraction": off,
        "rotation_found": min(cos) > 0.99 and spread < 0.1 and off < 0.02,
    }


def _loader(n_bodies: int):
    def load(seed: int, quick: bool) -> TaskData:
        n = (N_TRAJECTORIES_QUICK if quick else N_TRAJECTORIES)[n_bodies]
        return load_windows(n_bodies, seed, n)

    return load


TASKS: dict[str, DiscoveryTask] = {
    "nbody": DiscoveryTask(
        name="nbody",
        description="2-body orbits (8 dims, 5 + 5 steps, polar split): the rotation of the plane",
        load=_loader(2),
        recipe=recipe(2),
        epochs=40,
        quick_epochs=6,
        steps_per_epoch=25,
        seeds=3,
        check=rotation_check,
    ),
    "nbody3": DiscoveryTask(
        name="nbody3",
        description="3-body orbits (12 dims, 5 + 5 steps, polar split): the rotation of the plane",
        load=_loader(3),
        recipe=recipe(3),
        epochs=40,
        quick_epochs=15,
        steps_per_epoch=25,
        seeds=3,
        check=rotation_check,
    ),
}

__all__ = ["TASKS", "load_windows", "recipe", "rotation_check"]
