"""N-body prediction with discovered symmetries (the paper's Table 2, Sec. 6.2, App. B.1 / C.1).

1. Discovery on the training windows of the polar-angle split (5 past + 5 future steps of
   (q1, p1, q2, p2), one 8 × 8 generator on every step): LieGAN through
   :func:`liegnn.discovery.tasks.run_task` with the ``nbody`` task's recipe (block mask; its
   seeds, ``select_best``) and with the same recipe without the mask; Augerino+ (block mask)
   and SymmetryGAN (block mask; its generator is log g) for as many batches. Each basis is
   saved to ``bases/<method>/basis.pt``; its |cosine| with the true rotation is reported.
2. Prediction (test MSE of the 5 future steps, polar-angle split) through
   :func:`liegnn.training.experiments.train_nbody`: EMLP with each discovered basis, with the
   solver's cut "auto" and with the paper's 5e-3; EMLP with the true rotation; a plain MLP; and
   the MLP with Eq. 11 augmentation by each basis and by the truth.

Every row is cached in ``<out>/rows/<row>.json`` together with its settings (and, for a row
trained on a discovered basis, the basis' values): a rerun skips the rows already done with the
same settings (training runs also resume epoch by epoch). A LieGAN discovery is reused while its
settings, the task's recipe included, are the same.
``<out>/results.json`` is rewritten atomically after every row.

    python benchmarks/bench_nbody.py                 # CPU-sized default, 1 thread
    python benchmarks/bench_nbody.py --full --device cuda    # the paper's scale (not run here)
    python benchmarks/bench_nbody.py --quick --out /tmp/nbody  # every row in seconds (smoke run)
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

import torch

from liegnn._atomic import atomic_write_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  (benchmarks/_common.py: the shared discovery stage)

#: the paper's Table 2 (test MSE): (EMLP, data augmentation); None where it reports none
PAPER = {
    "liegan": (6.43e-5, 3.79e-5),
    "liegan_nomask": (2.41e-4, 6.17e-5),
    "augerino": (9.41e-4, 1.47),
    "symmetrygan": (None, 6.79e-4),
    "truth": (9.45e-6, 1.39e-5),
    "mlp": (8.49e-2, None),
}
#: the paper's cosine with the true generator (Sec. 6.2)
PAPER_COSINE = {"liegan": 0.9998, "augerino": 0.488}
METHODS = ("liegan", "liegan_nomask", "augerino", "symmetrygan")
LABELS = {
    "liegan": "LieGAN (block mask)",
    "liegan_nomask": "LieGAN (no mask)",
    "augerino": "Augerino+",
    "symmetrygan": "SymmetryGAN",
    "truth": "ground truth so(2)",
    "mlp": "none (plain MLP)",
}

#: ``discovery_epochs``, ``discovery_steps`` (None: every batch) and ``liegan_seeds`` change the
#: nbody task's run length where given; without them the task's own apply (40 epochs x 25
#: batches, 3 seeds). The recipe is always the task's.
CONFIGS = {
    # ~15 min on one quiet CPU thread: 200 trajectories (6560 training windows), discovery as
    # the nbody task (LieGAN: its seeds and select_best), prediction: train_nbody's "cpu" preset
    # (100 epochs, lr 1e-3, batch 64, hidden 128, 3 layers)
    "cpu": dict(preset="cpu", n_trajectories=200, train=dict()),
    # the paper: 1000 trajectories, discovery 100 epochs over all windows, EMLP lr 1e-4 and
    # 5000 epochs (train_nbody's "full" preset)
    "full": dict(
        preset="full",
        n_trajectories=1000,
        discovery_epochs=100,
        discovery_steps=None,
        liegan_seeds=3,
        train=dict(),
    ),
    # smoke runs (seconds): every row, on 20 orbits, 2 discovery epochs, 1 training epoch
    "quick": dict(
        preset="cpu",
        n_trajectories=20,
        discovery_epochs=2,
        discovery_steps=5,
        liegan_seeds=1,
        train=dict(epochs=1),
    ),
}


def rows(cfg: dict) -> list[dict]:
    """Every row of the benchmark, in order: discovery first (training rows need the bases)."""
    out = [{"name": f"discover-{m}", "kind": "discover", "method": m} for m in METHODS]
    for m in (*METHODS, "truth"):
        for cut in ("auto", 5e-3):
            if m == "truth" and cut != "auto":
                continue
            out.append(
                {"name": f"emlp-{m}-cut{cut}", "kind": "train", "method": m, "model": "emlp",
                 "threshold": cut, "augment": False}
            )  # fmt: skip
    out.append(
        {"name": "mlp-none", "kind": "train", "method": "mlp", "model": "mlp", "threshold": "auto",
         "augment": False}
    )  # fmt: skip
    for m in (*METHODS, "truth"):
        out.append(
            {"name": f"augment-{m}", "kind": "train", "method": m, "model": "mlp",
             "threshold": "auto", "augment": True}
        )  # fmt: skip
    return out


def nbody_task(cfg: dict):
    """The registered ``nbody`` task on this benchmark's orbits (``n_trajectories``), with the
    run length of ``cfg`` where it sets one."""
    from liegnn.discovery.tasks import discovery_task
    from liegnn.discovery.tasks.nbody import load_windows

    def load(seed: int, quick: bool):
        return load_windows(2, seed=cfg.get("data_seed", 0), n_trajectories=cfg["n_trajectories"],
                            root=cfg.get("root"))  # fmt: skip

    changes = {"load": load}
    if "discovery_steps" in cfg:
        changes["steps_per_epoch"] = cfg["discovery_steps"]
    return replace(discovery_task("nbody"), **changes)


def _discover(method: str, cfg: dict, folder: Path, seed: int, device: str, workers: int) -> dict:
    from liegnn.discovery import AugerinoPlus, SymmetryGAN, masks

    task = nbody_task(cfg)
    t0 = time.perf_counter()
    if method in ("liegan", "liegan_nomask"):
        found = _common.discover(
            task,
            folder,
            seed=seed,
            seeds=cfg.get("liegan_seeds"),
            epochs=cfg.get("discovery_epochs"),
            recipe={"mask": None} if method == "liegan_nomask" else None,
            data={k: cfg.get(k) for k in ("n_trajectories", "data_seed", "root")},
            workers=workers,
            device=device,
        )
        s = found.summary
        return {
            "cosine": found.truth("mean_channel_cosine"),
            "subspace_similarity": found.truth("subspace_similarity"),
            "generator": s["generators"][0],
            "basis": str(found.basis),
            "basis_digest": found.digest,
            "discovery_seconds": s["wall_time_s"],
            "seed_cosines": found.per_seed("mean_channel_cosine"),
            "chosen_seed": s["chosen_seed"],
        }
    data = task.load(seed, False)
    fit = dict(
        epochs=cfg.get("discovery_epochs", task.epochs),
        steps_per_epoch=task.steps_per_epoch,
        truth=data.truth,
        progress=False,
    )
    if method == "augerino":
        gan = AugerinoPlus(8, mask=masks.nbody_blocks(2), rep_y="standard", seed=seed,
                           device=device)  # fmt: skip
        result, extra = gan.fit(data.x, data.y, **fit), {}
    elif method == "symmetrygan":
        gan = SymmetryGAN(8, mask=masks.nbody_blocks(2), rep_y="standard", seed=seed,
                          device=device)  # fmt: skip
        result = gan.fit(data.x, data.y, **fit)
        extra = {"element": result.elements[0].tolist()}
    else:
        raise ValueError(f"unknown discovery method {method!r}")
    seconds = time.perf_counter() - t0
    folder.mkdir(parents=True, exist_ok=True)
    result.save(folder / "basis.pt")
    sim = result.compare(data.truth)
    return {
        "cosine": sim["mean_channel_cosine"],
        "subspace_similarity": sim["subspace_similarity"],
        "generator": result.generators[0].to(torch.float64).tolist(),
        "basis": str(folder / "basis.pt"),
        "basis_digest": _common.basis_digest(folder / "basis.pt"),
        "discovery_seconds": seconds,
        **extra,
    }


def _train(row: dict, cfg: dict, basis: Path, run_dir: Path, seed: int, device: str) -> dict:
    from liegnn.training.experiments import train_nbody

    m = row["method"]
    symmetry = {"mlp": "none", "truth": "euclidean"}.get(m, f"discovered:{basis}")
    t0 = time.perf_counter()
    summary = train_nbody(
        symmetry,
        model=row["model"],
        augment=row["augment"],
        preset=cfg["preset"],
        threshold=row["threshold"],
        out=run_dir,
        seed=seed,
        data_seed=cfg.get("data_seed", 0),
        device=device,
        progress=False,
        root=cfg.get("root"),
        n_trajectories=cfg["n_trajectories"],
        **cfg["train"],
    )
    return {
        "test_mse": summary["test"]["mse"],
        "test_mae": summary["test"]["mae"],
        "best_epoch": summary["best"]["epoch"],
        "n_parameters": summary["n_parameters"],
        "train_seconds": time.perf_counter() - t0,
    }


def run_row(
    row: dict, cfg: dict, out: Path, *, seed: int = 0, device: str = "cpu", workers: int = 1
) -> dict:
    """Run one row (or return its cached result from ``out/rows/<name>.json`` when it was done
    with the same settings and, for a row trained on a discovered basis, the same basis).
    A LieGAN discovery row asks ``run_task``'s folder, which is reused while the task's recipe
    and the run's settings are the same. Errors (e.g. an EMLP with no equivariant basis) are
    recorded."""
    out = Path(out)
    cache = out / "rows" / f"{row['name']}.json"
    basis = out / "bases" / row["method"] / "basis.pt"
    # discovery does not depend on the prediction settings
    used = {k: v for k, v in cfg.items() if k != "train"} if row["kind"] == "discover" else cfg
    key = {"row": row, "config": used, "seed": seed}
    trained_on_basis = row["kind"] == "train" and row["method"] in METHODS
    if trained_on_basis and basis.is_file():
        key["basis"] = _common.basis_digest(basis)
    liegan = row["kind"] == "discover" and row["method"] in ("liegan", "liegan_nomask")
    if cache.is_file() and not liegan:
        saved = json.loads(cache.read_text())
        if saved.get("key") == json.loads(json.dumps(key)):
            return saved
    try:
        if row["kind"] == "discover":
            res = _discover(row["method"], cfg, basis.parent, seed, device, workers)
        else:
            if trained_on_basis and not basis.is_file():
                raise FileNotFoundError(f"no basis for {row['method']}: run its discovery row")
            run_dir = out / "runs" / f"{row['name']}-{_common.digest(key, 8)}"
            res = _train(row, cfg, basis, run_dir, seed, device)
    except (ValueError, RuntimeError, FileNotFoundError) as err:
        res = {"error": f"{type(err).__name__}: {err}"}
    saved = {"key": key, **row, **res}
    atomic_write_json(saved, cache)
    return saved


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    return f"{v:.2e}" if abs(v) < 1e-2 or abs(v) >= 1e3 else f"{v:.4g}"


def table(done: dict[str, dict]) -> str:
    """Markdown table: one line per symmetry, measured and paper's numbers side by side."""

    def mse(name):
        r = done.get(name)
        if r is None:
            return "–"
        return "error" if "error" in r else _fmt(r["test_mse"])

    lines = [
        "| symmetry | cosine (paper) | EMLP cut auto | EMLP cut 5e-3 | EMLP (paper) | "
        "augmentation | augmentation (paper) |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in (*METHODS, "truth", "mlp"):
        d = done.get(f"discover-{m}", {})
        cos = "1" if m == "truth" else "–"
        if m in METHODS:
            cos = f"{d['cosine']:.5f}" if "cosine" in d else "error" if "error" in d else "–"
        cos += f" ({PAPER_COSINE[m]})" if m in PAPER_COSINE else ""
        paper = PAPER[m]
        if m == "mlp":
            cells = [mse("mlp-none"), "–", _fmt(paper[0]), "–", "–"]
        else:
            cut5 = "–" if m == "truth" else mse(f"emlp-{m}-cut0.005")
            cells = [mse(f"emlp-{m}-cutauto"), cut5, _fmt(paper[0]), mse(f"augment-{m}"),
                     _fmt(paper[1])]  # fmt: skip
        lines.append(f"| {LABELS[m]} | {cos} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="the paper's scale (GPU, hours)")
    p.add_argument("--quick", action="store_true", help="a smoke run of every row (seconds)")
    p.add_argument("--out", default="results/bench_nbody")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", nargs="*", help="row names to run (default all)")
    p.add_argument("--epochs", type=int, help="override the prediction epochs")
    p.add_argument("--workers", type=int, default=1, help="LieGAN seeds trained at once")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    scale = "full" if args.full else "quick" if args.quick else "cpu"
    cfg = json.loads(json.dumps(CONFIGS[scale]))
    if args.epochs:
        cfg["train"]["epochs"] = args.epochs
    out = Path(args.out)
    todo = [r for r in rows(cfg) if not args.only or r["name"] in args.only]
    done: dict[str, dict] = {}
    t0 = time.perf_counter()
    for row in todo:
        t = time.perf_counter()
        res = run_row(row, cfg, out, seed=args.seed, device=args.device, workers=args.workers)
        done[row["name"]] = res
        msg = res.get("error") or ", ".join(
            f"{k} {_fmt(res[k])}" for k in ("cosine", "test_mse", "n_parameters") if k in res
        )
        print(f"{row['name']:28s} {time.perf_counter() - t:7.1f}s  {msg}", flush=True)
        atomic_write_json(
            {
                "config": cfg,
                "seed": args.seed,
                "threads": args.threads,
                "device": args.device,
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} "
                f"CPUs, torch {torch.__version__}",
                "wall_seconds": time.perf_counter() - t0,  # of this call (cached rows: 0)
                "row_seconds": sum(
                    r.get("discovery_seconds", 0) + r.get("train_seconds", 0) for r in done.values()
                ),  # when each row was computed, cached or not
                "paper": {k: list(v) for k, v in PAPER.items()},
                "rows": done,
                "table": table(done),
            },
            out / "results.json",
        )
    print(f"\nwall time {time.perf_counter() - t0:.0f} s (cached rows count as 0)\n")
    print(table(done))
    return done


if __name__ == "__main__":
    main()
