"""LieGAN's defaults on data nobody tuned for: ``LieGAN(n, c).fit(x[, y])`` with no other argument.

The matrix of :mod:`liegnn.discovery.tasks.conjugated`: so(2) and so(3), in R³ and R⁴, with and
without regression targets, behind a random linear change of coordinates (a new one per data
seed). Every run uses the defaults (training seed 0, the stopping rule, one torch thread) and is
scored against the truth A L A⁻¹ by the subspace similarity. The budget is 0.99 within 60 s.

    python benchmarks/bench_discovery_defaults.py                    # data seeds 0 1 2
    python benchmarks/bench_discovery_defaults.py --seeds 0 --sizes 3000 --out results/x.json

Prints a table (case, seed, N, similarity, seconds, epochs until the stop, why it stopped) and
writes a JSON atomically (``--out``, default ``results/bench_discovery_defaults.json``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from liegnn._atomic import atomic_write_json
from liegnn.discovery import LieGAN
from liegnn.discovery.tasks.conjugated import CASES, conjugated

TARGET, BUDGET_S = 0.99, 60.0


def run_case(group: str, n: int, targets: bool, seed: int, n_samples: int) -> dict:
    data = conjugated(group, n, targets=targets, n_samples=n_samples, seed=seed)
    start = time.perf_counter()
    result = LieGAN(n, data.truth.shape[0]).fit(data.x, data.y, progress=False)
    seconds = time.perf_counter() - start
    return {
        "case": f"{group} in R{n}" + (" with y" if targets else ""),
        "data_seed": seed,
        "n_samples": n_samples,
        "subspace_similarity": result.compare(data.truth)["subspace_similarity"],
        "seconds": seconds,
        "epochs": result.config["stop"]["epochs"],
        "stop": result.config["stop"]["reason"],
    }


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="data seeds")
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[3000, 6000, 10000],
        help="N per data seed (cycled)",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="results/bench_discovery_defaults.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    rows = []
    header = (
        f"{'case':<18} {'seed':>4} {'N':>6} {'similarity':>10} {'seconds':>8} {'epochs':>6}  stop"
    )
    print(header, flush=True)
    for group, n, targets in CASES:
        for i, seed in enumerate(args.seeds):
            row = run_case(group, n, targets, seed, args.sizes[i % len(args.sizes)])
            rows.append(row)
            flag = (
                "" if row["subspace_similarity"] >= TARGET and row["seconds"] <= BUDGET_S else " *"
            )
            print(
                f"{row['case']:<18} {seed:>4} {row['n_samples']:>6} "
                f"{row['subspace_similarity']:>10.5f} {row['seconds']:>8.1f} {row['epochs']:>6}  "
                f"{row['stop']}{flag}",
                flush=True,
            )
    met = sum(r["subspace_similarity"] >= TARGET and r["seconds"] <= BUDGET_S for r in rows)
    print(f"{met}/{len(rows)} runs reached {TARGET} within {BUDGET_S:.0f} s (* marks a miss)")
    meta = {
        "target": TARGET,
        "budget_s": BUDGET_S,
        "met": met,
        "runs": len(rows),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "settings": LieGAN(3).config(),
    }
    atomic_write_json({"meta": meta, "runs": rows}, args.out)
    return rows


if __name__ == "__main__":
    main()
