"""The ``liegnn`` command: a thin layer over the library (it parses, calls, prints)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from pathlib import Path
from typing import NoReturn

import torch


def _fail(command: str, message) -> NoReturn:
    """Stop with ``liegnn COMMAND: MESSAGE`` on one line (exit status 1, no traceback)."""
    raise SystemExit(f"liegnn {command}: {' '.join(str(message).split())}")


def _file_read_errors() -> tuple[type[Exception], ...]:
    """What reading a corrupt generators file raises besides ValueError: numpy's zip and EOF
    errors, a string array's TypeError, safetensors' own error (when installed)."""
    import zipfile

    errors: list[type[Exception]] = [OSError, EOFError, TypeError, zipfile.BadZipFile]
    try:
        from safetensors import SafetensorError

        errors.append(SafetensorError)
    except ImportError:
        pass
    return tuple(errors)


def _load_symmetry(spec: str, command: str):
    """A :class:`~liegnn.Symmetry` from a file (saved Symmetry or DiscoveryResult, .npy/.npz,
    .pt, .safetensors) or a known algebra's name; a one-line exit when neither works."""
    from .symmetry import Symmetry

    path = Path(spec)
    if path.exists():
        try:
            return Symmetry.load(path)
        except ValueError as err:
            _fail(command, err)
        except _file_read_errors() as err:
            _fail(command, f"cannot read {path} ({type(err).__name__}: {err or 'no detail'})")
    try:
        return Symmetry.known(spec)
    except ValueError as err:
        _fail(command, f"{spec!r} is neither a file nor a known algebra ({err})")


