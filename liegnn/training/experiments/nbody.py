"""N-body prediction (Table 2): EMLP or MLP, with or without augmentation by the symmetry."""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from .. import distributed as ddp
from ..augmentation import SymmetryAugmentation
from ..baselines import MLP
from ..checkpoint import seed_everything
from ..symmetry import parse_symmetry
from ..trainer import Trainer
from ._common import main_first, out_dir, settings, train_config


class _FlatEMLP(nn.Module):
    """EMLP on windows (N, steps, n): flatten, map, reshape."""

    def __init__(self, emlp: nn.Module, out_shape: tuple[int, int]):
        super().__init__()
        self.emlp, self.out_shape = emlp, out_shape

    def forward(self, x: Tensor) -> Tensor:
        return self.emlp(x.flatten(1)).view(x.shape[0], *self.out_shape)


def _emlp_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("liegnn.nn.emlp") is not None


def nbody_model(
    generators,
    past: int,
    future: int,
    n: int,
    *,
    model: str,
    hidden: int,
    n_layers: int,
    threshold: float | str = "auto",
) -> nn.Module:
    """An MLP, or an EMLP from ``past·V`` to ``future·V`` equivariant under ``generators``
    (``threshold``: the singular-value cut of its equivariant bases, "auto" or e.g. the paper's
    5e-3). Both map windows (N, past, n) → (N, future, n)."""
    if model == "mlp":
        return MLP((past, n), (future, n), hidden, n_layers)
    from ...nn.emlp import EMLP
    from ...reps import V
    from ...symmetry import as_symmetry

    emlp = EMLP(
        past * V,
        future * V,
        # the basis solver needs float64 (float32 is not equivariant)
        as_symmetry(generators).to(torch.float64),
        hidden=hidden,
        n_layers=n_layers,
        threshold=threshold,
    )
    return _FlatEMLP(emlp, (future, n))


def train_nbody(
    symmetry="euclidean",
    *,
    model: str = "auto",
    augment: bool = False,
    preset: str = "cpu",
    n_bodies: int = 2,
    past: int = 5,
    future: int = 5,
    threshold: float | str = "auto",
    out: str | os.PathLike | None = None,
    seed: int = 0,
    data_seed: int = 0,
    device: str = "cpu",
    resume: bool = True,
    progress: bool = True,
    root: str | os.PathLike | None = None,
    **overrides,
) -> dict:
    """Predict ``future`` N-body steps from ``past`` ones (MSE, polar-angle split: Table 2).

    ``symmetry``: ``euclidean`` = the true so(2) rotating every q_i and p_i, ``discovered:PATH``
    a found (c, 4n, 4n) basis, ``none``. ``model``: ``"emlp"`` (equivariant under the symmetry;
    needs :mod:`liegnn.nn.emlp`), ``"mlp"``, or ``"auto"`` (EMLP when there is a symmetry, no
    augmentation and EMLP is installed, else MLP). ``augment=True`` wraps the model in Eq. 11
    augmentation, ρ_X = ρ_Y acting on every step. ``threshold``: EMLP's singular-value cut.
    Validation: the last 10 % of the training windows (whole trajectories, nearest the test
    angles). ``seed`` seeds the weights and training; ``data_seed`` the trajectories.
    """
    from ...datasets.nbody import load_nbody, rotation_generator

    sym = parse_symmetry(symmetry)
    if sym.kind == "minkowski":
        raise ValueError("N-body orbits are rotation symmetric: use none, euclidean or discovered")
    if model not in ("auto", "mlp", "emlp"):
        raise ValueError(f"model must be 'auto', 'mlp' or 'emlp', got {model!r}")
    n = 4 * n_bodies
    L = None
    if sym.kind == "euclidean":
        L = rotation_generator(n_bodies)
    elif sym.kind != "none":
        L = sym.symmetry(n)
        if L.n != n:
            raise ValueError(f"{sym}: generators act on {L.n} dims, the states on {n}")
    if L is None and (augment or model == "emlp"):
        raise ValueError("augment=True and model='emlp' need a symmetry")
    if model == "auto":
        model = "emlp" if L is not None and not augment and _emlp_available() else "mlp"
    ddp.init_distributed("cuda" if device == "cuda" else "cpu")
    s = settings("nbody", preset, overrides)
    split = main_first(
        lambda: load_nbody(
            n_bodies,
            "polar",
            past,
            future,
            seed=data_seed,
            n_trajectories=s["n_trajectories"],
            root=root,
        )
    )
    n_val = max(1, len(split.x_train) // 10)
    train = TensorDataset(split.x_train[:-n_val], split.y_train[:-n_val])
    val = TensorDataset(split.x_train[-n_val:], split.y_train[-n_val:])
    test = TensorDataset(split.x_test, split.y_test)
    seed_everything(seed)
    net = nbody_model(
        L,
        past,
        future,
        n,
        model=model,
        hidden=s["hidden"],
        n_layers=s["n_layers"],
        threshold=threshold,
    )
    if augment:
        net = SymmetryAugmentation(net, L, L)
    info = {
        "task": "nbody",
        "symmetry": str(sym),
        "model": model.upper(),
        "augment": augment,
        "preset": preset,
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test),
    }
    cfg = train_config(
        s, task="regression", loss="mse", monitor="mse", seed=seed, device=device, progress=progress
    )
    tag = f"nbody-{model}"
    trainer = Trainer(
        net,
        train,
        val,
        cfg,
        test_data=test,
        out_dir=out_dir(out, tag, sym, seed, augment),
        info=info,
    )
    return trainer.fit(resume=resume)
