"""Top tagging (Table 3): discover the Lorentz group on jets, then train LieGNN with its metric
beside LorentzNet, the paper's own metric, J = I and today's Lorentz-equivariant taggers.

Steps (each cached, so a rerun skips what is finished):

1. jets: ``--n-jets`` jets generated with Pythia 8 + FastJet (the reference recipe without
   Delphes, seeded by ``--data-seed``) into the benchmark's own cache ``--root`` (default
   ``<out>/cache``: a new ``--out`` starts from a clean cache, so a rerun from scratch makes the
   same jets), or the files given with ``--data`` (a reference folder, one ``.h5`` file or an
   L-GATr ``.npz``). ``results.json`` records the jets' content digest, the generator versions
   and every setting;
2. discovery (only when a row needs it, or ``--discovery-only``): the ``toptag`` task through
   :func:`liegnn.discovery.tasks.run_task` (its recipe, 7 channels, 16 steps per epoch on any
   number of jets, its seeds or ``--discovery-seeds``, the seed of the smallest metric residual,
   its check) on the two leading constituents of the
   *training* jets → subspace similarity with so(1, 3) (per seed too), the share of the scaling,
   J = ``solve_metric`` of the basis without its scaling part and its cosine with Minkowski;
3. training, rows chosen with ``--rows`` (same jets, split, preset and budget; ``--seeds``
   seeds each) via :func:`liegnn.training.experiments.train_toptag`:

   - ``eta``: LorentzNet (J = η);
   - ``discovered``: LieGNN with the discovered J (``discovered:<out>/discovery/basis.pt``);
   - ``learnable``: the same, J learnable from that start (the final J is reported);
   - ``paper``: LieGNN with the LieGAN paper's saved metric, a control: ``--paper-metric PATH``
     to ``LorentzNet/saved_metric/metric_liegan.pt`` of the paper's public code
     (https://github.com/Rose-STL-Lab/LieGAN), fetched by the user, never committed; its sign
     is opposite to this library's η, so it is used as −J, otherwise exactly as saved;
   - ``identity``: LorentzNet's blocks with J = I;
   - ``discovered-diagonal``, ``discovered-offdiagonal``, ``discovered-beam``: the discovered J
     taken apart, each fixed: its diagonal; η plus its off-diagonal entries; its average over
     the rotations about the beam axis (:func:`liegnn.metric.project_metric`), to see which
     of its errors costs accuracy;
   - ``pelican``, ``lgatr``, ``lloca``: the peers (``pip install 'liegnn[peers]'``).

   ``--node-scalars eta,model`` trains the LieGNN rows (all but ``eta`` and the peers) with
   the reference Minkowski node scalars ψ(m_η), with scalars from their own J, or both (one
   row each; LorentzNet's J is η, the peers use η). Reported per row: test accuracy, AUC,
   1/ε_B at ε_S = 0.3 and 0.5 (mean ± std over seeds), parameter count, node
   scalars, and the ROC curves (``roc.png``) from the best-validation weights.

``--train-jets 1000,3000`` trains each row on the first N training jets too (the same
validation and test jets: a learning curve, ``learning_curve.png``); ``--discovery-jets N``
discovers on the first N training jets only. A row whose training diverges is recorded with
its error and the others go on. ``benchmarks/toptag_device.sh`` runs all of it at device scale
in resumable calls.

Writes ``results.json`` (atomic, after every row) and ``roc.png`` under ``--out``, and the
discovery (``basis.pt``, its heatmap ``generators.png``, ``summary.json``) under
``--out``/discovery. A rerun reuses the discovery while its settings and jets are the same and
skips finished rows; rows trained on another discovered basis or paper metric are trained
again.

CPU default (3000 jets, 3 seeds, rows eta, discovered, learnable, identity; add ``paper`` with
``--paper-metric``)::

    python benchmarks/bench_toptag.py --threads 1
    python benchmarks/bench_toptag.py --rows eta,discovered,paper --paper-metric metric_liegan.pt
    python benchmarks/bench_toptag.py --discovery-only          # stop after discovery
    python benchmarks/bench_toptag.py --rows eta,pelican,lgatr,lloca   # the field's models

Full scale (reference files train.h5 / val.h5 / test.h5 in a folder; the paper's LorentzNet
preset: 6 × 72, 200 constituents, 35 epochs; a GPU; not run here)::

    python benchmarks/bench_toptag.py --full --data /path/to/toptag --device cuda
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from liegnn._atomic import atomic_write_json
from liegnn.metric import NoInvariantMetricError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  (benchmarks/_common.py: the shared discovery stage)

#: ``--rows``: display name and the :func:`train_toptag` arguments of each row
ROWS = {
    "eta": ("LorentzNet (J = η)", {"symmetry": "minkowski"}),
    "discovered": ("LieGNN (discovered J)", {"symmetry": "discovered"}),
    "learnable": ("LieGNN (discovered J, learnable)", {"symmetry": "discovered", "learnable": 1}),
    "paper": ("LieGNN (paper's saved J)", {"metric": "paper"}),
    "identity": ("EGNN (J = I)", {"symmetry": "euclidean"}),
    # the discovered J's error taken apart (fixed J, each from the same discovery)
    "discovered-diagonal": ("LieGNN (discovered J's diagonal)", {"variant": "diagonal"}),
    "discovered-offdiagonal": (
        "LieGNN (η + discovered J's off-diagonal)",
        {"variant": "offdiagonal"},
    ),
    "discovered-beam": ("LieGNN (discovered J, beam-axis average)", {"variant": "beam"}),
    "pelican": ("PELICAN", {"model": "pelican"}),
    "lgatr": ("L-GATr", {"model": "lgatr"}),
    # LLoCa's loss blew up (NaN in epoch 1) with float32 momenta: the peer now computes its
    # frames in float64 (LLoCa's momentum_float64); the gradient norm is also clipped at 1
    "lloca": ("LLoCa", {"model": "lloca", "training": {"grad_clip": 1.0}}),
}
#: rows whose model is a LieGNN with a J of its own: they take --node-scalars
METRIC_ROWS = (
    "discovered",
    "learnable",
    "paper",
    "identity",
    "discovered-diagonal",
    "discovered-offdiagonal",
    "discovered-beam",
)
#: rows that need the discovery
DISCOVERED_ROWS = (
    "discovered",
    "learnable",
    "discovered-diagonal",
    "discovered-offdiagonal",
    "discovered-beam",
)
DEFAULT_ROWS = "eta,discovered,learnable,identity"
PAPER = {  # Table 3: accuracy, AUC
    "eta": (0.940, 0.9857),
    "discovered": (0.938, 0.9848),
    "identity": (0.922, 0.9760),
}
PAPER_METRIC_SOURCE = (
    "LorentzNet/saved_metric/metric_liegan.pt in https://github.com/Rose-STL-Lab/LieGAN"
)


def _choices(text: str, allowed, what: str, p) -> list[str]:
    picked = [t.strip() for t in text.split(",") if t.strip()]
    wrong = [t for t in picked if t not in allowed]
    if wrong or not picked:
        p.error(f"{what}: unknown {wrong or text!r}; choose from {', '.join(allowed)}")
    return list(dict.fromkeys(picked))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="reference folder, one .h5 file or an .npz")
    p.add_argument("--n-jets", type=int, default=3000, help="jets to generate / use")
    p.add_argument("--data-seed", type=int, default=0, help="generation and split seed")
    p.add_argument("--root", default=None, help="data cache (default: <out>/cache, clean)")
    p.add_argument("--seeds", type=int, default=3, help="training seeds per row")
    p.add_argument(
        "--train-jets",
        default=None,
        help="learning curve: comma-separated numbers of training jets (the first N of the "
        "training split; same validation and test jets); default: the whole split",
    )
    p.add_argument(
        "--rows",
        default=None,
        help=f"rows to train, from {', '.join(ROWS)} (default: {DEFAULT_ROWS}, and paper "
        "with --paper-metric)",
    )
    p.add_argument(
        "--node-scalars",
        default="eta",
        help="node scalars of the LieGNN rows: eta, model or eta,model (default: eta)",
    )
    p.add_argument("--paper-metric", default=None, help=f"the paper's J: {PAPER_METRIC_SOURCE}")
    p.add_argument("--discovery-only", action="store_true", help="stop after the discovery")
    p.add_argument(
        "--peer-budget",
        choices=["matched", "preset"],
        default="matched",
        help="matched: each peer's width gives the parameter count closest to LorentzNet's; "
        "preset: the preset's width (default: %(default)s)",
    )
    p.add_argument("--epochs", type=int, default=None, help="training epochs (preset: 10 / 35)")
    p.add_argument("--hidden", type=int, default=None, help="channels (preset: 32 / 72)")
    p.add_argument("--n-layers", type=int, default=None, help="blocks (preset: 4 / 6)")
    p.add_argument("--max-constituents", type=int, default=None, help="(preset: 30 / 200)")
    p.add_argument("--batch-size", type=int, default=None, help="(preset: 32 / 128)")
    p.add_argument("--discovery-seeds", type=int, default=None, help="(task default: 4)")
    p.add_argument("--discovery-epochs", type=int, default=None, help="(task default: 60)")
    p.add_argument(
        "--discovery-jets",
        type=int,
        default=None,
        help="discover on the first N training jets only (default: all of them)",
    )
    p.add_argument("--workers", type=int, default=1, help="discovery seeds trained at once")
    p.add_argument("--full", action="store_true", help="paper scale: preset full, all jets")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="results/bench_toptag")
    a = p.parse_args(argv)
    if a.full and a.data is None:
        p.error("--full needs the reference files: --data FOLDER")
    default = DEFAULT_ROWS + (",paper" if a.paper_metric else "")
    a.rows = _choices(a.rows or default, ROWS, "--rows", p)
    a.node_scalars = _choices(a.node_scalars, ("eta", "model"), "--node-scalars", p)
    if "paper" in a.rows and a.paper_metric is None:
        p.error(f"the paper row needs --paper-metric PATH ({PAPER_METRIC_SOURCE})")
    if a.root is None:
        a.root = str(Path(a.out) / "cache")
    try:
        a.train_jets = [None] if a.train_jets is None else [int(t) for t in a.train_jets.split(",")]
    except ValueError:
        p.error(f"--train-jets takes comma-separated integers, got {a.train_jets!r}")
    if any(n is not None and n < 1 for n in a.train_jets):
        p.error("--train-jets: numbers of jets must be positive")
    return a


def load_results(path: Path, config: dict) -> dict:
    """The finished rows of an earlier run with the same configuration, else a fresh record."""
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("config") == config:
            return old
    return {"config": config, "rows": {}}


# -- data and discovery ---------------------------------------------------------------------
def jets_record(a) -> dict:
    """Make sure the jets exist (generated once, seeded, into ``--root``) and describe them:
    the file, a digest of its parsed content, and the generator versions."""
    from liegnn.datasets.toptag import TopTagging, generated_toptag

    t0 = time.perf_counter()
    if a.data is None:  # generate once (one process per --threads: the CPU budget)
        from liegnn.datasets.toptag_generate import generator_versions

        jets = generated_toptag(
            a.n_jets, a.data_seed, root=a.root, n_workers=a.threads, progress=True
        )
        source = {"generated": True, "versions": generator_versions()}
    else:
        path = Path(a.data)
        files = sorted(path.glob("*.h5")) if path.is_dir() else [path]
        jets = None if path.is_dir() or path.suffix == ".npz" else TopTagging(path, root=a.root)
        source = {"files": [[str(f), f.stat().st_size] for f in files]}
    if jets is not None:
        h = hashlib.sha1(jets._data.pos.numpy().tobytes())
        h.update(jets._data.y.numpy().tobytes())
        source.update(file=str(jets.path), n_jets=len(jets), content_sha1=h.hexdigest()[:16])
    source["time_s"] = time.perf_counter() - t0
    return source


def jets_and_split(a):
    """The training split's two leading constituents (LieGAN's input), as train_toptag splits."""
    from liegnn.training.experiments import toptag_splits

    t0 = time.perf_counter()
    n_jets = None if a.full else a.n_jets
    train, _, _ = toptag_splits(
        a.data, n_jets=n_jets, max_constituents=2, seed=a.data_seed, root=a.root
    )
    jets = train.dataset if hasattr(train, "dataset") else train
    x = jets.leading_momenta(2)
    y = jets.labels
    if hasattr(train, "indices"):
        x, y = x[train.indices], y[train.indices]
    if a.discovery_jets is not None:
        if not 0 < a.discovery_jets <= len(y):
            raise ValueError(f"--discovery-jets must be in [1, {len(y)}], got {a.discovery_jets}")
        x, y = x[: a.discovery_jets], y[: a.discovery_jets]
    return x, y, time.perf_counter() - t0


def training_jets_task(a):
    """The registered ``toptag`` task (recipe, run length, seeds, check) on this benchmark's
    training jets, divided by their mean leading energy: the test jets stay unseen."""
    from liegnn.algebra.bases import lorentz
    from liegnn.discovery.tasks import TaskData, discovery_task

    def load(seed: int, quick: bool) -> TaskData:
        x, y, _ = jets_and_split(a)
        scale = float(x[:, 0, 0].mean())
        info = {"n_jets": len(y), "energy_scale_gev": scale, "split": "training jets"}
        return TaskData(x=x / scale, y=y, truth=lorentz(dtype=torch.float64), info=info)

    return replace(discovery_task("toptag"), load=load)


def discover(a, out: Path, record: dict, results_path: Path, jets: dict) -> dict:
    """The discovery row: ``run_task`` on the training jets (reused while nothing changed)."""
    found = _common.discover(
        training_jets_task(a),
        out / "discovery",
        seeds=a.discovery_seeds,
        epochs=a.discovery_epochs,
        data={
            "data": a.data,
            "n_jets": a.n_jets,
            "data_seed": a.data_seed,
            "full": a.full,
            "jets": jets.get("content_sha1"),
            **({"discovery_jets": a.discovery_jets} if a.discovery_jets is not None else {}),
        },
        workers=a.workers,
        device=a.device,
        progress=False,
    )
    s = found.summary
    row = {
        "basis": str(found.basis),
        "basis_digest": found.digest,
        "key": found.key,
        "n_train_jets": s["data"]["n_jets"],
        "energy_scale_gev": s["data"]["energy_scale_gev"],
        "epochs": s["epochs"],
        "seeds": len(s["seeds"]),
        "chosen_seed": s["chosen_seed"],
        "recipe": s["recipe"],
        "data_time_s": s["load_time_s"],
        "time_s": s["wall_time_s"] - s["load_time_s"],
        "subspace_similarity_so13": found.truth("subspace_similarity"),
        "per_seed_subspace_similarity_so13": found.per_seed("subspace_similarity"),
        **s["check"],
        "generators": s["generators"],
    }
    # rows trained on another discovered basis are stale
    record["rows"] = {
        k: v
        for k, v in record["rows"].items()
        if v.get("basis_digest") in (None, row["basis_digest"])
    }
    record["rows"]["discovery"] = row
    atomic_write_json(record, results_path)
    return row


# -- training ---------------------------------------------------------------------------------
def metric_variant(J, variant: str) -> torch.Tensor:
    """A part of the discovered J (on (t, x, y, z)), to see which of its errors costs accuracy:
    ``diagonal``: diag(J); ``offdiagonal``: η + (J − diag(J)); ``beam``: J averaged over the
    rotations about the beam axis (:func:`liegnn.metric.project_metric`: J_xx and J_yy
    averaged, the entries that mix x or y with t or z removed)."""
    from liegnn.algebra import lorentz, minkowski_metric
    from liegnn.metric import project_metric

    J = torch.as_tensor(J, dtype=torch.float64)
    diagonal = torch.diag(torch.diagonal(J))
    if variant == "diagonal":
        return diagonal
    if variant == "offdiagonal":
        return minkowski_metric(dtype=torch.float64) + J - diagonal
    if variant == "beam":
        return project_metric(J, lorentz(dtype=torch.float64)[2:3])  # J_z: rotations about z
    raise ValueError(f"unknown metric variant {variant!r}")


def row_arguments(row: str, node_scalars: str, a, disc: dict | None) -> dict:
    """The :func:`train_toptag` / :func:`toptag_model` arguments of a row."""
    from liegnn.metric import AUTO_SMALL
    from liegnn.training.symmetry import load_metric

    spec = dict(ROWS[row][1])
    kwargs = {"node_scalars": node_scalars}
    if "variant" in spec:  # a fixed part of the discovered J
        kwargs["metric"] = metric_variant(disc["metric"], spec["variant"])
    elif spec.get("symmetry") == "discovered" and disc["metric_residual"] > AUTO_SMALL:
        # the found basis preserves no metric (LieGNN(symmetry) refuses it, naming the
        # residual): these rows take the least-violating J the discovery reports, as a metric
        kwargs["metric"] = torch.tensor(disc["metric"], dtype=torch.float64)
    elif spec.get("symmetry") == "discovered":
        kwargs["symmetry"] = f"discovered:{disc['basis']}"
    elif "symmetry" in spec:
        kwargs["symmetry"] = spec["symmetry"]
    if spec.get("learnable"):
        kwargs["learnable_metric"] = True
    if spec.get("metric") == "paper":  # the paper's sign convention is opposite: −J
        kwargs["metric"] = load_metric(a.paper_metric, flip_sign=True)
    if "model" in spec:
        kwargs["model"] = spec["model"]
    return kwargs


def training_options(row: str) -> dict:
    """A row's own :class:`TrainConfig` settings (none but LLoCa's gradient clipping)."""
    return dict(ROWS[row][1].get("training", {}))


def test_scores(run_dir: Path, kwargs: dict, a, settings: dict) -> tuple[np.ndarray, np.ndarray]:
    """Signal scores and labels of the test jets from the best-validation weights."""
    from torch_geometric.loader import DataLoader

    from liegnn.training.checkpoint import load_checkpoint
    from liegnn.training.experiments import toptag_model, toptag_splits
    from liegnn.training.metrics import signal_scores
    from liegnn.training.symmetry import parse_symmetry

    _, _, test = toptag_splits(
        a.data,
        n_jets=settings["n_jets"],
        max_constituents=settings["max_constituents"],
        seed=a.data_seed,
        root=a.root,
        progress=False,
        node_scalars=kwargs["node_scalars"],
    )
    options = {k: v for k, v in kwargs.items() if k != "symmetry"}
    symmetry = kwargs.get("symmetry")
    model, _ = toptag_model(
        None if symmetry is None else parse_symmetry(symmetry),
        hidden=settings["hidden"],
        n_layers=settings["n_layers"],
        dropout=settings["dropout"],
        **options,
    )
    model.load_state_dict(load_checkpoint(run_dir / "best.pt")["model"])
    model.eval()
    scores, labels = [], []
    with torch.no_grad():
        for batch in DataLoader(test, batch_size=256):
            scores.append(signal_scores(model(batch)))
            labels.append(batch.y.numpy())
    return np.concatenate(scores), np.concatenate(labels)


def row_key(row: str, node_scalars: str, n_train: int | None = None) -> str:
    return (
        row
        + ("+jscalars" if node_scalars == "model" else "")
        + ("" if n_train is None else f"@{n_train}")
    )


def peer_widths(a, settings: dict) -> dict[str, int]:
    """``--peer-budget matched``: each requested peer's width at LorentzNet's parameter count
    (same depth); the stated budget is the table's parameter column."""
    from liegnn.training.experiments import toptag_model
    from liegnn.training.peers import PEERS, hidden_for_budget
    from liegnn.training.symmetry import parse_symmetry

    peers = [r for r in a.rows if r in PEERS]
    if a.peer_budget != "matched" or not peers:
        return {}
    reference, _ = toptag_model(
        parse_symmetry("minkowski"), hidden=settings["hidden"], n_layers=settings["n_layers"]
    )
    budget = sum(p.numel() for p in reference.parameters())
    return {r: hidden_for_budget(r, budget, n_layers=settings["n_layers"]) for r in peers}


