"""QM9: a molecular property with LieGNN(J = I), a discovered metric, or augmentation."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.transforms import BaseTransform, Compose

from .. import distributed as ddp
from ..augmentation import SymmetryAugmentation
from ..baselines import DeepSets
from ..checkpoint import seed_everything
from ..symmetry import (
    Symmetry,
    known_generators,
    linear_part,
    load_basis,
    metric_of,
    parse_symmetry,
)
from ..trainer import Trainer
from ._common import main_first, out_dir, settings, train_config


class TargetScale(nn.Module):
    """y = f(x) · std + mean: the model learns a standardised target, the output is in the
    dataset's units (so losses and MAE are too)."""

    def __init__(self, model: nn.Module, mean: float, std: float):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, data) -> Tensor:
        return self.model(data) * self.std + self.mean


class SelectTarget(BaseTransform):
    """Keep column ``index`` of a molecule's ``y`` (1, 19): y becomes (1, 1)."""

    def __init__(self, index: int):
        self.index = index

    def forward(self, data):
        data.y = data.y[:, self.index : self.index + 1]
        return data


def train_qm9(
    symmetry: str | Symmetry = "euclidean",
    *,
    target: str = "homo",
    source: str | os.PathLike | None = None,
    preset: str = "cpu",
    augment: bool = False,
    out: str | os.PathLike | None = None,
    seed: int = 0,
    data_seed: int = 0,
    device: str = "cpu",
    resume: bool = True,
    progress: bool = True,
    root: str | os.PathLike | None = None,
    **overrides,
) -> dict:
    """Regress a QM9 property (``target``: a name of ``liegnn.datasets.qm9.TARGETS``, e.g.
    ``"homo"``, ``"lumo"``) with L1; MAE in the dataset's units (eV for energies) and meV.

    - ``euclidean``: LieGNN with J = I₃ and EGNN's options (``LieGNN.egnn``, sum readout);
    - ``discovered:PATH``: the same with J = solve_metric(L); (c, 4, 4) generators found on
      affine coordinates (x, y, z, 1) use their 3 × 3 linear part;
    - ``none``: :class:`DeepSets` on the centred coordinates (no rotation symmetry).

    ``augment=True`` (Table 5 of the paper): the ``none`` model trained with Eq. 11 augmentation
    by so(3) (``euclidean``) or the discovered basis (affine when 4 × 4).
    ``overrides``: ``subset`` (training molecules), ``epochs``, ``hidden``, ...; ``seed`` seeds
    the weights and training, ``data_seed`` the split.
    """
    from ...datasets.qm9 import QM9, TARGETS, qm9_split
    from ...nn.graphs import MoleculeGraph
    from ...nn.liegnn import LieGNN

    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    sym = parse_symmetry(symmetry)
    if sym.kind == "minkowski":
        raise ValueError("QM9 molecules live in Euclidean space: use none, euclidean or discovered")
    ddp.init_distributed("cuda" if device == "cuda" else "cpu")
    s = settings("qm9", preset, overrides)
    graph = MoleculeGraph(charge_power=s["charge_power"])
    select = SelectTarget(TARGETS.index(target))

    def make():
        dataset = QM9(source, root=root, transform=Compose([graph, select]))
        return qm9_split(dataset, seed=data_seed, subset=s["subset"])

    train, val, test = main_first(make)
    y = train._data.y[torch.as_tensor(train.indices()), select.index]  # no transform per molecule
    seed_everything(seed)
    S = graph.num_scalars
    baseline = lambda: DeepSets(S, 3, s["hidden"], s["n_layers"], 1, readout="sum")
    info: dict[str, Any] = {}
    if augment:
        if sym.kind == "none":
            raise ValueError("augment=True needs a symmetry to augment with")
        L = known_generators("euclidean", 3) if sym.path is None else load_basis(sym)
        affine = L.shape[-1] == 4
        if L.shape[-1] not in (3, 4):
            raise ValueError(f"QM9 generators must act on 3 or 4 (affine) dims, got {L.shape[-1]}")
        net = SymmetryAugmentation(baseline(), L, affine=affine)
        info["model"] = "DeepSets + augmentation"
    elif sym.kind == "none":
        net, info["model"] = baseline(), "DeepSets"
    else:
        if sym.kind == "euclidean":
            J = "euclidean"
        else:
            L = load_basis(sym)
            J = metric_of(linear_part(L, affine=L.shape[-1] == 4))
            info["metric"] = J.tolist()
        net = LieGNN.egnn(
            S,
            metric=J,
            dim=3,
            hidden=s["hidden"],
            n_layers=s["n_layers"],
            out_dim=1,
            readout="sum",
            dropout=0.0,
        )
        info["model"] = "LieGNN (EGNN options)"
    mad = float((y - y.mean()).abs().mean())
    model = TargetScale(net, float(y.mean()), mad if mad > 0 else 1.0)
    energy = target not in ("mu", "alpha", "r2", "cv", "A", "B", "C")
    info.update(
        task="qm9",
        target=target,
        symmetry=str(sym),
        augment=augment,
        preset=preset,
        n_train=len(train),
        n_val=len(val),
        n_test=len(test),
        units="eV" if energy else "PyG's QM9 units",
    )
    cfg = train_config(
        s,
        task="regression",
        loss="l1",
        seed=seed,
        device=device,
        progress=progress,
        unit="meV" if energy else None,
        unit_scale=1000.0 if energy else 1.0,
    )
    trainer = Trainer(
        model,
        train,
        val,
        cfg,
        test_data=test,
        out_dir=out_dir(out, f"qm9-{target}", sym, seed, augment),
        info=info,
    )
    return trainer.fit(resume=resume)
