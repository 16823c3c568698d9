"""QM9, Table 5 of the LieGAN paper: discover se(3), then augment a non-equivariant model with it.

1. The ``qm9`` discovery task through :func:`liegnn.discovery.tasks.run_task` (its recipe: QM9
   atoms in affine coordinates (x, y, z, 1), 6 channels, affine mask, a discriminator that
   reads the atoms and the distances of atom pairs; its seeds, ``select_best``): the found
   basis, its subspace similarity with se(3) and its rotation / translation parts (the task's
   check). Files in ``<out>/discovery/``. ``--discriminator deepsets``: the earlier recipe
   (single atoms only), which finds a stretched so(3).
2. HOMO and LUMO regression (L1; MAE in meV on the held-out split), same molecules and budget:
   - ``none``: Deep Sets on centred coordinates (the non-equivariant model, ``train_qm9("none")``;
     ``--baseline mpnn``: VectorMPNN, message passing on the raw relative vectors);
   - ``liegan``: the same trained with Eq. 11 augmentation by the discovered basis, g drawn from
     LieGAN's own distribution exp(Σ w_i L_i), w ~ N(0, 1), at the found scale;
   - ``se3``: the same augmented by the true se(3) (rotations uniform, w ~ U[−π, π] per unit
     channel; translations are removed by the model's centring);
   - ``liegnn``: LieGNN with J = I (EGNN's layer), equivariant reference;
   - ``e3nn``: the e3nn gate network (:class:`liegnn.nn.e3nn_gate.E3nnGateNetwork`), equivariant
     reference;
   - ``schnet``: PyG's SchNet (:class:`liegnn.training.schnet.SchNetRegressor`), invariant
     reference, its width chosen so that its parameter count is closest to the ``e3nn`` row's
     network (both counts in ``results["parameter_match"]``).
3. Right after discovery: how far the ``liegan`` and ``se3`` rows' augmentations stretch bonds
   (:func:`liegnn.training.experiments.qm9.augmentation_bond_lengths`: pairs closer than 1.6 Å
   in 1000 training molecules, relative change |d' − d| / d under g drawn as in training), in
   ``results["bond_lengths"]``; se(3) must leave them unchanged up to float32 rounding.

Results go to ``<out>/results.json`` (atomic, rewritten after every row); finished rows with the
same settings and the same discovered basis are read back, so a rerun skips them, and the
discovery is reused while its settings (the task's recipe included) are unchanged. Training runs
live in ``<out>/runs/<target>-<row>-<hash>`` and resume after a kill.

    python benchmarks/bench_qm9.py                      # CPU default, 1 thread
    python benchmarks/bench_qm9.py --workers 2          # discovery seeds in 2 processes
    python benchmarks/bench_qm9.py --full --device cuda # the paper's scale (not run here)
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from liegnn._atomic import atomic_write_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  (benchmarks/_common.py: the shared discovery stage)

ROWS = ("none", "liegan", "se3", "liegnn", "e3nn", "schnet")
ROW_NAMES = {
    "none": "Deep Sets, no symmetry",
    "liegan": "Deep Sets + LieGAN augmentation",
    "se3": "Deep Sets + SE(3) augmentation",
    "liegnn": "LieGNN (J = I)",
    "e3nn": "e3nn gate network",
    "schnet": "PyG SchNet (parameter-matched)",
}
#: bonded pairs: closer than this (Å); molecules of the training split measured
BOND_CUTOFF, BOND_MOLECULES = 1.6, 1000
#: Table 5 (meV): no symmetry, LieGAN, SE(3) (the third column; the equivariant references
#: are not in the paper's table)
PAPER = {
    "homo": {"none": 52.7, "liegan": 43.5, "se3": 36.5},
    "lumo": {"none": 43.5, "liegan": 36.4, "se3": 29.8},
}

#: CPU default (fits about 20 min on one quiet thread) and the published scale. ``discovery``
#: changes only the qm9 task's run length (epochs, steps_per_epoch: None = every batch, seeds);
#: the recipe and the molecules are the task's.
CONFIGS = {
    "cpu": dict(
        discovery=dict(),  # the qm9 task's: 4000 molecules, 8 epochs x 50 steps, 2 seeds
        train=dict(preset="cpu", subset=3000, batch_size=32, lr=1e-3, warmup_epochs=1),
        models=dict(
            deepsets=dict(hidden=64, n_layers=4, epochs=20),
            mpnn=dict(hidden=32, n_layers=2, epochs=6),
            liegnn=dict(hidden=32, n_layers=3, epochs=8),
            e3nn=dict(hidden=8, n_layers=2, epochs=8),
            schnet=dict(n_layers=3, epochs=8),  # hidden: parameter-matched to e3nn
        ),
    ),
    "full": dict(
        discovery=dict(epochs=100, steps_per_epoch=None, seeds=3),  # the task's molecules
        train=dict(preset="full", subset=None),
        models=dict(
            deepsets=dict(hidden=128, n_layers=4, epochs=1000),
            mpnn=dict(hidden=128, n_layers=7, epochs=1000),
            liegnn=dict(hidden=128, n_layers=7, epochs=1000),
            e3nn=dict(hidden=64, n_layers=4, epochs=1000),
            schnet=dict(n_layers=6, epochs=1000),  # hidden: parameter-matched to e3nn
        ),
    ),
}


def discover(cfg: dict, out: Path, args: argparse.Namespace) -> dict:
    """The qm9 discovery task through ``run_task`` (reused while its settings are the same)."""
    from liegnn.discovery.tasks import discovery_task
    from liegnn.discovery.tasks.qm9 import qm9_task

    # the registered task (pairwise discriminator), or the earlier DeepSets recipe
    task = (
        discovery_task("qm9")
        if args.discriminator == "pairwise"
        else qm9_task(discriminator=args.discriminator)
    )
    if "steps_per_epoch" in cfg:
        task = replace(task, steps_per_epoch=cfg["steps_per_epoch"])
    found = _common.discover(
        task,
        out / "discovery",
        seed=args.seed,
        seeds=cfg.get("seeds"),
        epochs=cfg.get("epochs"),
        quick=args.quick,
        workers=args.workers,
        device=args.device,
        progress=args.progress,
    )
    s = found.summary
    return {
        "basis": str(found.basis),
        "basis_digest": found.digest,
        "key": found.key,
        "cached": found.cached,
        "molecules": s["data"]["molecules"],
        "seed_similarities": found.per_seed("subspace_similarity"),
        "selected_seed": s["chosen_seed"],
        "subspace_similarity": found.truth("subspace_similarity"),
        "channel_cosine": found.truth("channel_cosine"),
        **s["check"],
        "generators": s["generators"],
        "wall_s": s["wall_time_s"],
    }


def row_arguments(row: str, basis: str, cfg: dict, baseline: str = "deepsets") -> dict:
    """``train_qm9`` keyword arguments of one row; ``baseline``: the non-equivariant model of
    the rows none / liegan / se3 (``"deepsets"``, train_qm9's ``none`` model, or ``"mpnn"``)."""
    models = cfg["models"]
    plain = dict(models[baseline], **({"model": "mpnn"} if baseline == "mpnn" else {}))
    if row == "none":
        return dict(symmetry="none", **plain)
    if row == "liegan":
        options = dict(distribution="normal", scale=1.0, normalize=False)
        return dict(symmetry=f"discovered:{basis}", augment=True, augment_options=options, **plain)
    if row == "se3":
        return dict(symmetry="euclidean", augment=True, affine=True, **plain)
    if row == "liegnn":
        return dict(symmetry="euclidean", **models["liegnn"])
    if row == "e3nn":
        return dict(symmetry="euclidean", model="e3nn", **models["e3nn"])
    if row == "schnet":
        if "hidden" not in models["schnet"]:
            raise ValueError("the schnet row's hidden comes from parameter_match(cfg) first")
        return dict(symmetry="euclidean", model="schnet", **models["schnet"])
    raise ValueError(f"unknown row {row!r}")


def parameter_match(cfg: dict) -> dict:
    """The schnet row's width: the parameter count of SchNet with the config's ``n_layers``
    closest to that of the e3nn row's network (as ``train_qm9`` builds both)."""
    from liegnn.nn.graphs import MoleculeGraph
    from liegnn.training.experiments import PRESETS
    from liegnn.training.experiments.qm9 import reference_network
    from liegnn.training.schnet import schnet_hidden_for_budget

    def count(model: str, hidden: int, n_layers: int) -> int:
        net = reference_network(model, scalars, hidden, n_layers)
        return sum(p.numel() for p in net.parameters())

    preset = cfg["train"]["preset"]
    scalars = MoleculeGraph(charge_power=PRESETS["qm9"][preset]["charge_power"]).num_scalars
    e3nn, schnet = cfg["models"]["e3nn"], cfg["models"]["schnet"]
    target = count("e3nn", e3nn["hidden"], e3nn["n_layers"])
    hidden = schnet_hidden_for_budget(target, n_layers=schnet["n_layers"])
    return {
        "e3nn_parameters": target,
        "e3nn_hidden": e3nn["hidden"],
        "e3nn_n_layers": e3nn["n_layers"],
        "schnet_parameters": count("schnet", hidden, schnet["n_layers"]),
        "schnet_hidden": hidden,
        "schnet_n_layers": schnet["n_layers"],
    }


def bond_lengths(basis: str, cfg: dict, args: argparse.Namespace) -> dict:
    """Relative bond-length change under the liegan and se3 rows' augmentations."""
    from liegnn.training.experiments.qm9 import augmentation_bond_lengths

    out = {}
    for row in ("liegan", "se3"):
        kw = row_arguments(row, basis, cfg, args.baseline)
        out[row] = augmentation_bond_lengths(
            kw["symmetry"],
            affine=kw.get("affine", False),
            augment_options=kw.get("augment_options"),
            root=args.root,
            subset=cfg["train"]["subset"],
            molecules=BOND_MOLECULES,
            seed=args.seed,
            bond_cutoff=BOND_CUTOFF,
        )
    # se(3) is an isometry: only float32 rounding may change a bond
    out["se3_isometry_check"] = out["se3"]["max"] < 1e-5
    return out


def _percent(stats: dict) -> str:
    return (
        f"median {100 * stats['median']:.3g} %, p90 {100 * stats['p90']:.3g} %, "
        f"max {100 * stats['max']:.3g} %, > {100 * stats['threshold']:.0f} %: "
        f"{100 * stats['fraction_above']:.3g} % of bonds"
    )


def _row_name(target: str, row: str, baseline: str) -> str:
    augmentable = row in ("none", "liegan", "se3")
    return f"{target}/{row}" + (f"@{baseline}" if augmentable and baseline != "deepsets" else "")


def print_table(results: dict, targets) -> None:
    names = [(r, "deepsets") for r in ROWS] + [(r, "mpnn") for r in ("none", "liegan", "se3")]
    head = (
        "| model | " + " | ".join(f"{t.upper()} (meV) | paper" for t in targets) + " | parameters |"
    )
    print(head)
    print("|" + "---|" * (2 + 2 * len(targets)))
    for r, base in names:
        entries = [results["rows"].get(_row_name(t, r, base)) for t in targets]
        if not any(entries):
            continue
        cells, params = [], "–"
        for t, entry in zip(targets, entries, strict=True):
            cell = "–"
            if entry:
                cell = f"{entry['mae_meV']:.1f}"
                if "train_mae_meV" in entry:  # train / val of the best-validation weights
                    cell += f" (train {entry['train_mae_meV']:.0f}, val {entry['val_mae_meV']:.0f})"
            cells.append(cell)
            cells.append(f"{PAPER[t][r]}" if r in PAPER.get(t, {}) else "–")
            params = f"{entry['n_parameters']:,}" if entry else params
        label = ROW_NAMES[r].replace("Deep Sets", "VectorMPNN") if base == "mpnn" else ROW_NAMES[r]
        print(f"| {label} | " + " | ".join(cells) + f" | {params} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--full", action="store_true", help="the paper's scale (GPU; not a CPU job)")
    p.add_argument("--targets", nargs="+", default=["homo", "lumo"])
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    p.add_argument(
        "--discriminator",
        choices=["pairwise", "deepsets"],
        default="pairwise",
        help="discovery's discriminator: pairwise (the qm9 task's) or deepsets (the earlier "
        "recipe, which finds a stretched so(3))",
    )
    p.add_argument(
        "--baseline",
        choices=["deepsets", "mpnn"],
        default="deepsets",
        help="non-equivariant model of the rows none / liegan / se3",
    )
    p.add_argument("--subset", type=int, help="training molecules (default: the config's)")
    p.add_argument("--epochs-scale", type=float, default=1.0, help="multiply every model's epochs")
    p.add_argument("--hidden", type=int, help="width of the rows' non-equivariant model")
    p.add_argument("--n-layers", type=int, help="layers of the rows' non-equivariant model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--train-seed",
        type=int,
        default=None,
        help="seed of the trainings (default: --seed, which also seeds the discovery)",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=1, help="discovery seeds trained at once")
    p.add_argument(
        "--quick", action="store_true", help="the qm9 task's quick discovery (smoke runs)"
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--root", help="dataset cache folder (default: ~/.cache/liegnn)")
    p.add_argument("--out", default="results/bench_qm9")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from liegnn.training.experiments import train_qm9

    cfg = json.loads(json.dumps(CONFIGS["full" if args.full else "cpu"]))
    if args.subset is not None:
        cfg["train"]["subset"] = args.subset
    for m in cfg["models"].values():
        m["epochs"] = max(1, math.ceil(m["epochs"] * args.epochs_scale))
    for key in ("hidden", "n_layers"):
        if getattr(args, key) is not None:
            cfg["models"][args.baseline][key] = getattr(args, key)
    match = parameter_match(cfg)
    cfg["models"]["schnet"]["hidden"] = match["schnet_hidden"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    file = out / "results.json"
    results = json.loads(file.read_text()) if file.exists() else {}
    meta = dict(
        command=" ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        machine=platform.processor() or platform.machine(),
        cpu_count=__import__("os").cpu_count(),
        threads=args.threads,
        device=args.device,
        torch=torch.__version__,
        config=cfg,
    )
    results.setdefault("rows", {})
    results["meta"] = meta
    results["parameter_match"] = match
    start = time.perf_counter()

    print("discovery: the qm9 task (LieGAN on QM9 atoms, affine, 6 channels)", flush=True)
    d = discover(cfg["discovery"], out, args)
    results["discovery"] = d
    results["rows"] = {  # rows trained on another discovered basis are stale
        k: v
        for k, v in results["rows"].items()
        if v.get("basis_digest") in (None, d["basis_digest"])
    }
    atomic_write_json(results, file, indent=1)
    sims = ", ".join(f"{v:.3f}" for v in d["seed_similarities"])
    print(
        f"discovery: {'reused' if d['cached'] else 'done'}; per seed similarity with se(3) "
        f"{sims}, selected seed {d['selected_seed']}",
        flush=True,
    )
    print(
        f"found basis: subspace similarity with se(3) {d['subspace_similarity']:.3f}, "
        f"linear part vs so(3) {d['rotation_similarity']:.3f}, skew share "
        f"{d['skew_fraction']:.3f}, translation share {d['translation_fraction']:.3f} "
        f"(rank {d['translation_rank']})",
        flush=True,
    )
    b = bond_lengths(d["basis"], cfg, args)
    results["bond_lengths"] = b
    atomic_write_json(results, file, indent=1)
    print(
        f"bond lengths ({b['se3']['n_bonds']:,} pairs < {BOND_CUTOFF} Å in "
        f"{b['se3']['n_graphs']} training molecules), |d' - d| / d under g:",
        flush=True,
    )
    for row in ("liegan", "se3"):
        print(f"  {row}: {_percent(b[row])}", flush=True)
    if not b["se3_isometry_check"]:
        print("  CHECK FAILED: se(3) augmentation changes bond lengths", flush=True)
    print(
        f"schnet row: hidden {match['schnet_hidden']} ({match['schnet_parameters']:,} "
        f"parameters) matched to the e3nn row's {match['e3nn_parameters']:,}",
        flush=True,
    )

    for target in args.targets:
        for row in args.rows:
            kw = row_arguments(row, d["basis"], cfg, args.baseline)
            train_seed = args.seed if args.train_seed is None else args.train_seed
            settings = dict(kw, **cfg["train"], target=target, seed=train_seed)
            # a row trained on the discovered basis is keyed on its values too
            basis = d["basis_digest"] if str(kw["symmetry"]).startswith("discovered:") else None
            key = _common.digest([settings, basis])
            name = _row_name(target, row, args.baseline)
            done = results["rows"].get(name)
            if done is not None and done.get("key") == key:
                print(f"{name}: cached, {done['mae_meV']:.1f} meV", flush=True)
                continue
            t0 = time.perf_counter()
            r = train_qm9(
                **kw,
                **cfg["train"],
                target=target,
                seed=train_seed,
                device=args.device,
                root=args.root,
                out=out / "runs" / f"{name.replace('/', '-').replace('@', '-')}-{key}",
                progress=args.progress,
            )
            wall = time.perf_counter() - t0
            results["rows"][name] = {
                "key": key,
                "basis_digest": basis,
                "model": r["model"],
                "mae_meV": r["test"]["mae_meV"],
                # the best-validation weights on the (un-augmented) training molecules and on
                # the validation split: the gap shows whether the model over- or underfits
                "train_mae_meV": r["train"]["mae_meV"],
                "val_mae_meV": r["best"]["val"]["mae_meV"],
                "best_epoch": r["best"]["epoch"],
                "epochs": r["epochs_completed"],
                "n_parameters": r["n_parameters"],
                **({"e3nn_parameters": match["e3nn_parameters"]} if row == "schnet" else {}),
                "n_train": r["n_train"],
                "n_test": r["n_test"],
                "settings": settings,
                "wall_s": wall,
            }
            atomic_write_json(results, file, indent=1)
            print(
                f"{name}: test {r['test']['mae_meV']:.1f} meV, train {r['train']['mae_meV']:.1f}, "
                f"val {r['best']['val']['mae_meV']:.1f} ({wall:.0f} s)",
                flush=True,
            )
    results["wall_s_this_run"] = time.perf_counter() - start
    atomic_write_json(results, file, indent=1)
    print()
    print_table(results, args.targets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
