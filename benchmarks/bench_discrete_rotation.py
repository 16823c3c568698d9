"""Table 4: discrete rotation symmetry C_k (k = 6, 7, 8), LieGAN vs SymmetryGAN.

The data of the paper's Sec. 6.3 for each k: x ~ N(0, I₃), y = x₃ / (1 + mod(atan2(x₂, x₁), 2π/k)),
20000 samples. The truth is the rotation generator (2π/k) J_z, found up to sign.

- LieGAN: the C₇ recipe of docs/discovery.md (``liegnn.discovery.tasks.synthetic.C7_RECIPE``,
  integer-grid coefficients) for every k; several seeds, and the run that ``select_best`` picks
  without the truth is the reported one ("selected"); every seed's MAE is listed too.
- SymmetryGAN: one learned group element g (the paper code's free-matrix parameterisation);
  its principal logarithm is compared with the truth. Any rotation by 2πm/k fools the
  discriminator as well, so the angle of g and the nearest m are reported beside the MAE.

CPU default (about 5 minutes on 2 idle cores with ``--workers 2``)::

    python benchmarks/bench_discrete_rotation.py --workers 2
    python benchmarks/bench_discrete_rotation.py --ks 7 --seeds 0 1 2 3 4 5   # more seeds

Writes ``results/bench_discrete_rotation/results.json`` (atomically; finished (k, method) rows
with the same seeds, run length and configuration are kept and skipped on a rerun) and the
selected LieGAN heatmaps. The seeds go through :func:`liegnn.discovery.fit_seeds` and
:func:`liegnn.discovery.select_best` (``run_task`` runs LieGAN only, one task per k would be
needed, and its summary lacks the per-seed generators this table reports).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

from liegnn._atomic import atomic_write_json
from liegnn.algebra.compare import generator_mae
from liegnn.datasets.synthetic import discrete_rotation, discrete_rotation_generator
from liegnn.discovery import LieGAN, SymmetryGAN, fit_seeds, select_best
from liegnn.discovery.tasks.synthetic import C7_RECIPE

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  (benchmarks/_common.py: settings digests)

#: the paper's Table 4 (MAE to the truth); SymmetryGAN's 0.024 is starred there (a non-generator)
PAPER = {
    ("LieGAN", 6): 0.012,
    ("LieGAN", 7): 0.003,
    ("LieGAN", 8): 0.011,
    ("SymmetryGAN", 6): 0.024,
    ("SymmetryGAN", 7): 0.034,
    ("SymmetryGAN", 8): None,
}
EPOCHS, STEPS = 35, 50
#: SymmetryGAN: LieGAN's discriminator, batch and learning rates, as many steps as LieGAN
SGAN = {
    k: C7_RECIPE[k]
    for k in ("n", "hidden", "fourier_features", "fourier_scale", "batch_size", "lr_g", "lr_d")
    + ("identity_weight", "identity_decay", "lr_decay")
}


def rotation_angle(L: torch.Tensor) -> float:
    """The rotation angle of a generator in the (x₁, x₂) plane: (L₁₀ − L₀₁) / 2."""
    return float((L[1, 0] - L[0, 1]) / 2)


def row_key(method: str, k: int, seeds: list[int]) -> str:
    """A digest of what determines a row: method, k, seeds, run length, and the method's whole
    configuration (the recipe and the defaults under it), so a changed recipe makes it stale."""
    cls, options = (LieGAN, C7_RECIPE) if method == "LieGAN" else (SymmetryGAN, SGAN)
    config = cls(**options, seed=0).config()
    config.pop("seed", None)
    return _common.digest([method, k, seeds, EPOCHS, STEPS, options, config])


def run(method: str, k: int, seeds: list[int], workers: int) -> dict:
    x, y = discrete_rotation(k=k, n_samples=20000, seed=0)
    truth = discrete_rotation_generator(k)
    fit = dict(epochs=EPOCHS, steps_per_epoch=STEPS, truth=truth)
    start = time.perf_counter()
    if method == "LieGAN":
        runs = fit_seeds(x, y, seeds=seeds, options=C7_RECIPE, workers=workers, **fit)
    else:
        runs = fit_seeds(
            x, y, seeds=seeds, options=SGAN, method=SymmetryGAN, workers=workers, **fit
        )
    wall = time.perf_counter() - start
    best = select_best(runs)
    per_seed = []
    for s, r in zip(seeds, runs, strict=True):
        L = r.generators[0].double()
        angle = rotation_angle(L) if float(L[1, 0]) >= 0 else -rotation_angle(L)
        per_seed.append(
            {
                "seed": s,
                "mae": generator_mae(r.generators.double(), truth.double()),
                "angle": abs(rotation_angle(L)),
                "multiple_of_2pi_over_k": round(abs(angle) / (2 * math.pi / k)),
                "selected": r is best,
                "mae_last5": r.history["mae"][-5:],
            }
        )
    chosen = next(p for p in per_seed if p["selected"])
    return {
        "method": method,
        "k": k,
        "seeds": per_seed,
        "selected_mae": chosen["mae"],
        "selected_seed": chosen["seed"],
        "successes_mae_le_0.02": sum(p["mae"] <= 0.02 for p in per_seed),
        "wall_s": wall,
        "paper_mae": PAPER[(method, k)],
        "generators": best.generators.tolist(),
        "key": row_key(method, k, seeds),
    }, best


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--ks", type=int, nargs="+", default=[6, 7, 8])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=["LieGAN", "SymmetryGAN"])
    p.add_argument("--workers", type=int, default=1, help="seeds trained at once (processes)")
    p.add_argument("--threads", type=int, default=None, help="torch threads of this process")
    p.add_argument("--out", type=Path, default=Path("results/bench_discrete_rotation"))
    p.add_argument("--rerun", action="store_true", help="ignore finished rows in the JSON")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    file = args.out / "results.json"
    done = {}
    if file.exists() and not args.rerun:
        import json

        for row in json.loads(file.read_text())["rows"]:
            if row.get("key") == row_key(row["method"], row["k"], args.seeds):
                done[(row["method"], row["k"])] = row
    rows = []
    meta = {
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "workers": args.workers,
        "epochs": EPOCHS,
        "steps_per_epoch": STEPS,
    }
    for k in args.ks:
        for method in args.methods:
            if (method, k) in done:
                rows.append(done[(method, k)])
                print(f"{method} k={k}: kept from {file}")
                continue
            row, best = run(method, k, args.seeds, args.workers)
            rows.append(row)
            if method == "LieGAN":
                best.plot(args.out / f"liegan_c{k}.png")
            meta["load_average_at_end"] = os.getloadavg()
            atomic_write_json({"meta": meta, "rows": rows}, file)
            print(
                f"{method} k={k}: selected MAE {row['selected_mae']:.4f} (seed "
                f"{row['selected_seed']}), {row['successes_mae_le_0.02']}/{len(args.seeds)} "
                f"seeds <= 0.02, {row['wall_s']:.0f} s",
                flush=True,
            )

    print(f"\n{'method':12s} {'k':>2s} {'selected MAE':>12s} {'per-seed MAE':>28s} {'paper':>6s}")
    for r in rows:
        seeds = " ".join(f"{s['mae']:.3f}" for s in r["seeds"])
        paper = "–" if r["paper_mae"] is None else f"{r['paper_mae']:.3f}"
        print(f"{r['method']:12s} {r['k']:2d} {r['selected_mae']:12.4f} {seeds:>28s} {paper:>6s}")
    print(f"wrote {file}")


if __name__ == "__main__":
    main()
