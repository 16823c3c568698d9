"""Time ``equivariant_basis`` on tensor representations of so(3) and so(1,3), exact and noisy.

Cases: so(3) V⊗ᵏ → V⊗ᵏ for k = 1..4 (weight spaces 9, 81, 729, 6561; 1, 3, 15, 91 maps) and
so(1,3) V → V, V⊗V → Scalar, V⊗V → V⊗V, V⊗³ → V⊗³; each with the exact generators and with
Gaussian noise (σ = 1e-3) on every generator entry, solved with ``threshold="auto"``. Every case
starts from an empty basis cache (one untimed warm-up solve first loads the linear algebra
libraries). Wall and CPU seconds are recorded with the machine, its load average and the number
of torch threads: timings taken while other jobs share the CPU are inflated.

    python benchmarks/bench_equivariant_basis.py
    python benchmarks/bench_equivariant_basis.py --quick --out /tmp/bench.json
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from liegnn._atomic import atomic_write_json
from liegnn.algebra import lorentz, so
from liegnn.nullspace import clear_cache, equivariant_basis
from liegnn.reps import Scalar, V

CASES = [  # (algebra, name, rep_in, rep_out, expected number of maps)
    ("so(3)", "V -> V", V, V, 1),
    ("so(3)", "V⊗2 -> V⊗2", V**2, V**2, 3),
    ("so(3)", "V⊗3 -> V⊗3", V**3, V**3, 15),
    ("so(3)", "V⊗4 -> V⊗4", V**4, V**4, 91),
    ("so(1,3)", "V -> V", V, V, 1),
    ("so(1,3)", "V⊗2 -> Scalar", V**2, Scalar, 1),
    ("so(1,3)", "V⊗2 -> V⊗2", V**2, V**2, 4),
    ("so(1,3)", "V⊗3 -> V⊗3", V**3, V**3, 25),
]
ALGEBRAS = {"so(3)": so(3, dtype=torch.float64), "so(1,3)": lorentz(dtype=torch.float64)}


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def run_case(algebra: str, name: str, rep_in, rep_out, expected: int, sigma: float, seed: int):
    L = ALGEBRAS[algebra]
    if sigma > 0:
        g = torch.Generator().manual_seed(seed)
        L = L + sigma * torch.randn(L.shape, generator=g, dtype=L.dtype)
    clear_cache()
    wall, cpu = time.perf_counter(), time.process_time()
    info = equivariant_basis(rep_in, rep_out, L, return_info=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rank = info.basis.shape[1]
    s = info.singular_values
    return {
        "algebra": algebra,
        "case": name,
        "sigma": sigma,
        "weight_dim": info.basis.shape[0],
        "expected": expected,
        "found": rank,
        "ok": rank == expected,
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "cut": info.cut,
        "largest_kept": float(s[rank - 1]) if rank else None,
        "smallest_dropped": float(s[rank]) if rank < len(s) else None,
        "method": info.pairs[0].method,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="results/bench_equivariant_basis.json")
    parser.add_argument("--sigma", type=float, default=1e-3, help="noise on generator entries")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="skip the two largest cases")
    args = parser.parse_args()

    equivariant_basis(V, V, so(2, dtype=torch.float64))  # warm-up: load LAPACK, not timed
    before = machine()
    rows = []
    header = f"{'algebra':8} {'case':14} {'dim W':>6} {'σ':>6} {'expect':>6} {'found':>5} "
    header += f"{'wall s':>7} {'cpu s':>7}  method"
    print(header)
    print("-" * len(header))
    for algebra, name, rep_in, rep_out, expected in CASES:
        if args.quick and rep_in.dim(ALGEBRAS[algebra]) ** 2 > 1000:
            continue
        for sigma in (0.0, args.sigma):
            r = run_case(algebra, name, rep_in, rep_out, expected, sigma, args.seed)
            rows.append(r)
            flag = "" if r["ok"] else "  MISMATCH"
            print(
                f"{algebra:8} {name:14} {r['weight_dim']:>6} {sigma:>6.0e} {expected:>6} "
                f"{r['found']:>5} {r['seconds']:>7.2f} {r['cpu_seconds']:>7.2f}  {r['method']}"
                + flag
            )
    result = {"machine": before, "load_average_after": machine()["load_average"], "cases": rows}
    atomic_write_json(result, args.out)
    print(f"\nall dimensions as expected: {all(r['ok'] for r in rows)}; wrote {args.out}")
    print(f"machine: {before}")


if __name__ == "__main__":
    main()
