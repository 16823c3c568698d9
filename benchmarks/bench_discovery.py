"""Wall time of LieGAN discovery to a target similarity, epoch by epoch.

Tasks:
  nbody  the 2-body task (HNN-style data, 5 past + 5 future steps, polar split, block mask,
         1 channel): target channel cosine >= 0.999 with the rotation generator, held to the end.
  c7     discrete rotations C7 (20000 samples, integer-grid coefficients, 1 channel): target
         MAE <= 0.005 to the 2π/7 generator (up to sign), held to the end; 0.02 also reported.

Each "epoch" below is a fixed number of batches (a random subset of the data), so similarity is
reported at a fine time resolution; training runs until the time budget is spent. Times are
wall-clock seconds since the start of ``fit`` (including the per-epoch evaluation), excluding
data generation. Every seed is a separate run; for C7 the run that ``select_best`` picks
without the ground truth is marked. Numbers are only honest on an otherwise idle machine:

    python benchmarks/bench_discovery.py --threads 2 --out results/bench_discovery.json
    python benchmarks/bench_discovery.py --task c7 --device cuda
    python benchmarks/bench_discovery.py --paper      # the paper's settings, same code
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import torch

from liegnn._atomic import atomic_write_json
from liegnn.discovery import LieGAN, masks, select_best
from liegnn.discovery.tasks import discovery_task

#: per task: LieGAN's settings and the batches per epoch (the schedules below count epochs);
#: the tuned ones are the recipes of ``liegnn discover`` (liegnn.discovery.tasks), not a copy
TUNED = {
    key: (discovery_task(name).recipe, discovery_task(name).steps_per_epoch)
    for key, name in (("nbody", "nbody"), ("c7", "discrete-rotation"))
}
#: the paper's code (the ``paper`` preset: lr_g 1e-3, lr_d 2e-4, batch 64, 512 hidden) with
#: its init: N(0, 1) for the 2-body block mask, Kaiming N(0, 0.47²) for C7; integer grid
#: {−10..10} (ours includes +10)
PAPER = {
    "nbody": (
        dict(
            preset="paper",
            n=8,
            mask=masks.nbody_blocks(2),
            rep_y="standard",
            identity_weight=1.0,
            init_scale=1.0,
        ),
        25,
    ),
    "c7": (
        dict(
            preset="paper",
            n=3,
            coefficients="integer",
            coefficient_options=dict(u=10),
            init_scale=0.47,
        ),
        50,
    ),
}
TARGETS = {
    "nbody": [("channel_cosine", 0.999, "ge")],
    "c7": [("mae", 0.005, "le"), ("mae", 0.02, "le")],
}
BUDGET = {"nbody": 10.0, "c7": 30.0}


def load_task(task: str):
    """(x, y), truth of a task."""
    if task == "nbody":
        from liegnn.datasets.nbody import load_nbody, rotation_generator

        data = load_nbody(n_bodies=2, split="polar", past=5, future=5, seed=0)
        return (data.x_train, data.y_train), rotation_generator(2)
    from liegnn.datasets.synthetic import discrete_rotation, discrete_rotation_generator

    x, y = discrete_rotation(k=7, n_samples=20000, seed=0)
    return (x, y), discrete_rotation_generator(7)


def _hit(value: float, threshold: float, sense: str) -> bool:
    return value >= threshold if sense == "ge" else value <= threshold


def summarise(rows: list[dict], key: str, threshold: float, sense: str) -> dict:
    values = [r[key] for r in rows]
    first = next((r["time"] for r in rows if _hit(r[key], threshold, sense)), None)
    stable = next(
        (
            rows[i]["time"]
            for i in range(len(rows))
            if all(_hit(v, threshold, sense) for v in values[i:])
        ),
        None,
    )
    return {
        "metric": key,
        "threshold": threshold,
        "first_reached_s": first,
        "stable_from_s": stable,
    }


def run_task(task: str, seed: int, data, args) -> tuple[dict, object]:
    (x, y), truth = data
    settings, steps = (PAPER if args.paper else TUNED)[task]
    budget = args.budget or BUDGET[task]
    rows = []

    def stop(epoch, row):
        rows.append({"epoch": epoch, **{k: row[k] for k in ("time", "channel_cosine", "mae")}})
        if args.verbose:
            print(
                f"  {task} seed {seed} epoch {epoch:4d}  t={row['time']:7.2f}s  "
                f"cos={row['channel_cosine']:.5f}  mae={row['mae']:.5f}",
                flush=True,
            )
        return row["time"] >= budget

    gan = LieGAN(**settings, seed=seed, device=args.device)
    result = gan.fit(
        x, y, epochs=10**6, truth=truth, steps_per_epoch=steps, progress=False, callback=stop
    )
    out = {
        "task": task,
        "seed": seed,
        "settings": gan.config(),
        "steps_per_epoch": steps,
        "budget_s": budget,
        "targets": [summarise(rows, *t) for t in TARGETS[task]],
        "final": {k: rows[-1][k] for k in ("channel_cosine", "mae")},
        "epochs": rows,
    }
    return out, result


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--task", choices=["nbody", "c7", "all"], default="all")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--budget", type=float, default=None, help="seconds per run (default 10 / 30)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default: nbody 0; c7 0 1 2")
    p.add_argument("--paper", action="store_true", help="the paper's learning rates and batch size")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON (atomically)")
    p.add_argument("--quiet", dest="verbose", action="store_false")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    tasks = ["nbody", "c7"] if args.task == "all" else [args.task]
    runs = []
    for task in tasks:
        data = load_task(task)
        seeds = args.seeds or ([0] if task == "nbody" else [0, 1, 2])
        results = []
        for seed in seeds:
            out, result = run_task(task, seed, data, args)
            runs.append(out)
            results.append((out, result))
        if task == "c7" and len(results) > 1:
            chosen = select_best([r for _, r in results])
            for out, r in results:
                out["selected_by_select_best"] = r is chosen

    print(
        "\n{:6s} {:>4s} {:>14s} {:>10s} {:>11s} {:>9s} {:>9s} {:>7s}".format(
            "task", "seed", "target", "first (s)", "stable (s)", "final cos", "final mae", "budget"
        )
    )
    fmt = lambda v: "never" if v is None else f"{v:.2f}"
    for r in runs:
        for t in r["targets"]:
            sign = ">=" if t["metric"] == "channel_cosine" else "<="
            mark = " *" if r.get("selected_by_select_best") else ""
            target = f"{t['metric'][:6]} {sign} {t['threshold']}"
            first, stable = fmt(t["first_reached_s"]), fmt(t["stable_from_s"])
            final = r["final"]
            print(
                f"{r['task']:6s} {r['seed']:4d} {target:>14s} {first:>10s} {stable:>11s} "
                f"{final['channel_cosine']:9.5f} {final['mae']:9.5f} {r['budget_s']:7.1f}{mark}"
            )
    if any("selected_by_select_best" in r for r in runs):
        print("* the run select_best picks among the seeds (no ground truth used)")
    if args.out:
        meta = {
            "machine": platform.platform(),
            "processor": platform.processor(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": args.device,
            "cpu_count": os.cpu_count(),
            "load_average_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "paper_settings": args.paper,
        }
        atomic_write_json({"meta": meta, "runs": runs}, args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
