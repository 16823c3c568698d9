"""Benchmark 3 (issue 6): partial permutation, SU(2) and rotated digits through ``run_task``.

Each task runs with its tuned recipe from :mod:`liegnn.discovery.tasks.synthetic` (several
seeds where the task says so, the best picked by ``select_best`` without the truth), exactly as
``liegnn discover TASK`` does, and is judged by the task's check:

  partial-permutation  exp(k L), k = 1..3, rounded: permutation matrices? which? only x1..x3?
  su2                  subspace similarity with su(2) (as U ⊕ U on both doublets), closure
  digits               similarity with se(2), rotation / scaling / shear / translation parts

Writes ``<out>/<task>/{summary.json, basis.pt, generators.png}`` and ``<out>/bench.json``::

    python benchmarks/bench_synthetic.py                      # CPU default, 1 thread
    python benchmarks/bench_synthetic.py --tasks su2 --seeds 3
    python benchmarks/bench_synthetic.py --full               # 3x longer, 5 seeds (not run here)
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from liegnn._atomic import atomic_write_json
from liegnn.discovery.tasks import discovery_task, run_task

TASKS = ("partial-permutation", "su2", "digits")


def verdict(name: str, summary: dict) -> str:
    """One line of findings from a task's check."""
    check, truth = summary["check"] or {}, summary["truth"] or {}
    if name == "partial-permutation":
        perms = ", ".join(check.get("found_group", [])) or "none"
        return (
            f"exp(kL) permutations: {check.get('all_permutations')} ({perms}); "
            f"only x1..x3: {check.get('only_x1_x2_x3')}; nontrivial: {check.get('nontrivial')}"
        )
    if name == "su2":
        return (
            f"su(2) 4x4 similarity {check.get('subspace_similarity_su2_4x4', float('nan')):.4f}, "
            f"closure error {check.get('closure_error', float('nan')):.3f}"
        )
    if name == "digits":
        parts = check.get("components", [])
        text = "; ".join(
            "L{}: rot {:.2f} transl {:.2f} scale {:.2f} shear {:.2f}".format(
                i, p["rotation"], p["translation"], p["scaling"], p["shear"]
            )
            for i, p in enumerate(parts)
        )
        return f"{text}; in se(2) {check.get('in_rotations_and_translations', float('nan')):.3f}"
    return str(truth)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--out", default="results/bench_synthetic", help="results folder")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, help="runs per task (default: the task's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--full", action="store_true", help="3x the epochs and 5 seeds")
    parser.add_argument("--progress", action="store_true", help="progress bars")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    rows = []
    for name in args.tasks:
        task = discovery_task(name)
        epochs = 3 * task.epochs if args.full else None
        seeds = args.seeds or (5 if args.full else None)
        start = time.perf_counter()
        summary = run_task(
            name,
            out=out / name,
            seed=args.seed,
            seeds=seeds,
            epochs=epochs,
            device=args.device,
            progress=args.progress,
            resume=False,
        )
        wall = time.perf_counter() - start
        row = {
            "task": name,
            "seeds": summary["seeds"],
            "chosen_seed": summary["chosen_seed"],
            "epochs": summary["epochs"],
            "steps": summary["epochs"] * (summary["steps_per_epoch"] or 0),
            "subspace_similarity": (summary["truth"] or {}).get("subspace_similarity"),
            "mean_channel_cosine": (summary["truth"] or {}).get("mean_channel_cosine"),
            "per_seed_similarity": [r.get("subspace_similarity") for r in summary["runs"]],
            "check": summary["check"],
            "verdict": verdict(name, summary),
            "wall_time_s": wall,
        }
        rows.append(row)
        print(
            f"{name:<20} similarity {row['subspace_similarity']:.4f}  {row['verdict']}  "
            f"({wall:.1f} s)",
            flush=True,
        )
    print()
    print("| task | seeds (chosen) | steps per run | subspace similarity | check | wall time |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        per_seed = " / ".join(f"{s:.3f}" for s in r["per_seed_similarity"])
        print(
            f"| {r['task']} | {len(r['seeds'])} ({r['chosen_seed']}) | {r['steps']} | "
            f"{r['subspace_similarity']:.4f} (seeds: {per_seed}) | {r['verdict']} | "
            f"{r['wall_time_s']:.0f} s |"
        )
    atomic_write_json(
        {
            "rows": rows,
            "threads": args.threads,
            "device": args.device,
            "torch": torch.__version__,
            "machine": platform.machine(),
            "full": args.full,
        },
        out / "bench.json",
    )
    print(f"\nwrote {out}/bench.json and {out}/<task>/{{summary.json,basis.pt,generators.png}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
