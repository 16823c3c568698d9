"""How far each top-tagging row's J moves the Minkowski products of real constituents, beside
the row's accuracy (reads what ``bench_toptag.py`` wrote; trains nothing).

LieGNN's messages see ⟨p_i, p_j⟩_J. Jet constituents are nearly massless and nearly collinear,
so ⟨p_i, p_j⟩_η = E_i E_j (1 − cos θ_ij) is small, and an error of a few per cent in J is
large against it. For every fixed J of a results file (each row at one training size; the
learnable row's final J as its own entry) this measures, on the constituents of the jets in
the results' jet file, with J scaled to its Frobenius projection onto η (so an overall scale,
which does not move the products' ratios, is not counted):

- light cone: |⟨p, p⟩_J − ⟨p, p⟩_η| / E² per constituent (median, 90th percentile);
- pairs: |⟨p_i, p_j⟩_J / ⟨p_i, p_j⟩_η − 1| per pair of constituents of one jet (median,
  90th percentile).

::

    python benchmarks/bench_toptag_products.py --results results/toptag_cpu/results.json \\
        --n-train 8000

Prints the table and writes ``products.json`` beside the results file (atomic).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from liegnn._atomic import atomic_write_json
from liegnn.datasets.toptag_files import read_jets
from liegnn.metric import metric_similarity

ETA = np.diag([1.0, -1.0, -1.0, -1.0])


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default="results/toptag_cpu/results.json")
    p.add_argument("--n-train", type=int, default=None, help="rows at this training size")
    p.add_argument("--jets", type=int, default=2000, help="jets measured (the file's first)")
    p.add_argument("--max-constituents", type=int, default=20)
    return p.parse_args(argv)


def scaled(J: np.ndarray) -> np.ndarray:
    """J / c with cη the Frobenius projection of J onto η."""
    return J / ((J * ETA).sum() / (ETA * ETA).sum())


def product_errors(J: np.ndarray, momenta: np.ndarray, counts: np.ndarray) -> dict:
    """Light-cone and pairwise errors of ``scaled(J)`` against η on the jets' constituents."""
    M = scaled(J)
    light, pairs = [], []
    for p, n in zip(momenta, counts, strict=True):
        p = p[:n]
        G, H = p @ M @ p.T, p @ ETA @ p.T
        light.append(np.abs(np.diagonal(G) - np.diagonal(H)) / p[:, 0] ** 2)
        i, j = np.triu_indices(n, 1)
        pairs.append(np.abs(G[i, j] / H[i, j] - 1))
    light, pairs = np.concatenate(light), np.concatenate(pairs)
    return {
        "light_cone_median": float(np.median(light)),
        "light_cone_p90": float(np.quantile(light, 0.9)),
        "pairs_median": float(np.median(pairs)),
        "pairs_p90": float(np.quantile(pairs, 0.9)),
    }


def metrics_of(record: dict, n_train: int | None) -> dict[str, dict]:
    """Each fixed J of the results (rows with ψ(m_η) node scalars, at ``n_train``), with the
    row's accuracies and AUCs over its seeds."""
    found: dict[str, dict] = {}
    for key, r in record["rows"].items():
        if not key.startswith("train/") or "error" in r or r.get("metric") is None:
            continue
        if r.get("node_scalars") != "eta" or r.get("n_train_requested") != n_train:
            continue
        entries = [(r["row"], r["metric"])]
        if r.get("metric_final") is not None:
            entries = [(r["row"] + " (final J)", r["metric_final"])]
        for name, J in entries:
            e = found.setdefault(name, {"accuracy": [], "auc": [], "J_per_seed": []})
            e["accuracy"].append(r["accuracy"])
            e["auc"].append(r["auc"])
            e["J_per_seed"].append(J)
    return found


def main(argv=None) -> int:
    a = parse_args(argv)
    path = Path(a.results)
    record = json.loads(path.read_text())
    jets = read_jets(record["jets"]["file"], 0, a.jets, a.max_constituents)
    momenta = jets.momenta.astype(np.float64)
    rows = metrics_of(record, a.n_train)
    if not rows:
        print(f"no fixed-J rows at --n-train {a.n_train} in {path}", file=sys.stderr)
        return 1
    table = []
    for name, e in rows.items():
        # a learnable row ends at a different J per seed: the errors are averaged over seeds
        errors = [
            product_errors(np.array(J), momenta, jets.n_constituents) for J in e["J_per_seed"]
        ]
        mean_errors = {k: float(np.mean([x[k] for x in errors])) for k in errors[0]}
        cosine = np.mean([metric_similarity(J, "minkowski") for J in e["J_per_seed"]])
        acc, auc = np.array(e["accuracy"]), np.array(e["auc"])
        table.append(
            {
                "row": name,
                "n_seeds": len(acc),
                "accuracy": float(acc.mean()),
                "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                "auc": float(auc.mean()),
                "cosine_with_eta": float(cosine),
                **mean_errors,
            }
        )
    table.sort(key=lambda t: t["pairs_median"])
    print(
        f"{'J':40s} {'seeds':>5s} {'accuracy':>16s} {'AUC':>7s} {'cos η':>7s} "
        f"{'cone p50':>9s} {'cone p90':>9s} {'pairs p50':>10s} {'pairs p90':>10s}"
    )
    for t in table:
        print(
            f"{t['row']:40s} {t['n_seeds']:5d} {t['accuracy']:8.4f} ± {t['accuracy_std']:.4f} "
            f"{t['auc']:7.4f} {t['cosine_with_eta']:7.4f} {t['light_cone_median']:9.4f} "
            f"{t['light_cone_p90']:9.4f} {t['pairs_median']:10.3f} {t['pairs_p90']:10.1f}"
        )
    out = path.with_name("products.json")
    atomic_write_json(
        {
            "results": str(path),
            "jets_file": record["jets"]["file"],
            "n_jets_measured": int(len(momenta)),
            "max_constituents": a.max_constituents,
            "n_train": a.n_train,
            "table": table,
        },
        out,
    )
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