def train_row(row, node_scalars, seed, a, out, disc, settings: dict, digests: dict) -> dict:
    """One training run of ``row`` with ``node_scalars``; the discovered rows get the basis
    file as found (``disc``), the paper row the saved metric, sign flipped; ``settings`` hold
    the row's own width (a peer's at the matched budget)."""
    from liegnn.training.experiments import train_toptag
    from liegnn.training.metrics import background_rejection, roc_auc

    kwargs = row_arguments(row, node_scalars, a, disc)
    # a run on another discovered basis or paper metric is not resumed: the folder names it
    digest = digests.get(row)
    tag = row_key(row, node_scalars, settings["n_train"]) + (f"-{digest}" if digest else "")
    if "model" in kwargs:  # a peer: its width is part of the run
        tag += f"-h{settings['hidden']}"
    run_dir = out / "runs" / f"{tag}-seed{seed}"
    t0 = time.perf_counter()
    m = train_toptag(
        data=a.data,
        preset="full" if a.full else "cpu",
        out=run_dir,
        seed=seed,
        data_seed=a.data_seed,
        device=a.device,
        progress=False,
        root=a.root,
        **{
            k: settings[k]
            for k in ("n_jets", "n_train", "epochs", "hidden", "n_layers", "batch_size")
        },
        max_constituents=settings["max_constituents"],
        **kwargs,
        **training_options(row),
    )
    train_time = time.perf_counter() - t0
    scores, labels = test_scores(run_dir, kwargs, a, settings)
    np.savez(run_dir / "test_scores.npz", scores=scores, labels=labels)
    test = m["test"]
    check = {
        "auc_from_scores": roc_auc(scores, labels),
        "rejection_30_from_scores": background_rejection(scores, labels, 0.3),
    }
    return {
        "row": row,
        "model": ROWS[row][0],
        "node_scalars": m.get("node_scalars", node_scalars),
        "n_train_requested": settings["n_train"],
        "seed": seed,
        "accuracy": test["accuracy"],
        "auc": test["auc"],
        "rejection_30": test["rejection_30"],
        "rejection_50": test["rejection_50"],
        "test": test,
        **check,
        "best_epoch": m["best"]["epoch"],
        "n_parameters": m["n_parameters"],
        "hidden": settings["hidden"],
        "n_train": m["n_train"],
        "n_test": m["n_test"],
        "metric": m.get("metric"),
        "metric_source": metric_source(row, kwargs, disc),
        "metric_similarity_minkowski": m.get("metric_similarity_minkowski"),
        "metric_final": m.get("metric_final"),
        "metric_final_similarity_minkowski": m.get("metric_final_similarity_minkowski"),
        "time_s": train_time,
        "training_options": training_options(row),
        "run_dir": str(run_dir),
        "digest": digest,
    }


