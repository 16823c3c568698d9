"""Top tagging: LorentzNet / EGNN / LieGNN(discovered or given J) / Deep Sets / the peers
(PELICAN, L-GATr, LLoCa) on the same jets, split and trainer."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from .. import distributed as ddp
from ..augmentation import SymmetryAugmentation
from ..baselines import DeepSets
from ..checkpoint import seed_everything
from ..peers import PEERS, peer_model
from ..symmetry import SymmetryChoice, load_metric, metric_of, parse_symmetry
from ..trainer import Trainer
from ._common import main_first, out_dir, random_split, settings, train_config


def toptag_splits(
    data: str | os.PathLike | None = None,
    *,
    n_jets: int | None = None,
    max_constituents: int = 200,
    seed: int = 0,
    root: str | os.PathLike | None = None,
    progress: bool = True,
    node_scalars: str = "eta",
    n_train: int | None = None,
):
    """Train / val / test jets as LorentzNet graphs (beams, ψ(mass) scalars, complete edges).

    ``data``: a folder with the reference ``train.h5``, ``val.h5``, ``test.h5``, or an ``.npz``
    file of L-GATr's layout (``kinematics_train`` / ``_val`` / ``_test``, ``labels_*``), each
    split capped at 80 / 10 / 10 % of ``n_jets``; one ``.h5`` jet file (its first ``n_jets``
    jets, split 80 / 10 / 10 at random, seeded); or None: ``n_jets`` jets generated with
    Pythia 8 + FastJet (cached; the ``[toptag]`` extra). ``seed`` seeds the generation and the
    split. ``node_scalars``: ``"eta"`` (x = onehot · ψ(m) with the Minkowski mass, the
    reference) or ``"model"`` (x = the bare one-hot; :class:`MassScalars` multiplies in ψ(m)
    with the model's own J). ``n_train``: keep only the first ``n_train`` training jets, with
    the validation and test jets unchanged (a learning curve on one test set).
    """
    if n_train is not None and n_train < 1:
        raise ValueError(f"n_train must be a positive number of jets, got {n_train}")
    splits = _toptag_splits(data, n_jets, max_constituents, seed, root, progress, node_scalars)
    if n_train is None:
        return splits
    train, val, test = splits
    if n_train > len(train):
        raise ValueError(f"n_train={n_train} exceeds the {len(train)} training jets")
    if isinstance(train, torch.utils.data.Subset):
        return torch.utils.data.Subset(train.dataset, train.indices[:n_train]), val, test
    return torch.utils.data.Subset(train, range(n_train)), val, test


def _toptag_splits(data, n_jets, max_constituents, seed, root, progress, node_scalars):
    from ...datasets.toptag import TopTagging, generated_toptag
    from ...datasets.toptag_files import NPZ_SPLITS, count_jets
    from ...nn.graphs import LorentzNetInputs

    if node_scalars not in NODE_SCALARS:
        raise ValueError(f"node_scalars must be one of {NODE_SCALARS}, got {node_scalars!r}")
    transform = LorentzNetInputs(mass_metric=None if node_scalars == "eta" else "model")
    if data is None:
        if n_jets is None:
            raise ValueError("generating jets needs n_jets")
        jets = generated_toptag(n_jets, seed, root=root, progress=progress)
        jets = TopTagging(
            jets.path, root=root, max_constituents=max_constituents, transform=transform
        )
        return random_split(jets, (0.8, 0.1, 0.1), seed)
    path = Path(data).expanduser()
    if path.suffix == ".npz":
        parts = []
        for split, fraction in zip(NPZ_SPLITS, (0.8, 0.1, 0.1), strict=True):
            total = count_jets(path, split=split)
            cap = None if n_jets is None else max(1, min(total, int(fraction * n_jets)))
            parts.append(
                TopTagging(
                    path,
                    split=split,
                    root=root,
                    n_jets=cap,
                    max_constituents=max_constituents,
                    transform=transform,
                )
            )
        return tuple(parts)
    if path.is_dir():
        files = [path / f"{name}.h5" for name in ("train", "val", "test")]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise ValueError(f"{path} lacks {missing} (expected train.h5, val.h5, test.h5)")
        parts = []
        for file, fraction in zip(files, (0.8, 0.1, 0.1), strict=True):
            cap = None if n_jets is None else max(1, min(count_jets(file), int(fraction * n_jets)))
            parts.append(
                TopTagging(
                    file,
                    root=root,
                    n_jets=cap,
                    max_constituents=max_constituents,
                    transform=transform,
                )
            )
        return tuple(parts)
    if n_jets is not None:
        n_jets = min(n_jets, count_jets(path))
    jets = TopTagging(
        path, root=root, n_jets=n_jets, max_constituents=max_constituents, transform=transform
    )
    return random_split(jets, (0.8, 0.1, 0.1), seed)


NODE_SCALARS = ("eta", "model")
#: ``model=`` choices: ``auto`` follows the symmetry (LorentzNet, EGNN, LieGNN(J), Deep Sets)
MODELS = ("auto", "liegnn", *PEERS)
_PEER_NAMES = {"pelican": "PELICAN", "lgatr": "L-GATr", "lloca": "LLoCa"}


class MassScalars(nn.Module):
    r"""A LieGNN whose node scalars follow its own, current metric J.

    .. math::
        x_i = \mathrm{onehot}_i \cdot ψ\big(\sqrt{|⟨p_i, p_i⟩_J|}\big)

    computed in ``forward`` from ``data.pos`` and the one-hot ``data.x`` of
    ``LorentzNetInputs(mass_metric="model")``, so the whole model is invariant under every g
    with gᵀJg = J, and a learnable J also moves the scalars (gradients flow through ψ(m)).

    Args:
        model: the :class:`~liegnn.LieGNN` (its ``metric`` gives J).

    Shapes: a PyG batch with ``x`` (|V|, S) one-hot, ``pos`` (|V|, 4) → (num_graphs, out_dim).
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    @property
    def metric(self):
        return self.model.metric

    def forward(self, data) -> Tensor:
        from ...nn.graphs import LorentzNetInputs

        x, pos = data.x, data.pos
        x = x * LorentzNetInputs.mass_scalars(pos, self.model.metric()).to(x.dtype)[:, None]
        return self.model(
            x,
            pos,
            getattr(data, "edge_index", None),
            getattr(data, "batch", None),
            getattr(data, "num_graphs", None),
        )


def toptag_model(
    symmetry: SymmetryChoice | None,
    *,
    hidden: int = 72,
    n_layers: int = 6,
    dropout: float = 0.2,
    metric=None,
    learnable_metric: bool = False,
    node_scalars: str = "eta",
    model: str = "auto",
) -> tuple[nn.Module, dict]:
    """The top-tagging model of a symmetry, a metric or a peer, and facts about it for
    ``metrics.json``.

    - ``minkowski``: LorentzNet = LieGNN(J = η);
    - ``euclidean``: EGNN (J = I) = LieGNN(J = I₄), LorentzNet's blocks with the Euclidean
      metric on the 4-momenta;
    - a discovered or named symmetry: LieGNN(J) with J the metric of its action on one 4-vector
      without the scaling part (``sym.four_vector().traceless().metric()``, refused when it
      preserves no metric);
    - ``metric``: LieGNN with this J exactly as given (a tensor, a file, a Symmetry; see
      :func:`~liegnn.training.symmetry.load_metric`; never rescaled), the symmetry left unset;
    - ``none``: :class:`~liegnn.training.baselines.DeepSets` on the raw 4-momenta (a Particle
      Flow Network: permutation invariant, no Lorentz symmetry);
    - ``model="pelican"`` / ``"lgatr"`` / ``"lloca"``: a peer (:mod:`~liegnn.training.peers`,
      the ``[peers]`` extra), Lorentz-invariant by construction (symmetry unset or minkowski).

    ``learnable_metric``: J = (A + Aᵀ)/2 learned from the start above, shared by all blocks.
    ``node_scalars``: ``"eta"`` (ψ of the Minkowski mass, the reference, for every model) or
    ``"model"`` (ψ of √|⟨p, p⟩_J| with the model's own J: the model is wrapped in
    :class:`MassScalars`; LieGNN models only).
    """
    from ...metric import metric_similarity
    from ...nn.liegnn import LieGNN

    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if node_scalars not in NODE_SCALARS:
        raise ValueError(f"node_scalars must be one of {NODE_SCALARS}, got {node_scalars!r}")
    kind = "minkowski" if symmetry is None else symmetry.kind
    if model in PEERS:
        if kind != "minkowski" or metric is not None or learnable_metric:
            raise ValueError(
                f"{model} is Lorentz-invariant by construction: it takes no symmetry other than "
                "minkowski, no metric and no learnable metric"
            )
        if node_scalars != "eta":
            raise ValueError(f"{model} uses the Minkowski node scalars (node_scalars='eta')")
        net = peer_model(model, in_scalars=2, hidden=hidden, n_layers=n_layers, dropout=dropout)
        return net, {"model": _PEER_NAMES[model], "node_scalars": "eta"}
    if metric is not None and symmetry is not None:
        raise ValueError("give either a symmetry or a metric for the LieGNN, not both")
    if kind == "none":
        if model == "liegnn":
            raise ValueError("model='liegnn' needs a symmetry or a metric, not 'none'")
        if learnable_metric or node_scalars != "eta":
            raise ValueError("Deep Sets (symmetry 'none') has no metric to learn or to use")
        net = DeepSets(2, 4, hidden, n_layers=3, out_dim=2, dropout=dropout)
        return net, {"model": "DeepSets", "node_scalars": "eta"}
    if metric is not None:
        J, info = load_metric(metric), {"model": "LieGNN", "metric_source": _source(metric)}
    elif kind == "minkowski":
        J, info = "minkowski", {"model": "LorentzNet"}
    elif kind == "euclidean":
        # LorentzNet's blocks with J = I₄ (the LieGAN paper's J = I comparison): the plain
        # EGNN (``LieGNN.egnn``, ‖x_i − x_j‖² of 4-momenta in GeV, up to ~10⁶, without ψ or
        # normalisation) saturates on jets (test accuracy ≈ 0.6 at the CPU preset)
        J = torch.eye(4)
        info = {"model": "EGNN", "architecture": "LorentzNet blocks, J = I4"}
    else:
        J, info = metric_of(symmetry.symmetry(4).four_vector().traceless()), {"model": "LieGNN"}
    net = LieGNN(J, 2, hidden, n_layers, 2, dropout=dropout, learnable_metric=learnable_metric)
    J0 = net.metric().detach()
    info.update(
        metric=J0.tolist(),
        metric_similarity_minkowski=metric_similarity(J0, "minkowski"),
        learnable_metric=learnable_metric,
        node_scalars=node_scalars,
    )
    return (MassScalars(net) if node_scalars == "model" else net), info


def _source(metric) -> str:
    if isinstance(metric, (str, os.PathLike)):
        return str(metric)
    return type(metric).__name__


def _learned_metric(trainer: Trainer) -> dict:
    """The learned J of the final weights and of the best-validation epoch's, with cosines."""
    from ...metric import metric_similarity

    def symmetric(A: Tensor) -> Tensor:
        return 0.5 * (A + A.T).detach().cpu().double()

    J = symmetric(trainer.model.metric.weight)
    facts = {
        "metric_final": J.tolist(),
        "metric_final_similarity_minkowski": metric_similarity(J, "minkowski"),
    }
    best = trainer._best_state or {}
    key = next((k for k in best if k.endswith("metric.weight")), None)
    if key is not None:
        Jb = symmetric(best[key])
        facts["metric_best_epoch"] = Jb.tolist()
        facts["metric_best_epoch_similarity_minkowski"] = metric_similarity(Jb, "minkowski")
    return facts


def train_toptag(
    symmetry=None,
    *,
    data: str | os.PathLike | None = None,
    preset: str = "cpu",
    augment: bool = False,
    augment_scale: float = 0.5,
    metric=None,
    learnable_metric: bool = False,
    node_scalars: str = "eta",
    model: str = "auto",
    out: str | os.PathLike | None = None,
    seed: int = 0,
    data_seed: int = 0,
    device: str = "cpu",
    resume: bool = True,
    progress: bool = True,
    root: str | os.PathLike | None = None,
    **overrides,
) -> dict:
    """Train a top tagger (:func:`toptag_model`) on :func:`toptag_splits` jets.

    ``symmetry``: a ``--symmetry`` string, a :class:`~liegnn.Symmetry` or a discovery result
    (:func:`~liegnn.training.symmetry.parse_symmetry`); None: minkowski, unless ``metric`` or a
    peer ``model`` is given.
    ``metric``: train LieGNN with this J exactly as given (a (4, 4) tensor, a file or a
    Symmetry; :func:`~liegnn.training.symmetry.load_metric`). ``learnable_metric``: learn J
    from its start value; ``metrics.json`` then holds the final and the best epoch's J
    (``metric_final``, ``metric_best_epoch``) and their cosines with η. ``node_scalars``:
    ``"eta"`` (the reference) or ``"model"`` (from the model's own J). ``model``: ``"auto"`` /
    ``"liegnn"``, or a peer ``"pelican"``, ``"lgatr"``, ``"lloca"`` (the ``[peers]`` extra).
    ``augment=True`` trains the :class:`DeepSets` baseline with Eq. 11 augmentation by the
    symmetry's generators (so(1, 3), so(4) or the discovered basis), coefficients
    U[−augment_scale, augment_scale] per normalised channel (boost rapidities stay moderate).
    ``overrides``: any preset key (``n_jets``, ``n_train``, ``epochs``, ``lr``, ...) or
    TrainConfig field; ``n_train`` trains on the first N training jets, same val / test jets.
    ``seed`` seeds the weights and training; ``data_seed`` the generated jets and the split.
    Returns the content of ``out/metrics.json`` (test accuracy, AUC, 1/ε_B at ε_S = 0.3, 0.5,
    ``n_parameters``, ``node_scalars``).
    """
    if symmetry is None and metric is None and model not in PEERS:
        symmetry = "minkowski"
    sym = None if symmetry is None else parse_symmetry(symmetry)
    if augment and (sym is None or sym.kind == "none"):
        raise ValueError("augment=True needs a symmetry to augment with")
    if augment and (
        metric is not None or learnable_metric or model != "auto" or node_scalars != "eta"
    ):
        raise ValueError(
            "augment=True trains Deep Sets: no metric, learnable metric, model or node scalars "
            "from a metric"
        )
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    ddp.init_distributed("cuda" if device == "cuda" else "cpu")
    s = settings("toptag", preset, overrides)
    train, val, test = main_first(
        lambda: toptag_splits(
            data,
            n_jets=s["n_jets"],
            max_constituents=s["max_constituents"],
            seed=data_seed,
            root=root,
            progress=progress and ddp.context().is_main,
            node_scalars=node_scalars,
            n_train=s["n_train"],
        )
    )
    seed_everything(seed)
    if augment:
        L = sym.symmetry(4).four_vector()
        net = SymmetryAugmentation(
            DeepSets(2, 4, s["hidden"], 3, 2, dropout=s["dropout"]), L, scale=augment_scale
        )
        info = {"model": "DeepSets + augmentation", "node_scalars": node_scalars}
    else:
        net, info = toptag_model(
            sym,
            hidden=s["hidden"],
            n_layers=s["n_layers"],
            dropout=s["dropout"],
            metric=metric,
            learnable_metric=learnable_metric,
            node_scalars=node_scalars,
            model=model,
        )
    info.update(
        task="toptag",
        symmetry=None if sym is None else str(sym),
        augment=augment,
        preset=preset,
        n_train=len(train),
        n_val=len(val),
        n_test=len(test),
    )
    cfg = train_config(s, task="classification", seed=seed, device=device, progress=progress)
    tag = _tag(sym, metric, learnable_metric, node_scalars, model)
    trainer = Trainer(
        net,
        train,
        val,
        cfg,
        test_data=test,
        out_dir=out_dir(out, "toptag", tag, seed, augment),
        info=info,
        extra_info=(lambda: _learned_metric(trainer)) if learnable_metric else None,
    )
    return trainer.fit(resume=resume)


def _tag(sym, metric, learnable: bool, node_scalars: str, model: str) -> str:
    """The run folder's name part: ``minkowski``, ``metric-<stem>``, ``pelican``, ... with
    ``-learnable`` / ``-jscalars`` for a learnable J / node scalars from J."""
    if model in PEERS:
        return model
    if metric is not None:
        base = f"metric-{Path(metric).stem}" if isinstance(metric, (str, os.PathLike)) else "metric"
    else:
        base = sym.tag
    return (
        base
        + ("-learnable" if learnable else "")
        + ("-jscalars" if node_scalars == "model" else "")
    )
