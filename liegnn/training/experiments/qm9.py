"""QM9: a molecular property with LieGNN(J = I), a discovered metric, or augmentation."""

from __future__ import annotations

import copy
import os
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.transforms import BaseTransform, Compose

from ...symmetry import Symmetry
from .. import distributed as ddp
from ..augmentation import SymmetryAugmentation
from ..baselines import DeepSets
from ..checkpoint import seed_everything
from ..symmetry import metric_of, parse_symmetry
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


class Recentre(nn.Module):
    """f(x − mean(x)) per molecule: augmentation acts on the raw positions and the model's input
    pipeline (:class:`~liegnn.nn.graphs.MoleculeGraph`) centres them afterwards, so the
    translation part of an affine g is removed, centre(R x + t) = R centre(x)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, data) -> Tensor:
        from torch_geometric.nn import global_mean_pool

        batch = getattr(data, "batch", None)
        if batch is None:
            batch = torch.zeros(data.pos.shape[0], dtype=torch.long, device=data.pos.device)
        data = copy.copy(data)
        data.pos = data.pos - global_mean_pool(data.pos, batch)[batch]
        return self.model(data)


class VectorMPNN(nn.Module):
    r"""A message-passing network that reads the raw relative positions: translation and
    permutation invariant, not rotation invariant (EGNN's layer fed r_ij = x_i − x_j itself
    instead of ‖r_ij‖², with fixed positions):

    .. math::
        m_{ij} = \phi_e\big(h_i, h_j, r_{ij}, \|r_{ij}\|\big), \qquad
        h_i \leftarrow h_i + \phi_h\Big(h_i, \tfrac{1}{10}\sum_{j} m_{ij}\Big),

    with a sum readout. The "no symmetry" model that rotation augmentation can teach.
    Shapes: a PyG batch with ``x`` (|V|, S), ``pos`` (|V|, 3), ``edge_index``, ``batch`` →
    (num_graphs, out_dim).
    """

    def __init__(self, in_scalars: int, hidden: int = 64, n_layers: int = 4, out_dim: int = 1):
        super().__init__()
        act = nn.SiLU
        self.embed = nn.Linear(in_scalars, hidden)
        self.edge = nn.ModuleList(
            nn.Sequential(
                nn.Linear(2 * hidden + 4, hidden), act(), nn.Linear(hidden, hidden), act()
            )
            for _ in range(n_layers)
        )
        self.node = nn.ModuleList(
            nn.Sequential(nn.Linear(2 * hidden, hidden), act(), nn.Linear(hidden, hidden))
            for _ in range(n_layers)
        )
        self.head = nn.Sequential(nn.Linear(hidden, hidden), act(), nn.Linear(hidden, out_dim))

    def forward(self, data) -> Tensor:
        from torch_geometric.nn import global_add_pool

        src, dst = data.edge_index
        r = data.pos[dst] - data.pos[src]
        e = torch.cat([r, r.norm(dim=1, keepdim=True)], dim=1)
        h = self.embed(data.x)
        for edge, node in zip(self.edge, self.node, strict=True):
            m = edge(torch.cat([h[dst], h[src], e], dim=1))
            agg = torch.zeros_like(h).index_add_(0, dst, m) / 10.0
            h = h + node(torch.cat([h, agg], dim=1))
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = torch.zeros(h.shape[0], dtype=torch.long, device=h.device)
        return global_add_pool(self.head(h), batch, size=getattr(data, "num_graphs", None))


class SelectTarget(BaseTransform):
    """Keep column ``index`` of a molecule's ``y`` (1, 19): y becomes (1, 1)."""

    def __init__(self, index: int):
        self.index = index

    def forward(self, data):
        data.y = data.y[:, self.index : self.index + 1]
        return data


def _on_positions(choice) -> Symmetry:
    """The symmetry of a choice acting on atom positions: so(3) for ``euclidean``; a (c, 4, 4)
    discovered basis acts on (x, y, z, 1) (affine), a (c, 3, 3) one on (x, y, z)."""
    sym = choice.symmetry(3)
    if sym.n == 4 and sym.rep == "standard":
        sym = sym.with_rep("affine")
    if sym.n not in (3, 4):
        raise ValueError(f"QM9 generators must act on 3 or 4 (affine) dims, got {sym.n}")
    return sym


