"""The ``liegnn`` command: a thin layer over the library (it parses, calls, prints)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def _load_algebra(spec: str) -> torch.Tensor:
    """Generators from a file (saved DiscoveryResult, .npy/.npz, .pt, .safetensors) or a name."""
    from .algebra import by_name

    path = Path(spec)
    if path.exists():
        from .discovery.result import load_generators

        return load_generators(path)
    try:
        return by_name(spec)
    except ValueError as err:
        raise SystemExit(
            f"liegnn: {spec!r} is neither a file nor a known algebra ({err})"
        ) from None


def _print_matrix(M: torch.Tensor, indent: str = "  ") -> None:
    for row in M.tolist():
        print(indent + " ".join(f"{v:+.4f}" for v in row))


def cmd_metric(args: argparse.Namespace) -> int:
    from .metric import metric_similarity, solve_metric

    L = _load_algebra(args.basis)
    tol = args.tol if args.tol == "auto" else float(args.tol)
    info = solve_metric(L, return_info=True, tol=tol)
    print(f"generators: {tuple(L.shape)}")
    print(f"invariant metrics: {info.nullity}   residual: {info.residual:.3e}")
    for k, J in enumerate(info.metrics):
        print(f"J[{k}] =")
        _print_matrix(J)
    summary = {
        "generators_shape": list(L.shape),
        "nullity": info.nullity,
        "residual": info.residual,
        "metric": info.J.tolist(),
        "metrics": info.metrics.tolist(),
        "relative_singular_values": info.singular_values.tolist(),
    }
    for ref in args.compare:
        cos = metric_similarity(info.J, ref)
        summary[f"similarity_{ref}"] = cos
        print(f"|cosine| with {ref}: {cos:.6f}")
    if args.json:
        from ._atomic import atomic_path

        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(summary, indent=2))
        print(f"wrote {args.json}")
    return 0


def cmd_basis(args: argparse.Namespace) -> int:
    from .nullspace import equivariant_basis
    from .reps import parse_rep

    try:
        rep_in, rep_out = parse_rep(args.rep_in), parse_rep(args.rep_out)
    except ValueError as err:
        raise SystemExit(f"liegnn: {err}") from None
    L = _load_algebra(args.algebra).to(torch.float64)
    if args.noise > 0:
        gen = torch.Generator().manual_seed(args.seed)
        L = L + args.noise * torch.randn(L.shape, generator=gen, dtype=L.dtype)
    H = None
    if args.parity:
        H = -torch.eye(L.shape[-1], dtype=L.dtype)[None]
    threshold = args.threshold if args.threshold == "auto" else float(args.threshold)
    info = equivariant_basis(
        rep_in, rep_out, L, discrete_generators=H, threshold=threshold, return_info=True
    )
    n_in, n_out = rep_in.dim(L), rep_out.dim(L)
    print(f"{rep_in} -> {rep_out} under {args.algebra} (n = {L.shape[-1]}, noise {args.noise:g})")
    print(
        f"weight space {n_out} x {n_in} = {n_out * n_in}; equivariant maps: {info.basis.shape[1]}"
    )
    for pair in info.pairs:
        small = pair.relative_singular_values[: pair.rank + 3].tolist()
        print(
            f"  {pair.rep_in} -> {pair.rep_out}: {pair.rank} maps, cut {pair.cut:.2e}, "
            f"smallest relative singular values " + " ".join(f"{v:.1e}" for v in small)
        )
    if args.save:
        from ._atomic import atomic_path

        with atomic_path(args.save) as tmp:
            torch.save({"basis": info.basis}, tmp)
        print(f"wrote {args.save}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .training.experiments import run

    kwargs = {
        "preset": args.preset,
        "augment": args.augment,
        "seed": args.seed,
        "data_seed": args.data_seed,
        "device": args.device,
        "resume": not args.no_resume,
        "progress": not args.no_progress,
    }
    optional = {
        "out": args.out,
        "root": args.root,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "warmup_epochs": args.warmup_epochs,
        "grad_clip": args.grad_clip,
    }
    if args.deterministic:
        optional["deterministic"] = True
    per_task = {
        "toptag": {
            "data": args.data,
            "n_jets": args.n_jets,
            "max_constituents": args.max_constituents,
            "augment_scale": args.augment_scale,
        },
        "qm9": {"target": args.target, "source": args.source, "subset": args.subset},
        "nbody": {
            "model": args.model,
            "n_trajectories": args.n_trajectories,
            "threshold": None
            if args.threshold is None
            else (args.threshold if args.threshold == "auto" else float(args.threshold)),
        },
    }
    optional.update(per_task[args.task])
    kwargs.update({k: v for k, v in optional.items() if v is not None})
    symmetry = (
        args.symmetry
        or {"toptag": "minkowski", "qm9": "euclidean", "nbody": "euclidean"}[args.task]
    )
    try:
        result = run(args.task, symmetry, **kwargs)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f"liegnn train: {err}") from None
    print(f"{result['model']} on {args.task} ({result['symmetry']}), test metrics:")
    print(json.dumps(result["test"], indent=2, default=str))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(out=Path(args.out), seed=args.seed, device=args.device, quick=args.quick)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liegnn",
        description="Discover the symmetries of data (LieGAN) and use them in equivariant "
        "graph networks (LieGNN).",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"liegnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "demo",
        help="discover the 2-body rotation, solve its metric, train a LieGNN with it",
        description="The main job on an embedded default: LieGAN discovers the rotation "
        "symmetry of 2-body orbits, solve_metric turns it into an invariant metric, and a LieGNN "
        "built on that metric learns the orbits' energy. Writes the basis, a heatmap and a JSON "
        "summary to --out.",
    )
    p.add_argument("--out", default="results/demo", help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="a smaller run for smoke tests")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "metric",
        help="the metric tensor J preserved by a Lie algebra basis (solve_metric)",
        description="Solve L_i^T J + J L_i = 0 for a symmetric J in closed form and print "
        "every invariant metric with its residual.",
    )
    p.add_argument(
        "basis",
        help="generators: a file (saved discovery result, .npy/.npz, .pt, .safetensors) or a "
        "known algebra name such as 'lorentz', 'so(3)', 'so(2,2)'",
    )
    p.add_argument("--tol", default="auto", help="'auto' or a relative singular-value cut")
    p.add_argument(
        "--compare",
        action="append",
        default=[],
        choices=["minkowski", "euclidean"],
        help="print the |cosine| of J with this reference metric (repeatable)",
    )
    p.add_argument("--json", help="write a JSON summary here")
    p.set_defaults(func=cmd_metric)

    p = sub.add_parser(
        "basis",
        help="the equivariant linear maps between two representations (equivariant_basis)",
        description="Solve dρ_out(L) W = W dρ_in(L) for every generator L and print the number "
        "of equivariant maps with the singular values around the cut.",
    )
    p.add_argument("rep_in", help="input representation, e.g. 'V*V' or 'V**2 + Scalar'")
    p.add_argument("rep_out", help="output representation, e.g. 'V'")
    p.add_argument("--algebra", required=True, help="generators: a file or a name ('so(3)')")
    p.add_argument("--parity", action="store_true", help="add −I as a discrete generator")
    p.add_argument("--threshold", default="auto", help="'auto' or a relative cut (float)")
    p.add_argument("--noise", type=float, default=0.0, help="add Gaussian noise to every entry")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default: 0)")
    p.add_argument("--save", help="write the basis (dim_out·dim_in, r) to this .pt file")
    p.set_defaults(func=cmd_basis)

    p = sub.add_parser(
        "train",
        help="train LieGNN / EMLP / baselines on top tagging, QM9 or N-body",
        description="Train a model with a known, discovered or no symmetry; writes checkpoints "
        "(resumable) and metrics.json to --out. Multi-process: torchrun --nproc_per_node=K "
        "$(which liegnn) train ...",
    )
    p.add_argument("task", choices=["toptag", "qm9", "nbody"])
    p.add_argument(
        "--symmetry",
        help="none, minkowski, euclidean or discovered:PATH (default: minkowski for toptag, "
        "euclidean otherwise)",
    )
    p.add_argument("--preset", choices=["cpu", "full"], default="cpu")
    p.add_argument("--augment", action="store_true", help="Eq. 11 data augmentation")
    p.add_argument("--out", help="output folder (default: runs/<task>-<symmetry>-seed<seed>)")
    p.add_argument("--seed", type=int, default=0, help="weights and training seed")
    p.add_argument("--data-seed", type=int, default=0, help="data generation and split seed")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: %(default)s)")
    p.add_argument("--no-resume", action="store_true", help="start over even if --out has a run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--root", help="data cache folder")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--warmup-epochs", type=int)
    p.add_argument("--grad-clip", type=float)
    p.add_argument("--deterministic", action="store_true", help="deterministic CUDA kernels")
    g = p.add_argument_group("toptag")
    g.add_argument("--data", help="folder with train/val/test.h5 or one file (else: Pythia 8)")
    g.add_argument("--n-jets", type=int)
    g.add_argument("--max-constituents", type=int)
    g.add_argument("--augment-scale", type=float)
    g = p.add_argument_group("qm9")
    g.add_argument("--target", help="property name (default: homo)")
    g.add_argument("--source", help="qm9pack or a torch_geometric QM9 root")
    g.add_argument("--subset", type=int, help="use this many molecules")
    g = p.add_argument_group("nbody")
    g.add_argument("--model", choices=["auto", "emlp", "mlp"])
    g.add_argument("--n-trajectories", type=int)
    g.add_argument("--threshold", help="EMLP's cut: 'auto' or a float")
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
