"""Time to a finite symmetry: DiscreteSearch against LieGAN's subgroup mode given the axis.

Two tasks, several seeds each, one thread:

- **3-cycle**: the partial-permutation task (App. C.3), x ∈ R⁵, N = 10000; the answer is the
  3-cycle of x₁..x₃ as a matrix.
- **C₇**: the paper's C₇ target seen through a random linear change of coordinates
  (:func:`liegnn.discovery.tasks.finite.cyclic`), N = 20000; the answer is A R_z(2π/7) A⁻¹.

Rows:

- ``DiscreteSearch``: the defaults, no knowledge of the group; the time is the whole fit; the
  error is the relative Frobenius error ‖ĥ − h‖_F / ‖h‖_F of the closest found element, and the
  order is that of the closed group (S₃: 6; C₇: 7).
- ``LieGAN subgroup``: the paper's Sec. 4.2 mode, given the true axis: L fixed to the rotation
  generator about it (unit angular speed), γ a learnable Gaussian mixture of 4 components whose
  means are the angles; the C₇ recipe's discriminator and rates. The answer is exp(μ_k L) for the
  mixture mean closest to a nonzero multiple of the true angle; the time is the training run
  (``--epochs`` × 50 steps).

    python benchmarks/bench_discrete_search.py                 # 3 seeds, about 10 minutes
    python benchmarks/bench_discrete_search.py --seeds 0 --tasks c7

Writes ``results/bench_discrete_search/results.json`` atomically. LieFlow was run beside it on
the same data outside the repository; docs/discovery.md gives its numbers and command.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from pathlib import Path

import scipy.linalg
import torch

from liegnn._atomic import atomic_write_json
from liegnn.datasets.synthetic import partial_permutation
from liegnn.discovery import DiscreteSearch, LieGAN
from liegnn.discovery.coefficients import GaussianMixture
from liegnn.discovery.tasks.finite import cyclic

THREE_CYCLE = torch.eye(5, dtype=torch.float64)[:, [1, 2, 0, 3, 4]]  # x₁ → x₂ → x₃ → x₁


def _task(name: str, seed: int):
    """(x, y, true element h, axis generator L with exp(θ L) = h, its angle θ, group order)."""
    if name == "3-cycle":
        x, y = partial_permutation(n_samples=10000, seed=seed)
        u = torch.ones(3, dtype=torch.float64) / math.sqrt(3)
        K = torch.zeros(5, 5, dtype=torch.float64)
        K[:3, :3] = torch.tensor([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
        return x, y, THREE_CYCLE, K, 2 * math.pi / 3, 6
    data = cyclic(7, n_samples=20000, seed=seed)
    h = data.info["elements"][0]
    L = torch.as_tensor(scipy.linalg.logm(h.numpy()).real) / (2 * math.pi / 7)
    return data.x, data.y, h, L, 2 * math.pi / 7, 7


def _error(found: torch.Tensor, h: torch.Tensor) -> float:
    diff = (found - h).flatten(-2).norm(dim=-1) / h.norm()
    return float(diff.min())


def run_search(name: str, seed: int) -> dict:
    x, y, h, _, _, order = _task(name, seed)
    start = time.perf_counter()
    result = DiscreteSearch(seed=seed).fit(x, y)
    seconds = time.perf_counter() - start
    return {
        "method": "DiscreteSearch",
        "task": name,
        "seed": seed,
        "time_s": seconds,
        "order": result.order,
        "true_order": order,
        "error": _error(result.elements, h),
        "exact_permutation": bool(any(result.snapped[1:])),
        "names": result.names,
    }


def run_subgroup(name: str, seed: int, epochs: int) -> dict:
    x, y, h, L, angle, order = _task(name, seed)
    gamma = GaussianMixture(1, n_components=4, means=torch.tensor([0.4, 1.3, 2.2, 3.1]), sigma=0.1)
    gan = LieGAN(
        L.shape[-1],
        init=L[None].float(),
        learn_generators=False,
        coefficients=gamma,
        identity_weight=0.0,
        hidden=128,
        fourier_features=64,
        fourier_scale=2.0,
        batch_size=128,
        lr_g=1e-2,
        lr_d=2e-3,
        stop_tol=None,
        seed=seed,
    )
    start = time.perf_counter()
    res = gan.fit(x, y, epochs=epochs, steps_per_epoch=50, progress=False)
    seconds = time.perf_counter() - start
    means = res.coefficients["means"][0].to(torch.float64)
    elements = torch.linalg.matrix_exp(means[:, None, None] * L)
    powers = torch.stack([torch.linalg.matrix_power(h, k) for k in range(1, order)])
    errors = [_error(powers, g) for g in elements]  # each mean against every nontrivial power
    best = min(range(len(means)), key=lambda k: errors[k])
    # the angle of the best mean as an element: its distance to h itself (not a power)
    return {
        "method": "LieGAN subgroup (axis given)",
        "task": name,
        "seed": seed,
        "time_s": seconds,
        "means": means.tolist(),
        "true_angle": angle,
        "error": errors[best],
        "error_to_h": _error(elements[best][None], h),
        "epochs": epochs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["3-cycle", "c7"], choices=["3-cycle", "c7"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=16, help="LieGAN subgroup epochs (×50 steps)")
    parser.add_argument("--out", default="results/bench_discrete_search")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name in args.tasks:
        for seed in args.seeds:
            for row in (run_search(name, seed), run_subgroup(name, seed, args.epochs)):
                rows.append(row)
                order = f"order {row['order']}/{row['true_order']}" if "order" in row else ""
                print(
                    f"{row['task']:8} seed {seed}  {row['method']:30} {row['time_s']:7.1f} s  "
                    f"error {row['error']:.4f}  {order}",
                    flush=True,
                )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = {"machine": platform.machine(), "torch": torch.__version__, "threads": 1}
    atomic_write_json({"rows": rows, "machine": machine, "args": vars(args)}, out / "results.json")
    print(f"wrote {out / 'results.json'}")


if __name__ == "__main__":
    main()