def augmentation_group(symmetry, *, affine: bool = False) -> Symmetry:
    """The group ``train_qm9(symmetry, augment=True, affine=affine)`` draws g from, acting on
    atom positions: se(3) on (x, y, z, 1) for ``euclidean`` with ``affine=True``, else so(3)
    (``euclidean``) or the discovered basis (affine when 4 × 4)."""
    sym = parse_symmetry(symmetry)
    if sym.kind == "none":
        raise ValueError("augment=True needs a symmetry to augment with")
    if affine and sym.kind != "euclidean":
        raise ValueError("affine=True (se(3) augmentation) needs symmetry euclidean")
    if affine:
        return Symmetry.known("se(3)", dtype=torch.float64)
    return _on_positions(sym)


def augmented_model(
    model: nn.Module, group: Symmetry, options: dict | None = None
) -> SymmetryAugmentation:
    """f̃ = Eq. 11 augmentation of ``model`` by ``group`` (:func:`augmentation_group`) as
    ``train_qm9`` trains it; an affine group's translations are removed by :class:`Recentre`.
    ``options``: keyword arguments of :class:`SymmetryAugmentation` (``distribution``, ...)."""
    on_affine = group.rep == "affine"
    f = Recentre(model) if on_affine else model
    return SymmetryAugmentation(f, group, affine=on_affine, **(options or {}))


def augmentation_bond_lengths(
    symmetry,
    *,
    affine: bool = False,
    augment_options: dict | None = None,
    source: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
    subset: int | None = None,
    data_seed: int = 0,
    molecules: int = 1000,
    seed: int = 0,
    bond_cutoff: float = 1.6,
    threshold: float = 0.05,
) -> dict:
    """:func:`~liegnn.training.augmentation.bond_length_change` of the first ``molecules``
    training molecules (``train_qm9``'s split for ``subset`` and ``data_seed``, centred as the
    model sees them) under the g that ``train_qm9(symmetry, augment=True, affine=affine,
    augment_options=augment_options)`` draws: how far its augmentation moves molecules off
    their bond lengths (d < ``bond_cutoff`` Å). The draws are seeded by ``seed``; torch's global
    random state is left as it was."""
    from torch_geometric.data import Batch

    from ...datasets.qm9 import QM9, qm9_split
    from ...nn.graphs import MoleculeGraph
    from ..augmentation import bond_length_change

    group = augmentation_group(symmetry, affine=affine)
    dataset = QM9(source, root=root, transform=MoleculeGraph(edges=False))
    train = qm9_split(dataset, seed=data_seed, subset=subset)[0]
    batch = Batch.from_data_list([train[i] for i in range(min(molecules, len(train)))])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        aug = augmented_model(nn.Identity(), group, augment_options)
        return bond_length_change(
            batch.pos,
            batch.batch,
            aug.transform_positions,
            bond_cutoff=bond_cutoff,
            threshold=threshold,
        )


