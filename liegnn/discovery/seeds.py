"""Several seeds of one discovery, side by side in worker processes.

A GAN run can end in a trivial or partial solution (g = I; 4π/21 instead of 2π/7 on C₇), so a
robust discovery trains a few seeds and keeps the one :func:`~liegnn.discovery.select_best`
picks. The small models of a discovery use one core well and two barely better, so on a
machine with k cores, k seeds in k one-thread processes take about the time of one.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from .lie_gan import LieGAN
from .result import DiscoveryResult

__all__ = ["fit_seeds"]


def _fit_one(method, options: dict, seed: int, x, y, fit: dict, threads: int) -> DiscoveryResult:
    if threads:
        torch.set_num_threads(threads)
    return method(**options, seed=seed).fit(x, y, **fit)


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _die_with(parent: int) -> None:
    """Worker initialiser: end this worker when ``parent`` (the process that called
    :func:`fit_seeds`) dies, even by SIGKILL; a worker left running would hold a core and the
    output folder for the rest of its run.

    On Linux the kernel sends SIGKILL on the parent's death (``prctl(PR_SET_PDEATHSIG)``); on
    every POSIX system a daemon thread also checks twice a second that the worker has not been
    handed to another parent (on Windows neither applies).
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.name != "posix":
        return
    if os.getppid() != parent:  # the parent died before the request above
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="liegnn-parent-watch", daemon=True).start()


def _per_seed(path, seed: int):
    if path is None:
        return None
    path = Path(path)
    return path.with_name(f"{path.stem}-seed{seed}{path.suffix}")


def fit_seeds(
    x,
    y=None,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    options: dict | None = None,
    method=LieGAN,
    workers: int = 1,
    progress: bool = True,
    **fit,
) -> list[DiscoveryResult]:
    """Fit ``method(**options, seed=s)`` for every seed s; returns the results in seed order.

    Args:
        x, y: the data, as for ``LieGAN.fit``.
        seeds: one run per seed.
        options: constructor arguments of ``method`` (``n``, ``n_channels``, recipe, ...).
        method: :class:`LieGAN` or a baseline with the same interface.
        workers: processes running seeds at once (1: in this process, one after the other);
            each worker uses ``torch.get_num_threads() // workers`` threads (at least one).
            Workers are forked on Linux for CPU runs; with ``device="cuda"`` (or on macOS and
            Windows) they are spawned, and a script must then call ``fit_seeds`` under
            ``if __name__ == "__main__":``. Workers end when this process dies, even by SIGKILL.
        progress: a progress bar over the seeds (per-run bars only with ``workers=1``).
        fit: further ``fit`` arguments (``epochs``, ``truth``, ...). ``checkpoint`` and
            ``resume`` paths get a ``-seed<s>`` suffix, so every run resumes on its own.

    Example: ``select_best(fit_seeds(x, y, seeds=range(4), options=recipe, workers=2))``.
    """
    options = dict(options or {})
    if "seed" in options:
        raise ValueError("pass the seeds with seeds=..., not options['seed']")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("fit_seeds needs at least one seed")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    # build one instance first: bad settings fail here, before any process starts
    method(**options, seed=seeds[0])
    per_run = []
    for s in seeds:
        f = dict(fit)
        for key in ("checkpoint", "resume"):
            if f.get(key) is not None:
                f[key] = _per_seed(f[key], s)
                if key == "resume" and not f[key].exists():
                    f[key] = None  # this seed had not started: begin it afresh
        per_run.append(f)

    from tqdm.auto import tqdm

    if workers == 1 or len(seeds) == 1:
        out = []
        for s, f in zip(tqdm(seeds, desc="seeds", disable=not progress), per_run, strict=True):
            f.setdefault("progress", progress)
            out.append(_fit_one(method, options, s, x, y, f, 0))
        return out

    if fit.get("callback") is not None:
        raise ValueError("a callback cannot be sent to worker processes; use workers=1")
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, torch.get_num_threads() // workers)
    x, y = _cpu(x), _cpu(y)
    # fork (Linux, CPU): fast, and no ``if __name__ == "__main__"`` guard needed in scripts;
    # CUDA cannot be used in a forked child, so GPU runs spawn fresh interpreters
    on_cuda = str(options.get("device", "cpu")).startswith("cuda")
    fork = "fork" in mp.get_all_start_methods() and not on_cuda
    ctx = mp.get_context("fork" if fork else "spawn")
    with ProcessPoolExecutor(
        max_workers=min(workers, len(seeds)),
        mp_context=ctx,
        initializer=_die_with,
        initargs=(os.getpid(),),
    ) as pool:
        futures = [
            pool.submit(_fit_one, method, options, s, x, y, {**f, "progress": False}, threads)
            for s, f in zip(seeds, per_run, strict=True)
        ]
        bar = tqdm(total=len(seeds), desc="seeds", disable=not progress)
        out = []
        for fut in futures:
            out.append(fut.result())
            bar.update(1)
        bar.close()
    return out


def _cpu(t):
    """Tensors cross process boundaries on the CPU (a worker moves them to its device)."""
    return t.detach().cpu() if isinstance(t, torch.Tensor) else t
