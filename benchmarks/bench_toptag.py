"""Top tagging (Table 3): discover the Lorentz group on jets, then train LieGNN with its metric.

Steps (each cached, so a rerun skips what is finished):

1. jets: ``--n-jets`` jets generated with Pythia 8 + FastJet (the reference recipe without
   Delphes; cached in the dataset cache), or the reference files given with ``--data``;
2. discovery: the ``toptag`` task through :func:`liegnn.discovery.tasks.run_task` (its recipe,
   7 channels, its seeds or ``--discovery-seeds``, ``select_best``, its check) on the two leading
   constituents of the *training* jets → subspace similarity with so(1, 3), the share of the
   scaling, J = ``solve_metric`` of the basis without its scaling part and its cosine with
   Minkowski;
3. training: LieGNN(J discovered) vs LorentzNet (J = η) vs EGNN (J = I) with the same jets,
   split, preset and budget, ``--seeds`` seeds each, via
   :func:`liegnn.training.experiments.train_toptag`: test accuracy, AUC, 1/ε_B at ε_S = 0.3 and
   0.5 (mean ± std over seeds) and the ROC curves (``roc.png``) from the best-validation weights.
   LieGNN gets the discovered basis as it is (``discovered:<out>/discovery/basis.pt``); the
   library takes its action on one 4-vector without the scaling part before solving J.

Writes ``results.json`` (atomic, after every row) and ``roc.png`` under ``--out``, and the
discovery (``basis.pt``, its heatmap ``generators.png``, ``summary.json``) under
``--out``/discovery. A rerun reuses the discovery while its settings are the same and skips
finished rows; rows trained on another discovered basis are trained again.

CPU default (3000 jets, 3 seeds; about 16–18 minutes on one thread of a quiet machine)::

    python benchmarks/bench_toptag.py --threads 1

Full scale (reference files train.h5 / val.h5 / test.h5 in a folder; the paper's LorentzNet
preset: 6 × 72, 200 constituents, 35 epochs; a GPU; not run here)::

    python benchmarks/bench_toptag.py --full --data /path/to/toptag --device cuda
"""

from __future__ import annotations

import argparse
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

MODELS = {"LieGNN (discovered J)": "discovered", "LorentzNet (J = η)": "minkowski"}
MODELS["EGNN (J = I)"] = "euclidean"
PAPER = {  # Table 3: accuracy, AUC
    "LorentzNet (J = η)": (0.940, 0.9857),
    "LieGNN (discovered J)": (0.938, 0.9848),
    "EGNN (J = I)": (0.922, 0.9760),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="reference folder (train/val/test.h5) or file")
    p.add_argument("--n-jets", type=int, default=3000, help="jets to generate / use")
    p.add_argument("--data-seed", type=int, default=0, help="generation and split seed")
    p.add_argument("--seeds", type=int, default=3, help="training seeds per model")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (preset: 10 / 35)")
    p.add_argument("--discovery-seeds", type=int, default=None, help="(task default: 4)")
    p.add_argument("--discovery-epochs", type=int, default=None, help="(task default: 60)")
    p.add_argument("--workers", type=int, default=1, help="discovery seeds trained at once")
    p.add_argument("--full", action="store_true", help="paper scale: preset full, all jets")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="results/bench_toptag")
    a = p.parse_args(argv)
    if a.full and a.data is None:
        p.error("--full needs the reference files: --data FOLDER")
    return a


def load_results(path: Path, config: dict) -> dict:
    """The finished rows of an earlier run with the same configuration, else a fresh record."""
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("config") == config:
            return old
    return {"config": config, "rows": {}}