def metric_source(row: str, kwargs: dict, disc: dict | None) -> str | None:
    """Where a discovered row's fixed J came from (None: the basis itself, or no discovery)."""
    if "variant" in ROWS[row][1]:
        return f"{ROWS[row][1]['variant']} part of the discovered J"
    if row in ("discovered", "learnable") and "metric" in kwargs:
        return f"least-violating J of the discovered basis (residual {disc['metric_residual']:.3f})"
    return None


def trained_rows(record: dict) -> list[dict]:
    """The finished training rows (not those that could not train, with an ``error``)."""
    return [r for k, r in record["rows"].items() if k.startswith("train/") and "error" not in r]


def summarise(rows: list[dict]) -> dict:
    out = {}
    for key in ("accuracy", "auc", "rejection_30", "rejection_50"):
        v = np.array([r[key] if r[key] is not None else np.inf for r in rows], dtype=float)
        std = float(v.std(ddof=1)) if len(v) > 1 and np.isfinite(v).all() else 0.0
        mean = float(v.mean()) if np.isfinite(v).all() else None  # JSON has no infinity
        out[key] = {"mean": mean, "std": std, "n_infinite": int((~np.isfinite(v)).sum())}
    return out


def _label(r: dict) -> str:
    """A row's name in the table: the model, and the node scalars of a LieGNN with its own J."""
    name = r["model"]
    if r.get("row") in METRIC_ROWS:
        name += f", ψ(m_{'J' if r['node_scalars'] == 'model' else 'η'})"
    if r.get("n_train_requested") is not None:
        name += f", {r['n_train_requested']} training jets"
    return name