def reference_network(model: str, in_scalars: int, hidden: int, n_layers: int) -> nn.Module:
    """The E(3)-invariant reference networks of ``train_qm9`` (before :class:`TargetScale`):
    ``"e3nn"``, the gate network with ``hidden`` scalar and ``hidden // 4`` vector channels, or
    ``"schnet"``, PyG's SchNet with ``hidden`` channels and filters (50 Gaussians, 10 Å); both
    with ``n_layers`` convolutions and a sum readout."""
    if model == "e3nn":
        from ...nn.e3nn_gate import E3nnGateNetwork

        mul_vec = max(hidden // 4, 1)
        return E3nnGateNetwork(
            in_scalars, 1, mul=hidden, mul_vec=mul_vec, n_layers=n_layers, readout="sum"
        )
    if model == "schnet":
        from ..schnet import SchNetRegressor

        return SchNetRegressor(hidden, n_layers)
    raise ValueError(f"reference model must be 'e3nn' or 'schnet', got {model!r}")


def train_qm9(
    symmetry="euclidean",
    *,
    target: str = "homo",
    source: str | os.PathLike | None = None,
    preset: str = "cpu",
    augment: bool = False,
    model: str = "auto",
    affine: bool = False,
    augment_options: dict | None = None,
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
    by so(3) (``euclidean``; se(3) on affine coordinates with ``affine=True``) or the discovered
    basis (affine when 4 × 4). Affine group elements act on the positions before the model
    centres them (:class:`Recentre`), as on raw molecules. ``augment_options``: keyword
    arguments of :class:`SymmetryAugmentation` (``distribution``, ``scale``, ``normalize``), e.g.
    ``dict(distribution="normal", scale=1.0, normalize=False)`` to draw g from LieGAN's own
    distribution exp(Σ w_i L_i), w ~ N(0, 1), at the found scale.
    ``model="mpnn"`` (with ``none`` or ``augment``): :class:`VectorMPNN`, message passing on
    the raw relative positions, instead of Deep Sets as the non-equivariant model.
    ``model="e3nn"`` or ``"schnet"`` (with ``euclidean``): an E(3)-invariant reference instead
    of LieGNN (:func:`reference_network`): the
    :class:`~liegnn.nn.e3nn_gate.E3nnGateNetwork` (``hidden`` scalar and ``hidden // 4`` vector
    channels, ``n_layers`` gate convolutions) or PyG's SchNet
    (:class:`~liegnn.training.schnet.SchNetRegressor`: ``hidden`` channels, ``n_layers``
    interaction blocks, on the atomic numbers ``z`` and the distances).
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
    if model not in ("auto", "e3nn", "mpnn", "schnet"):
        raise ValueError(f"model must be 'auto', 'e3nn', 'mpnn' or 'schnet', got {model!r}")
    if model == "mpnn" and not (sym.kind == "none" or augment):
        raise ValueError("model='mpnn' is the non-equivariant model: use none or augment=True")
    if model in ("e3nn", "schnet") and (sym.kind != "euclidean" or augment):
        raise ValueError(f"model={model!r} is E(3)-invariant: use it with euclidean, no augment")
    if augment_options and not augment:
        raise ValueError("augment_options need augment=True")
    if affine and not (augment and sym.kind == "euclidean"):
        raise ValueError("affine=True (se(3) augmentation) needs symmetry euclidean, augment")
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
    if model == "mpnn":
        baseline = lambda: VectorMPNN(S, s["hidden"], s["n_layers"], 1)
    else:
        baseline = lambda: DeepSets(S, 3, s["hidden"], s["n_layers"], 1, readout="sum")
    plain = "VectorMPNN" if model == "mpnn" else "DeepSets"
    info: dict[str, Any] = {}
    if augment:
        L = augmentation_group(sym, affine=affine)
        net = augmented_model(baseline(), L, augment_options)
        info["model"] = f"{plain} + augmentation"
        info["augmentation_generators"] = L.generators.tolist()
        info["augment_options"] = dict(augment_options or {})
    elif sym.kind == "none":
        net, info["model"] = baseline(), plain
    elif model in ("e3nn", "schnet"):
        net = reference_network(model, S, s["hidden"], s["n_layers"])
        info["model"] = "e3nn gate network" if model == "e3nn" else "SchNet (PyG)"
    else:
        if sym.kind == "euclidean":
            J = "euclidean"
        else:
            J = metric_of(_on_positions(sym).linear_part())
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
    scaled = TargetScale(net, float(y.mean()), mad if mad > 0 else 1.0)
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
    variant = ("" if model == "auto" else f"-{model}") + ("-se3" if affine else "")
    trainer = Trainer(
        scaled,
        train,
        val,
        cfg,
        test_data=test,
        out_dir=out_dir(out, f"qm9-{target}{variant}", sym, seed, augment),
        info=info,
        eval_train=True,
    )
    return trainer.fit(resume=resume)
