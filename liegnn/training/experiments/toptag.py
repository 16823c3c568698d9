"""Top tagging: LorentzNet / EGNN / LieGNN(discovered J) / Deep Sets on jets."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .. import distributed as ddp
from ..augmentation import SymmetryAugmentation
from ..baselines import DeepSets
from ..checkpoint import seed_everything
from ..symmetry import SymmetryChoice, metric_of, parse_symmetry
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
):
    """Train / val / test jets as LorentzNet graphs (beams, ψ(mass) scalars, complete edges).

    ``data``: a folder with the reference ``train.h5``, ``val.h5``, ``test.h5`` (each capped
    at 80 / 10 / 10 % of ``n_jets``), one jet file (its first ``n_jets`` jets, split
    80 / 10 / 10 at random, seeded), or
    None: ``n_jets`` jets generated with Pythia 8 + FastJet (cached; the ``[toptag]`` extra).
    ``seed`` seeds the generation and the split.
    """
    from ...datasets.toptag import TopTagging, generated_toptag
    from ...datasets.toptag_files import count_jets
    from ...nn.graphs import LorentzNetInputs

    transform = LorentzNetInputs()
    if data is None:
        if n_jets is None:
            raise ValueError("generating jets needs n_jets")
        jets = generated_toptag(n_jets, seed, root=root, progress=progress)
        jets = TopTagging(
            jets.path, root=root, max_constituents=max_constituents, transform=transform
        )
        return random_split(jets, (0.8, 0.1, 0.1), seed)
    path = Path(data).expanduser()
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


def toptag_model(
    symmetry: SymmetryChoice, *, hidden: int = 72, n_layers: int = 6, dropout: float = 0.2
) -> tuple[nn.Module, dict]:
    """The top-tagging model of a symmetry, and facts about it for ``metrics.json``.

    - ``minkowski``: LorentzNet = LieGNN(J = η);
    - ``euclidean``: EGNN (J = I) = LieGNN(J = I₄), LorentzNet's blocks with the Euclidean
      metric on the 4-momenta;
    - a discovered or named symmetry: LieGNN(J) with J the metric of its action on one 4-vector
      without the scaling part (``sym.four_vector().traceless().metric()``, refused when it
      preserves no metric);
    - ``none``: :class:`~liegnn.training.baselines.DeepSets` on the raw 4-momenta (a Particle
      Flow Network: permutation invariant, no Lorentz symmetry).
    """
    from ...metric import metric_similarity
    from ...nn.liegnn import LieGNN

    if symmetry.kind == "none":
        model = DeepSets(2, 4, hidden, n_layers=3, out_dim=2, dropout=dropout)
        return model, {"model": "DeepSets"}
    if symmetry.kind == "minkowski":
        return LieGNN("minkowski", 2, hidden, n_layers, 2, dropout=dropout), {"model": "LorentzNet"}
    if symmetry.kind == "euclidean":
        # LorentzNet's blocks with J = I₄ (the LieGAN paper's J = I comparison): the plain
        # EGNN (``LieGNN.egnn``, ‖x_i − x_j‖² of 4-momenta in GeV, up to ~10⁶, without ψ or
        # normalisation) saturates on jets (test accuracy ≈ 0.6 at the CPU preset)
        model = LieGNN(torch.eye(4), 2, hidden, n_layers, 2, dropout=dropout)
        return model, {"model": "EGNN", "architecture": "LorentzNet blocks, J = I4"}
    J = metric_of(symmetry.symmetry(4).four_vector().traceless())
    info = {
        "model": "LieGNN",
        "metric": J.tolist(),
        "metric_similarity_minkowski": metric_similarity(J, "minkowski"),
    }
    return LieGNN(J, 2, hidden, n_layers, 2, dropout=dropout), info


def train_toptag(
    symmetry="minkowski",
    *,
    data: str | os.PathLike | None = None,
    preset: str = "cpu",
    augment: bool = False,
    augment_scale: float = 0.5,
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
    (:func:`~liegnn.training.symmetry.parse_symmetry`).
    ``augment=True`` trains the :class:`DeepSets` baseline with Eq. 11 augmentation by the
    symmetry's generators (so(1, 3), so(4) or the discovered basis), coefficients
    U[−augment_scale, augment_scale] per normalised channel (boost rapidities stay moderate).
    ``overrides``: any preset key (``n_jets``, ``epochs``, ``lr``, ...) or TrainConfig field.
    ``seed`` seeds the weights and training; ``data_seed`` the generated jets and the split.
    Returns the content of ``out/metrics.json`` (test accuracy, AUC, 1/ε_B at ε_S = 0.3, 0.5).
    """
    sym = parse_symmetry(symmetry)
    if augment and sym.kind == "none":
        raise ValueError("augment=True needs a symmetry to augment with")
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
        )
    )
    seed_everything(seed)
    if augment:
        L = sym.symmetry(4).four_vector()
        model = SymmetryAugmentation(
            DeepSets(2, 4, s["hidden"], 3, 2, dropout=s["dropout"]), L, scale=augment_scale
        )
        info = {"model": "DeepSets + augmentation"}
    else:
        model, info = toptag_model(
            sym, hidden=s["hidden"], n_layers=s["n_layers"], dropout=s["dropout"]
        )
    info.update(
        task="toptag",
        symmetry=str(sym),
        augment=augment,
        preset=preset,
        n_train=len(train),
        n_val=len(val),
        n_test=len(test),
    )
    cfg = train_config(s, task="classification", seed=seed, device=device, progress=progress)
    trainer = Trainer(
        model,
        train,
        val,
        cfg,
        test_data=test,
        out_dir=out_dir(out, "toptag", sym, seed, augment),
        info=info,
    )
    return trainer.fit(resume=resume)