def roc_figure(record: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from liegnn.training.metrics import roc_curve

    fig, ax = plt.subplots(figsize=(5, 4))
    names = list(dict.fromkeys(_label(r) for r in trained_rows(record)))
    for k, name in enumerate(names):
        rows = [r for r in trained_rows(record) if _label(r) == name]
        for i, r in enumerate(sorted(rows, key=lambda r: r["seed"])):
            z = np.load(Path(r["run_dir"]) / "test_scores.npz")
            eps_b, eps_s, _ = roc_curve(z["scores"], z["labels"])
            keep = eps_b > 0
            ax.plot(
                eps_s[keep],
                1 / eps_b[keep],
                color=f"C{k % 10}",
                alpha=1.0 if i == 0 else 0.5,
                label=name if i == 0 else None,
            )
    ax.set_yscale("log")
    ax.set_xlabel("signal efficiency ε_S")
    ax.set_ylabel("background rejection 1/ε_B")
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(title="one line per seed", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=120)
    plt.close(fig)


def curve_figure(record: dict, out: Path) -> bool:
    """``learning_curve.png``: test accuracy and AUC (mean ± std over seeds) against the number
    of training jets, one line per row trained at two or more ``--train-jets``; False if none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points: dict[str, dict[int, list[dict]]] = {}
    for r in trained_rows(record):
        n = r.get("n_train_requested")
        if n is not None:
            name = _label({**r, "n_train_requested": None})
            points.setdefault(name, {}).setdefault(n, []).append(r)
    points = {k: v for k, v in points.items() if len(v) > 1}
    if not points:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for k, (name, by_n) in enumerate(points.items()):
        ns = sorted(by_n)
        for ax, key in zip(axes, ("accuracy", "auc"), strict=True):
            v = [np.array([r[key] for r in by_n[n]]) for n in ns]
            mean = [x.mean() for x in v]
            std = [x.std(ddof=1) if len(x) > 1 else 0.0 for x in v]
            ax.errorbar(ns, mean, yerr=std, marker="o", capsize=3, color=f"C{k}", label=name)
    ticks = sorted({n for by_n in points.values() for n in by_n})
    for ax, key in zip(axes, ("test accuracy", "test AUC"), strict=True):
        ax.set_xscale("log")
        ax.set_xticks(ticks, [f"{n:,}" for n in ticks])
        ax.minorticks_off()
        ax.set_xlabel("training jets")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png", dpi=120)
    plt.close(fig)
    return True


def main(argv=None) -> dict:
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    from liegnn.training.experiments._common import PRESETS

    preset = dict(PRESETS["toptag"]["full" if a.full else "cpu"])
    settings = dict(preset, n_jets=None if a.full else a.n_jets)
    for key in ("epochs", "hidden", "n_layers", "max_constituents", "batch_size"):
        if getattr(a, key) is not None:
            settings[key] = getattr(a, key)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    t_start = time.perf_counter()
    jets = jets_record(a)
    config = {
        "data": a.data,
        "n_jets": settings["n_jets"],
        "data_seed": a.data_seed,
        "jets_sha1": jets.get("content_sha1"),
        "training": settings,
        "peer_budget": a.peer_budget,
        "full": a.full,
    }
    record = load_results(results_path, config)
    record["jets"] = jets
    record["settings"] = {k: v for k, v in vars(a).items()}
    record["machine"] = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "threads": a.threads,
        "torch": torch.__version__,
        "device": a.device,
    }
    print(
        f"jets: {jets.get('file', a.data)} ({jets.get('n_jets', '?')} jets, {jets['time_s']:.0f} s)"
    )
    disc = None
    if a.discovery_only or set(DISCOVERED_ROWS) & set(a.rows):
        disc = discover(a, out, record, results_path, jets)
        print(
            f"discovery: subspace similarity with so(1,3) {disc['subspace_similarity_so13']:.4f} "
            f"(seeds {[round(v, 3) for v in disc['per_seed_subspace_similarity_so13']]}, chosen "
            f"{disc['chosen_seed']}); scaling in span {disc['scaling_in_span']:.3f}; metric "
            f"cosine with Minkowski {disc['metric_cosine_minkowski']:.4f} "
            f"(raw basis {disc['raw_metric_cosine_minkowski']:.4f})"
        )
        print("J =", np.array(disc["metric"]).round(3).tolist())
    if a.discovery_only:
        record["wall_time_s_this_call"] = time.perf_counter() - t_start
        atomic_write_json(record, results_path)
        print(f"\nstopped after the discovery (--discovery-only); wrote {results_path}")
        return record
    digests = {}
    if disc is not None:
        digests.update({row: disc["basis_digest"] for row in DISCOVERED_ROWS})
    if a.paper_metric is not None:
        from liegnn.training.symmetry import load_metric

        J = load_metric(a.paper_metric, flip_sign=True)
        digests["paper"] = hashlib.sha1(J.numpy().tobytes()).hexdigest()[:10]
        record["paper_metric"] = {"file": a.paper_metric, "used_J": J.tolist()}
    # rows trained on another basis or paper metric are stale
    record["rows"] = {
        k: v
        for k, v in record["rows"].items()
        if v.get("row") not in digests or v.get("digest") == digests[v["row"]]
    }
    widths = peer_widths(a, settings)
    record["peer_widths"] = widths
    plan = [
        (row, scalars, n)
        for n in a.train_jets
        for row in a.rows
        for scalars in (a.node_scalars if row in METRIC_ROWS else ["eta"])
    ]
    for seed in range(a.seeds):  # seeds outer: an interrupted run has whole seeds
        for row, scalars, n in plan:
            key = f"train/{row_key(row, scalars, n)}/seed{seed}"
            if key in record["rows"] and "error" not in record["rows"][key]:
                continue
            try:
                row_settings = dict(settings, hidden=widths.get(row, settings["hidden"]), n_train=n)
                r = train_row(row, scalars, seed, a, out, disc, row_settings, digests)
                result = f"acc {r['accuracy']:.4f} AUC {r['auc']:.4f} ({r['time_s']:.0f} s)"
            except NoInvariantMetricError as err:  # the discovered basis: recorded, not fatal
                r = {"row": row, "model": ROWS[row][0], "node_scalars": scalars, "seed": seed}
                r.update(error=str(err), digest=digests.get(row))
                result = f"no LieGNN: {err}"
            except FloatingPointError as err:  # a diverged run: recorded, the others go on
                r = {"row": row, "model": ROWS[row][0], "node_scalars": scalars, "seed": seed}
                r.update(error=str(err), digest=digests.get(row), n_train_requested=n)
                result = f"diverged: {err}"
            record["rows"][key] = r
            atomic_write_json(record, results_path)
            print(f"{_label(r):40s} seed {seed}: {result}", flush=True)
    table = {}
    for row, scalars, n in plan:
        rows = [
            r
            for r in trained_rows(record)
            if r["row"] == row
            and (r["node_scalars"] == scalars or row not in METRIC_ROWS)
            and r.get("n_train_requested") == n
        ]
        if not rows:
            continue
        table[_label(rows[0])] = {
            "row": row,
            "node_scalars": rows[0]["node_scalars"],
            "n_train": rows[0]["n_train"],
            "n_parameters": rows[0]["n_parameters"],
            "seeds": sorted(r["seed"] for r in rows),
            **summarise(rows),
        }
    record["table"] = table
    record["wall_time_s_this_call"] = time.perf_counter() - t_start
    atomic_write_json(record, results_path)
    roc_figure(record, out)
    curve_figure(record, out)

    def pm(s, digits):
        if s["mean"] is None:
            return "inf"  # no background jet passed in some seed (few test jets)
        return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"

    print(
        f"\n{'model, node scalars':40s} {'params':>7s} {'accuracy':>17s} {'AUC':>17s} "
        f"{'1/eB@0.3':>13s} {'1/eB@0.5':>13s}  paper acc / AUC"
    )
    for name, s in table.items():
        paper = PAPER.get(s["row"]) if s["node_scalars"] == "eta" else None
        print(
            f"{name:40s} {s['n_parameters']:>7d} {pm(s['accuracy'], 4):>17s} "
            f"{pm(s['auc'], 4):>17s} {pm(s['rejection_30'], 0):>13s} "
            f"{pm(s['rejection_50'], 0):>13s}  "
            + (f"{paper[0]:.3f} / {paper[1]:.4f}" if paper else "")
        )
    print(f"\nwrote {results_path} and {out / 'roc.png'}")
    return record


if __name__ == "__main__":
    main()