def _cut(command: str, option: str, text: str) -> float | str:
    """A singular-value cut: ``'auto'`` or a finite float >= 0, else a one-line exit."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        _fail(command, f"{option} must be 'auto' or a number >= 0, got {text!r}")
    return value


def _device(command: str, device: str, *, auto: bool = False) -> str:
    """Every command's ``--device``, checked before any work: ``cpu``, ``cuda``, ``cuda:K``
    (and ``auto`` where the command picks CUDA when present)."""
    if auto and device == "auto":
        return device
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        kinds = "cpu, cuda, cuda:K or auto" if auto else "cpu, cuda or cuda:K"
        _fail(command, f"unknown device {device!r}; use {kinds}")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            _fail(command, f"--device {device}: CUDA is not available on this machine")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            _fail(command, f"--device {device}: there are {torch.cuda.device_count()} CUDA devices")
    return device


def _out_folder(command: str, out: str | None) -> None:
    """Exit when ``--out`` (or a folder above it) exists and is not a folder."""
    if out is None:
        return
    for folder in (Path(out), *Path(out).parents):
        if folder.exists():
            if not folder.is_dir():
                _fail(command, f"--out {out}: {folder} is a file, not a folder")
            return


def _print_matrix(M: torch.Tensor, indent: str = "  ") -> None:
    for row in M.tolist():
        print(indent + " ".join(f"{v:+.4f}" for v in row))


def cmd_metric(args: argparse.Namespace) -> int:
    from .metric import metric_similarity

    tol = _cut("metric", "--tol", args.tol)
    symmetry = _load_symmetry(args.basis, "metric")
    L = symmetry.generators
    try:
        info = symmetry.metric(return_info=True, tol=tol)
    except ValueError as err:
        _fail("metric", err)
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
        from .io import atomic_write_json

        atomic_write_json(summary, args.json, indent=2)
        print(f"wrote {args.json}")
    return 0


def cmd_basis(args: argparse.Namespace) -> int:
    from .nullspace import equivariant_basis
    from .reps import parse_rep

    try:
        rep_in, rep_out = parse_rep(args.rep_in), parse_rep(args.rep_out)
    except ValueError as err:
        _fail("basis", err)
    if not (math.isfinite(args.noise) and args.noise >= 0):
        _fail("basis", f"--noise must be a finite number >= 0, got {args.noise:g}")
    threshold = _cut("basis", "--threshold", args.threshold)
    symmetry = _load_symmetry(args.algebra, "basis").to(torch.float64)
    L = symmetry.generators
    if args.noise > 0:
        gen = torch.Generator().manual_seed(args.seed)
        L = L + args.noise * torch.randn(L.shape, generator=gen, dtype=L.dtype)
    H = symmetry.discrete
    if args.parity:
        parity = -torch.eye(L.shape[-1], dtype=L.dtype)[None]
        H = parity if H is None else torch.cat([H, parity])
    try:
        info = equivariant_basis(
            rep_in, rep_out, L, discrete_generators=H, threshold=threshold, return_info=True
        )
    except ValueError as err:
        _fail("basis", err)
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
        from .io import atomic_torch_save

        atomic_torch_save({"basis": info.basis}, args.save)
        print(f"wrote {args.save}")
    return 0


#: the options of one task only (the argument groups of ``liegnn train``), and ``--model``'s
#: choices per task (``train_qm9(model=...)``, ``train_nbody(model=...)``)
_TASK_OPTIONS = {
    "toptag": (
        "data",
        "n_jets",
        "n_train",
        "max_constituents",
        "augment_scale",
        "metric",
        "flip_metric_sign",
        "learnable_metric",
        "node_scalars",
        "model",
    ),
    "qm9": ("target", "source", "subset", "affine", "model"),
    "nbody": ("n_trajectories", "threshold", "model"),
}
_MODELS = {
    "toptag": ("auto", "liegnn", "pelican", "lgatr", "lloca"),
    "qm9": ("auto", "e3nn", "mpnn", "schnet"),
    "nbody": ("auto", "mlp", "emlp"),
}


def _check_task_options(args: argparse.Namespace) -> None:
    """Exit when an option of another task is given (it would be ignored) or ``--model`` does
    not fit the task."""
    mine = set(_TASK_OPTIONS[args.task])
    for options in _TASK_OPTIONS.values():
        for name in options:
            value = getattr(args, name)
            if name not in mine and value is not None and value is not False:
                flag = "--" + name.replace("_", "-")
                owners = " and ".join(t for t, o in _TASK_OPTIONS.items() if name in o)
                _fail("train", f"{flag} is a {owners} option, not one of {args.task}")
    if args.model is not None and args.model not in _MODELS[args.task]:
        _fail(
            "train",
            f"--model {args.model} is not a {args.task} model; {args.task} takes "
            + ", ".join(_MODELS[args.task]),
        )


def _given_metric(args: argparse.Namespace):
    """``--metric PATH`` read safely (:func:`~liegnn.training.symmetry.load_metric`), negated
    with ``--flip-metric-sign``; a one-line exit for a bad file."""
    from .training.symmetry import load_metric

    if args.metric is None:
        if args.flip_metric_sign:
            _fail("train", "--flip-metric-sign needs --metric")
        return None
    if args.symmetry is not None:
        _fail("train", "give either --symmetry or --metric, not both")
    try:  # checked before any work
        J = load_metric(args.metric, flip_sign=args.flip_metric_sign)
    except (ValueError, FileNotFoundError) as err:
        _fail("train", err)
    except _file_read_errors() as err:
        _fail("train", f"cannot read {args.metric} ({type(err).__name__}: {err or 'no detail'})")
    return J if args.flip_metric_sign else args.metric  # the path: metrics.json names the file


def cmd_train(args: argparse.Namespace) -> int:
    from .training.distributed import DistributedStartError
    from .training.experiments import run

    _check_task_options(args)
    metric = _given_metric(args) if args.task == "toptag" else None
    device = _device("train", args.device, auto=True)
    threshold = None if args.threshold is None else _cut("train", "--threshold", args.threshold)
    _out_folder("train", args.out)
    kwargs = {
        "preset": args.preset,
        "augment": args.augment,
        "seed": args.seed,
        "data_seed": args.data_seed,
        "device": device,
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
        "hidden": args.hidden,
        "n_layers": args.n_layers,
    }
    if args.deterministic:
        optional["deterministic"] = True
    per_task = {
        "toptag": {
            "data": args.data,
            "n_jets": args.n_jets,
            "n_train": args.n_train,
            "max_constituents": args.max_constituents,
            "augment_scale": args.augment_scale,
            "metric": metric,
            "learnable_metric": args.learnable_metric or None,
            "node_scalars": args.node_scalars,
            "model": args.model,
        },
        "qm9": {
            "target": args.target,
            "source": args.source,
            "subset": args.subset,
            "model": args.model,
            "affine": args.affine or None,
        },
        "nbody": {
            "model": args.model,
            "n_trajectories": args.n_trajectories,
            "threshold": threshold,
        },
    }
    optional.update(per_task[args.task])
    kwargs.update({k: v for k, v in optional.items() if v is not None})
    # toptag: None is minkowski, unless --metric or a peer --model says otherwise
    symmetry = (
        args.symmetry or {"toptag": None, "qm9": "euclidean", "nbody": "euclidean"}[args.task]
    )
    try:
        result = run(args.task, symmetry, **kwargs)
    except (ValueError, FileNotFoundError, ImportError, DistributedStartError) as err:
        _fail("train", err)
    what = result.get("symmetry") or result.get("metric_source") or "given metric"
    params = result.get("n_parameters")
    size = f", {params} parameters" if params else ""
    print(f"{result['model']} on {args.task} ({what}){size}, test metrics:")
    print(json.dumps(result["test"], indent=2, default=str))
    if result.get("metric_final") is not None:
        print("learned metric J (last epoch; metrics.json also has the best epoch's):")
        _print_matrix(torch.tensor(result["metric_final"]))
    return 0


def _print_generators(L: torch.Tensor, label: str) -> None:
    for i, M in enumerate(L):
        if M.is_complex():
            print(f"{label}[{i}] = (real part, imaginary part)")
            _print_matrix(M.real)
            print("  --")
            _print_matrix(M.imag)
        else:
            print(f"{label}[{i}] =")
            _print_matrix(M)


def _as_tensor(v) -> torch.Tensor:
    if isinstance(v, dict):  # complex, written as Re and Im
        return torch.complex(torch.tensor(v["real"]), torch.tensor(v["imag"]))
    return torch.tensor(v)


def _rounded(v, digits: int = 4):
    """Floats rounded to ``digits`` significant digits, for printing a JSON check."""
    if isinstance(v, float):
        return float(f"{v:.{digits}g}")
    if isinstance(v, dict):
        return {k: _rounded(x, digits) for k, x in v.items()}
    if isinstance(v, list):
        return [_rounded(x, digits) for x in v]
    return v


def _parse_setting(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        _fail("discover", f"--set needs KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def cmd_discover(args: argparse.Namespace) -> int:
    from .discovery.tasks import run_task

    device = _device("discover", args.device)
    if args.data is not None:
        if args.task != "toptag":
            _fail("discover", "--data is for the toptag task (a jet file)")
        from .discovery.tasks.toptag import DATA_ENV

        os.environ[DATA_ENV] = args.data  # read by the task's loader (and forked workers)
    overrides = dict(_parse_setting(t) for t in args.set)
    named = {
        "n_channels": args.channels,
        "coefficients": args.coefficients,
        "identity_weight": args.identity_weight,
        "channel_weight": args.channel_weight,
        "lr_g": args.lr_g,
        "lr_d": args.lr_d,
        "batch_size": args.batch_size,
        "hidden": args.hidden,
    }
    overrides.update({k: v for k, v in named.items() if v is not None})
    if args.u is not None:
        options = dict(overrides.get("coefficient_options") or {})
        options["u"] = int(args.u) if float(args.u).is_integer() else args.u
        overrides["coefficient_options"] = options
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = args.out or f"results/discover/{Path(args.task).stem if '.' in args.task else args.task}"
    _out_folder("discover", out)
    try:
        summary = run_task(
            args.task,
            out=out,
            seed=args.seed,
            seeds=args.seeds,
            epochs=args.epochs,
            steps_per_epoch=args.steps_per_epoch,
            quick=args.quick,
            device=device,
            progress=not args.no_progress,
            recipe=overrides,
            resume=not args.no_resume,
            file_options={"rep_x": args.rep_x, "rep_y": args.rep_y},
            workers=args.workers,
            discrete=args.discrete,
        )
    except (ValueError, FileNotFoundError) as err:
        _fail("discover", err)
    print(f"{summary['task']}: {summary['description']}")
    runs = summary["runs"]
    if len(runs) > 1:
        print(f"seeds {summary['seeds']}, chosen by select_best: {summary['chosen_seed']}")
    else:
        print(f"seed {summary['chosen_seed']}")
    _print_generators(_as_tensor(summary["generators"]), "L")
    if summary["canonical"] is None:
        print("all generators are zero: nothing was found")
    else:
        print("canonical basis of the span (reduced row echelon form):")
        _print_generators(_as_tensor(summary["canonical"]), "C")
    truth = summary["truth"]
    if truth is not None:
        line = (
            f"similarity to the truth: subspace {truth['subspace_similarity']:.4f}, "
            f"mean channel cosine {truth['mean_channel_cosine']:.4f}"
        )
        if "mae" in truth:
            line += f", MAE {truth['mae']:.4f}"
        print(line)
    if summary["check"] is not None:
        print("check:", json.dumps(_rounded(summary["check"]), default=str))
    files = "basis.pt, generators.png, summary.json"
    if "discrete" in summary:
        part = summary["discrete"]
        names = ", ".join(e["name"] for e in part["elements"][1:]) or "none besides I"
        closed = "" if part["closed"] else " (not closed: stopped at the size limit)"
        print(f"discrete part: a group of order {part['order']}{closed}; elements: {names}")
        for i, g in enumerate(part["generators"]):
            print(f"h[{i}] = {g['name']}")
            _print_matrix(torch.tensor(g["matrix"]))
        files += ", symmetry.pt"
    train = sum(r["train_time_s"] for r in runs)
    print(f"wall time {summary['wall_time_s']:.1f} s ({train:.1f} s training, {len(runs)} run(s))")
    print(f"wrote {', '.join(f'{out}/{f}' for f in files.split(', '))}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    device = _device("demo", args.device)
    _out_folder("demo", args.out)
    try:
        run_demo(out=Path(args.out), seed=args.seed, device=device, quick=args.quick)
    except (ValueError, FileNotFoundError) as err:
        _fail("demo", err)
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
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:K (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="a smaller run for smoke tests")
    p.set_defaults(func=cmd_demo)

    from .discovery.tasks import task_summaries

    tasks = "\n".join(f"  {k:<20} {v}" for k, v in task_summaries().items())
    p = sub.add_parser(
        "discover",
        help="discover the symmetry of a named task or of your data file (LieGAN)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run LieGAN on a task with its tuned recipe (several seeds, the best chosen "
        "without the truth) and write basis.pt, generators.png and summary.json to --out. An "
        "interrupted run resumes from --out/checkpoints.\n\ntasks:\n" + tasks + "\n\nor a "
        ".npz / .pt file with arrays x (N, n) or (N, T, n), optional y, truth (c, n, n), "
        "point_mask, features.",
    )
    p.add_argument("task", help="a task name (see above) or a .npz / .pt data file")
    p.add_argument("--out", help="output folder (default: results/discover/<task>)")
    p.add_argument("--seed", type=int, default=0, help="first seed; also the data seed")
    p.add_argument("--seeds", type=int, help="number of runs to choose from (default: the task's)")
    p.add_argument("--epochs", type=int, help="training epochs (default: the task's)")
    p.add_argument("--steps-per-epoch", type=int, help="batches per epoch (default: the task's)")
    p.add_argument("--quick", action="store_true", help="the task's small version (smoke tests)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:K (default: %(default)s)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument(
        "--workers", type=int, default=1, help="seeds trained at once in worker processes"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-resume", action="store_true", help="ignore checkpoints in --out")
    p.add_argument(
        "--discrete",
        action="store_true",
        help="also search the finite symmetry group (DiscreteSearch: permutations, reflections, "
        "rotations by 2π/k); adds its part to summary.json and the figure, and writes "
        "symmetry.pt (LieGAN's generators unless its run collapsed to g = I, and the discrete "
        "generators); needs targets y",
    )
    g = p.add_argument_group("recipe overrides (any task)")
    g.add_argument("--channels", type=int, help="number of generators c")
    g.add_argument(
        "--coefficients", choices=["normal", "uniform", "integer", "gmm"], help="distribution γ"
    )
    g.add_argument(
        "--u",
        type=float,
        help="range u of the uniform or integer-grid γ (replaces the recipe's coefficient options)",
    )
    g.add_argument("--identity-weight", type=float, help="λ of the identity regulariser")
    g.add_argument("--channel-weight", type=float, help="η of the channel regulariser")
    g.add_argument("--lr-g", type=float, help="generator learning rate")
    g.add_argument("--lr-d", type=float, help="discriminator learning rate")
    g.add_argument("--batch-size", type=int)
    g.add_argument("--hidden", type=int, help="discriminator width")
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any LieGAN setting, VALUE as JSON (e.g. lr_decay=0.95, "
        "coefficient_options='{\"u\": 3}'); repeatable",
    )
    g = p.add_argument_group("data files")
    g.add_argument(
        "--rep-x", default="standard", choices=["standard", "affine", "image"], help="action on x"
    )
    g.add_argument("--rep-y", default="trivial", choices=["trivial", "standard"], help="on y")
    p.add_argument(
        "--data", help="toptag: your jet file (reference or converted layout) instead of Pythia 8"
    )
    p.set_defaults(func=cmd_discover)

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
    p.add_argument(
        "--tol", default="auto", help="'auto' or a relative singular-value cut >= 0 (default: auto)"
    )
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
    p.add_argument("--threshold", default="auto", help="'auto' or a relative cut >= 0")
    p.add_argument(
        "--noise",
        type=float,
        default=0.0,
        help="standard deviation σ >= 0 of Gaussian noise added to every entry (default: 0)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default: 0)")
    p.add_argument("--save", help="write the basis (dim_out·dim_in, r) to this .pt file")
    p.set_defaults(func=cmd_basis)

    from .datasets.qm9 import TARGETS
    from .training.experiments import PRESETS

    def preset_default(key: str) -> str:
        """``key``'s value in every task's presets, for the help: "toptag 10 | 35, ..."."""
        return "; ".join(
            f"{task} " + " | ".join(str(v[key]) for v in presets.values())
            for task, presets in PRESETS.items()
        )

    p = sub.add_parser(
        "train",
        help="train LieGNN / EMLP / baselines on top tagging, QM9 or N-body",
        description="Train a model with a known, discovered or no symmetry; writes checkpoints "
        "(resumable) and metrics.json to --out. Multi-process: torchrun --nproc_per_node=K "
        "$(which liegnn) train ... Options left out take the preset's value (given below as "
        "cpu | full).",
    )
    p.add_argument("task", choices=["toptag", "qm9", "nbody"])
    p.add_argument(
        "--symmetry",
        help="none, minkowski, euclidean, a known algebra such as 'so(1,3)' or 'se(3)', or "
        "discovered:PATH (a basis.pt of liegnn discover, a saved Symmetry, or a .npy/.npz/.pt/"
        ".safetensors basis) (default: minkowski for toptag, euclidean otherwise)",
    )
    p.add_argument(
        "--preset",
        choices=["cpu", "full"],
        default="cpu",
        help="cpu: minutes on a laptop; full: the published scale (default: %(default)s)",
    )
    p.add_argument("--augment", action="store_true", help="Eq. 11 data augmentation")
    p.add_argument("--out", help="output folder (default: runs/<task>-<symmetry>-seed<seed>)")
    p.add_argument("--seed", type=int, default=0, help="weights and training seed")
    p.add_argument("--data-seed", type=int, default=0, help="data generation and split seed")
    p.add_argument(
        "--device", default="cpu", help="cpu, cuda, cuda:K or auto (default: %(default)s)"
    )
    p.add_argument("--no-resume", action="store_true", help="start over even if --out has a run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--root", help="data cache folder")
    p.add_argument(
        "--epochs", type=int, help=f"passes over the training set ({preset_default('epochs')})"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        help=f"global batch, split over torchrun processes ({preset_default('batch_size')})",
    )
    p.add_argument("--lr", type=float, help=f"peak AdamW learning rate ({preset_default('lr')})")
    p.add_argument(
        "--weight-decay", type=float, help=f"AdamW weight decay ({preset_default('weight_decay')})"
    )
    p.add_argument(
        "--warmup-epochs",
        type=float,
        help="linear warm-up before the cosine decay, in epochs, may be fractional "
        f"({preset_default('warmup_epochs')})",
    )
    p.add_argument("--grad-clip", type=float, help="clip the gradient norm (default: no clip)")
    p.add_argument(
        "--hidden",
        type=int,
        help="width of the model: channels of LieGNN, EMLP, the baselines and the peers "
        f"({preset_default('hidden')})",
    )
    p.add_argument(
        "--n-layers",
        type=int,
        help="message-passing blocks or hidden layers; toptag's Deep Sets baseline keeps 3 "
        f"({preset_default('n_layers')})",
    )
    p.add_argument("--deterministic", action="store_true", help="deterministic CUDA kernels")
    g = p.add_argument_group("toptag")
    g.add_argument(
        "--data",
        help="folder with train/val/test.h5, an L-GATr-layout .npz (kinematics_/labels_ "
        "train/val/test) or one .h5 file (else: Pythia 8)",
    )
    g.add_argument("--n-jets", type=int, help="jets to generate (cpu preset: 2000)")
    g.add_argument(
        "--n-train",
        type=int,
        help="train on the first N training jets only; validation and test jets unchanged "
        "(learning curves)",
    )
    g.add_argument("--max-constituents", type=int, help="leading constituents kept per jet")
    g.add_argument(
        "--augment-scale",
        type=float,
        help="--augment draws coefficients from U[-s, s] (default: 0.5)",
    )
    g.add_argument(
        "--metric",
        metavar="PATH",
        help="train LieGNN with this metric J, used exactly as saved (never rescaled): a (4, 4) "
        "tensor in a .pt/.safetensors/.npy/.npz file (one array, or one named 'metric'), read "
        "safely; instead of --symmetry",
    )
    g.add_argument(
        "--flip-metric-sign",
        action="store_true",
        help="use -J of --metric (the LieGAN paper's saved metric has the opposite sign)",
    )
    g.add_argument(
        "--learnable-metric",
        action="store_true",
        help="learn J from its start value; metrics.json reports the final and best J",
    )
    g.add_argument(
        "--node-scalars",
        choices=["eta", "model"],
        help="node scalars psi(m): eta = Minkowski mass for every model (the reference, "
        "default) or model = m from the model's own J",
    )
    g = p.add_argument_group("qm9")
    g.add_argument(
        "--target",
        choices=TARGETS,
        metavar="TARGET",
        help="the property to regress, one of " + ", ".join(TARGETS) + " (default: homo)",
    )
    g.add_argument("--source", help="qm9pack or a torch_geometric QM9 root")
    g.add_argument("--subset", type=int, help="use this many molecules")
    g.add_argument(
        "--affine", action="store_true", help="augment by se(3) on affine coordinates (--augment)"
    )
    g = p.add_argument_group("toptag, qm9 and nbody")
    g.add_argument(
        "--model",
        choices=sorted({m for models in _MODELS.values() for m in models}),
        help="toptag: auto (by the symmetry: LorentzNet, EGNN, LieGNN(J), Deep Sets), liegnn, "
        "or a peer from the [peers] extra: pelican, lgatr, lloca; "
        "qm9: auto (LieGNN, or Deep Sets with --symmetry none or --augment), e3nn (E(3) "
        "gate network, with euclidean), schnet (PyG's SchNet, with euclidean) or mpnn "
        "(non-equivariant message passing, with none or --augment); "
        "nbody: auto (EMLP with a symmetry, else MLP), emlp or mlp "
        "(default: auto)",
    )
    g = p.add_argument_group("nbody")
    g.add_argument("--n-trajectories", type=int, help="orbits to simulate")
    g.add_argument("--threshold", help="EMLP's cut: 'auto' or a number >= 0")
    p.set_defaults(func=cmd_train)
    return parser


@contextlib.contextmanager
def _library_messages():
    """The library logs through ``logging.getLogger("liegnn")``; while a command runs, its INFO
    messages (resume notes, epoch lines) go to stderr. The handler is removed afterwards, so a
    program that calls :func:`main` keeps its own logging setup."""
    import logging

    log = logging.getLogger("liegnn")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = log.level
    log.addHandler(handler)
    if level == logging.NOTSET:
        log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    with _library_messages():
        return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