# -- data and discovery ---------------------------------------------------------------------
def jets_and_split(a):
    """The training split's two leading constituents (LieGAN's input), as train_toptag splits."""
    from liegnn.training.experiments import toptag_splits

    t0 = time.perf_counter()
    n_jets = None if a.full else a.n_jets
    if a.data is None:  # generate once (one process: --threads is the CPU budget)
        from liegnn.datasets.toptag import generated_toptag

        generated_toptag(a.n_jets, a.data_seed, n_workers=a.threads, progress=True)
    train, _, _ = toptag_splits(a.data, n_jets=n_jets, max_constituents=2, seed=a.data_seed)
    jets = train.dataset if hasattr(train, "dataset") else train
    x = jets.leading_momenta(2)
    y = jets.labels
    if hasattr(train, "indices"):
        x, y = x[train.indices], y[train.indices]
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


def discover(a, out: Path, record: dict, results_path: Path) -> dict:
    """The discovery row: ``run_task`` on the training jets (reused while nothing changed)."""
    found = _common.discover(
        training_jets_task(a),
        out / "discovery",
        seeds=a.discovery_seeds,
        epochs=a.discovery_epochs,
        data={"data": a.data, "n_jets": a.n_jets, "data_seed": a.data_seed, "full": a.full},
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
def test_scores(run_dir: Path, symmetry: str, a, settings: dict) -> tuple[np.ndarray, np.ndarray]:
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
        progress=False,
    )
    model, _ = toptag_model(
        parse_symmetry(symmetry),
        hidden=settings["hidden"],
        n_layers=settings["n_layers"],
        dropout=settings["dropout"],
    )
    model.load_state_dict(load_checkpoint(run_dir / "best.pt")["model"])
    model.eval()
    scores, labels = [], []
    with torch.no_grad():
        for batch in DataLoader(test, batch_size=256):
            scores.append(signal_scores(model(batch)))
            labels.append(batch.y.numpy())
    return np.concatenate(scores), np.concatenate(labels)


def train_row(model_name, kind, seed, a, out, disc: dict, settings: dict) -> dict:
    """One training run; the discovered row gets the basis file as found (``disc``)."""
    from liegnn.training.experiments import train_toptag
    from liegnn.training.metrics import background_rejection, roc_auc

    symmetry = f"discovered:{disc['basis']}" if kind == "discovered" else kind
    # a run on another discovered basis is not resumed: the folder names the basis
    tag = f"{kind}-{disc['basis_digest']}" if kind == "discovered" else kind
    run_dir = out / "runs" / f"{tag}-seed{seed}"
    t0 = time.perf_counter()
    m = train_toptag(
        symmetry,
        data=a.data,
        preset="full" if a.full else "cpu",
        out=run_dir,
        seed=seed,
        data_seed=a.data_seed,
        device=a.device,
        progress=False,
        n_jets=settings["n_jets"],
        epochs=settings["epochs"],
    )
    train_time = time.perf_counter() - t0
    scores, labels = test_scores(run_dir, symmetry, a, settings)
    np.savez(run_dir / "test_scores.npz", scores=scores, labels=labels)
    test = m["test"]
    check = {
        "auc_from_scores": roc_auc(scores, labels),
        "rejection_30_from_scores": background_rejection(scores, labels, 0.3),
    }
    return {
        "model": model_name,
        "symmetry": kind,
        "seed": seed,
        "accuracy": test["accuracy"],
        "auc": test["auc"],
        "rejection_30": test["rejection_30"],
        "rejection_50": test["rejection_50"],
        "test": test,
        **check,
        "best_epoch": m["best"]["epoch"],
        "n_parameters": m["n_parameters"],
        "n_train": m["n_train"],
        "n_test": m["n_test"],
        "metric_similarity_minkowski": m.get("metric_similarity_minkowski"),
        "time_s": train_time,
        "run_dir": str(run_dir),
        "basis_digest": disc["basis_digest"] if kind == "discovered" else None,
    }


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


def roc_figure(record: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from liegnn.training.metrics import roc_curve

    fig, ax = plt.subplots(figsize=(5, 4))
    for model_name in MODELS:
        rows = [r for r in trained_rows(record) if r["model"] == model_name]
        for i, r in enumerate(sorted(rows, key=lambda r: r["seed"])):
            z = np.load(Path(r["run_dir"]) / "test_scores.npz")
            eps_b, eps_s, _ = roc_curve(z["scores"], z["labels"])
            keep = eps_b > 0
            ax.plot(
                eps_s[keep],
                1 / eps_b[keep],
                color=f"C{list(MODELS).index(model_name)}",
                alpha=1.0 if i == 0 else 0.5,
                label=f"{model_name}" if i == 0 else None,
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


def main(argv=None) -> dict:
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    from liegnn.training.experiments._common import PRESETS

    preset = dict(PRESETS["toptag"]["full" if a.full else "cpu"])
    settings = dict(preset, n_jets=None if a.full else a.n_jets)
    if a.epochs is not None:
        settings["epochs"] = a.epochs
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    config = {
        "data": a.data,
        "n_jets": settings["n_jets"],
        "data_seed": a.data_seed,
        "training": settings,
        "full": a.full,
    }
    record = load_results(results_path, config)
    record["machine"] = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "threads": a.threads,
        "torch": torch.__version__,
        "device": a.device,
    }
    t_start = time.perf_counter()
    disc = discover(a, out, record, results_path)
    print(
        f"discovery: subspace similarity with so(1,3) {disc['subspace_similarity_so13']:.4f}; "
        f"scaling in span {disc['scaling_in_span']:.3f}; metric cosine with Minkowski "
        f"{disc['metric_cosine_minkowski']:.4f} "
        f"(raw basis {disc['raw_metric_cosine_minkowski']:.4f})"
    )
    print("J =", np.array(disc["metric"]).round(3).tolist())
    for seed in range(a.seeds):  # seeds outer: an interrupted run has whole seeds
        for model_name, kind in MODELS.items():
            key = f"train/{kind}/seed{seed}"
            if key in record["rows"]:
                continue
            try:
                row = train_row(model_name, kind, seed, a, out, disc, settings)
                result = f"acc {row['accuracy']:.4f} AUC {row['auc']:.4f} ({row['time_s']:.0f} s)"
            except NoInvariantMetricError as err:  # the discovered basis: recorded, not fatal
                row = {"model": model_name, "symmetry": kind, "seed": seed, "error": str(err)}
                row["basis_digest"] = disc["basis_digest"]
                result = f"no LieGNN: {err}"
            record["rows"][key] = row
            atomic_write_json(record, results_path)
            print(f"{model_name:24s} seed {seed}: {result}", flush=True)
    table = {}
    for model_name in MODELS:
        rows = [r for r in trained_rows(record) if r["model"] == model_name]
        table[model_name] = summarise(rows) if rows else None
    record["table"] = table
    record["wall_time_s_this_call"] = time.perf_counter() - t_start
    atomic_write_json(record, results_path)
    roc_figure(record, out)

    def pm(s, digits):
        if s["mean"] is None:
            return "inf"  # no background jet passed in some seed (few test jets)
        return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"

    print(
        f"\n{'model':24s} {'accuracy':>17s} {'AUC':>17s} {'1/eB@0.3':>13s} {'1/eB@0.5':>13s}"
        "  paper acc / AUC"
    )
    for model_name, s in table.items():
        if s is None:
            print(f"{model_name:24s} {'no finished row':>17s}")
            continue
        print(
            f"{model_name:24s} {pm(s['accuracy'], 4):>17s} {pm(s['auc'], 4):>17s} "
            f"{pm(s['rejection_30'], 0):>13s} {pm(s['rejection_50'], 0):>13s}  "
            f"{PAPER[model_name][0]:.3f} / {PAPER[model_name][1]:.4f}"
        )
    print(f"\nwrote {results_path} and {out / 'roc.png'}")
    return record


if __name__ == "__main__":
    main()
